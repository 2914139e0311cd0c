using System.Net;
using System.Text;
using System.Text.Json;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The Open Inference Protocol (KServe "Predict Protocol - Version 2") REST surface: every response has exactly the
/// fields the specification lists, with its datatypes and shapes, and errors are <c>{"error": "…"}</c>.
/// </summary>
public sealed class InferenceProtocolTests(ServingServerFixture fixture) : IClassFixture<ServingServerFixture>
{
    private ServingServer Server => fixture.Server;

    [Fact]
    public async Task Server_metadata_and_health_have_the_specified_shapes()
    {
        using var anonymous = Server.Http(key: null);
        var live = await ServingServer.JsonAsync(await anonymous.GetAsync("/v2/health/live"));
        Assert.Equal(["live"], Keys(live));
        Assert.True(live.GetProperty("live").GetBoolean());
        using var ready = await anonymous.GetAsync("/v2/health/ready");
        Assert.Equal(["ready"], Keys(await ServingServer.JsonAsync(ready)));
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v2")).StatusCode);

        using var http = Server.Http();
        var metadata = await ServingServer.JsonAsync(await http.GetAsync("/v2"));
        Assert.Equal(["extensions", "name", "version"], Keys(metadata));
        Assert.Equal("strata", metadata.GetProperty("name").GetString());
        Assert.Contains("model_repository", metadata.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Model_metadata_and_readiness_have_the_specified_shapes()
    {
        await Server.DeployAsync("oip-meta", new { project = "flights", model = "delay/1", challenger = "delay/2", challenger_weight = 0.5 });
        using var http = Server.Http();

        var metadata = await ServingServer.JsonAsync(await http.GetAsync("/v2/models/oip-meta"));

        Assert.Equal(["inputs", "name", "outputs", "platform", "versions"], Keys(metadata));
        Assert.Equal(["1", "2"], metadata.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        var input = metadata.GetProperty("inputs")[0];
        Assert.Equal(["datatype", "name", "shape"], Keys(input));
        Assert.Equal("distance", input.GetProperty("name").GetString());
        Assert.Equal("FP32", input.GetProperty("datatype").GetString());
        Assert.Equal([-1], input.GetProperty("shape").EnumerateArray().Select(s => s.GetInt32()));
        Assert.Equal(["probability", "label"], metadata.GetProperty("outputs").EnumerateArray().Select(o => o.GetProperty("name").GetString()));
        Assert.Equal(["FP64", "BYTES"], metadata.GetProperty("outputs").EnumerateArray().Select(o => o.GetProperty("datatype").GetString()));

        var ready = await ServingServer.JsonAsync(await http.GetAsync("/v2/models/oip-meta/versions/2/ready"));
        Assert.Equal(["name", "ready"], Keys(ready));
        Assert.True(ready.GetProperty("ready").GetBoolean());
        using var notServed = await http.GetAsync("/v2/models/oip-meta/versions/9/ready");
        Assert.Equal(HttpStatusCode.BadRequest, notServed.StatusCode);
        using var unknown = await http.GetAsync("/v2/models/no-such-model");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(["error"], Keys(await ServingServer.JsonAsync(unknown)));
    }

    [Fact]
    public async Task Infer_takes_one_tensor_per_input_and_answers_with_the_specified_shapes()
    {
        await Server.DeployAsync("oip-infer", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(3);
        var inputs = Enumerable.Range(0, 11).Select(f => new
        {
            name = header[f],
            shape = new[] { 3 },
            datatype = "FP32",
            data = rows.Select(r => double.IsNaN(r[f]) ? 0 : r[f]).ToArray(),
        });
        using var http = Server.Http();

        using var response = await http.PostAsync("/v2/models/oip-infer/infer", Json(new { id = "req-7", inputs }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await ServingServer.JsonAsync(response);
        Assert.Equal(["id", "model_name", "model_version", "outputs"], Keys(json));
        Assert.Equal("req-7", json.GetProperty("id").GetString());
        Assert.Equal("oip-infer", json.GetProperty("model_name").GetString());
        Assert.Equal("1", json.GetProperty("model_version").GetString());
        var probability = json.GetProperty("outputs")[0];
        Assert.Equal(["data", "datatype", "name", "shape"], Keys(probability));
        Assert.Equal("probability", probability.GetProperty("name").GetString());
        Assert.Equal("FP64", probability.GetProperty("datatype").GetString());
        Assert.Equal([3], probability.GetProperty("shape").EnumerateArray().Select(s => s.GetInt32()));
        Assert.Equal(3, probability.GetProperty("data").GetArrayLength());
        Assert.Equal("BYTES", json.GetProperty("outputs")[1].GetProperty("datatype").GetString());
    }

    [Fact]
    public async Task Infer_takes_one_row_major_tensor_of_every_input_and_filters_outputs()
    {
        await Server.DeployAsync("oip-matrix", new { project = "flights", model = "delay/1" });
        var (_, rows) = ServingServer.Sample(2);
        var nested = rows.Select(r => r.Take(11).Select(v => double.IsNaN(v) ? 0 : v).ToArray()).ToArray();
        using var http = Server.Http();

        using var response = await http.PostAsync("/v2/models/oip-matrix/versions/1/infer", Json(new
        {
            inputs = new[] { new { name = "input-0", shape = new[] { 2, 11 }, datatype = "FP64", data = nested } },
            outputs = new[] { new { name = "label" } },
        }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var outputs = (await ServingServer.JsonAsync(response)).GetProperty("outputs");
        Assert.Equal(1, outputs.GetArrayLength());
        Assert.Equal("label", outputs[0].GetProperty("name").GetString());
        Assert.Equal([2], outputs[0].GetProperty("shape").EnumerateArray().Select(s => s.GetInt32()));
    }

    [Theory]
    [InlineData("""{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1]}]}""", "holds 2 values")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "FP128", "data": [1]}]}""", "unknown datatype")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "INT8", "data": [300]}]}""", "input tensor 'x': data[0] is 300, beyond INT8's range (-128 to 127)")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": [1]}]}""", "data[0] is a number (1), not text (BYTES)")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1e39]}]}""", "data[0] is 1e39, beyond FP32's range (±3.4E+38)")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [2], "datatype": "FP16", "data": [1, -70000]}]}""", "data[1] is -70000, beyond FP16's range (±65504)")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "FP16", "data": [65519]}]}""", "data[0] is 65519, beyond FP16's range (±65504)")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [1.5]}]}""", "data[0] is 1.5, not a whole number (INT64)")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [-9223372036854775809]}]}""", "data[0] is -9223372036854775809, beyond INT64's range (-9223372036854775808 to 9223372036854775807)")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [-9223372036854775809.0]}]}""", "data[0] is -9223372036854775809.0, beyond INT64's range")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}]}""", "data[0] is a number (1), not true or false (BOOL)")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": ["1"]}]}""", "data[0] is text, not a number (INT32)")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP64", "data": [1e300]}]}""", "input tensor 'distance': element 0 is 1E+300, beyond the model's features (FP32, at most ±3.4028235E+38)")]
    [InlineData("""{"inputs": []}""", "non-empty array")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [2,2], "datatype": "FP32", "data": [[1,2,3],[4]]}]}""", "input tensor 'x': data[0] holds 3 items, but shape [2,2] needs 2 there")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [2,2], "datatype": "FP32", "data": [[1,2],3]}]}""", "input tensor 'x': data[1] is a number, but shape [2,2] needs an array of 2 there")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [1,2], "datatype": "FP32", "data": [[1,[2]]]}]}""", "input tensor 'x': data[0][1] is an array, but shape [1,2] has 2 dimensions")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [3,2], "datatype": "FP32", "data": [[1,2],[3,4]]}]}""", "input tensor 'x': data holds 2 items, but shape [3,2] needs 3 there")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "data": [1]}]}""", "missing input tensor 'dep_hour' (FP32; the model needs it)")]
    [InlineData("""{"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}]}""", "whole number")]
    [InlineData("""not json""", "")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "data": [1], "data": [2]}]}""", "field 'inputs[0].data' appears more than once")]
    public async Task Bad_inference_requests_get_400_with_an_error_object(string body, string message)
    {
        await Server.DeployAsync("oip-errors", new { project = "flights", model = "delay/1" });
        using var http = Server.Http();

        using var response = await http.PostAsync("/v2/models/oip-errors/infer", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = await ServingServer.JsonAsync(response);
        Assert.Equal(["error"], Keys(json));
        Assert.Contains(message, json.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Errors_the_pipeline_answers_before_the_handler_are_error_objects_too()
    {
        await Server.DeployAsync("oip-edge", new { project = "flights", model = "delay/1" });
        using var anonymous = Server.Http(key: null);
        using var http = Server.Http();
        var oversized = new StringContent(new string(' ', (int)ServingServer.MaxBody + 10), Encoding.UTF8, "application/json");

        (HttpResponseMessage Response, HttpStatusCode Status, string Message)[] cases =
        [
            (await anonymous.PostAsync("/v2/models/oip-edge/infer", new StringContent("{}", Encoding.UTF8, "application/json")), HttpStatusCode.Unauthorized, "key"),
            (await anonymous.GetAsync("/v2/models/oip-edge"), HttpStatusCode.Unauthorized, "key"),
            (await http.GetAsync("/v2/models/oip-edge/infer"), HttpStatusCode.MethodNotAllowed, "this route does not take GET"),
            (await http.PostAsync("/v2/models/oip-edge/infer?verbose=1", new StringContent("{}", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, "verbose"),
            (await http.PostAsync("/v2/models/oip-edge/infer", oversized), HttpStatusCode.RequestEntityTooLarge, "accepts at most"),
            (await http.GetAsync("/v2/no-such-route"), HttpStatusCode.NotFound, "no route answers this path"),
            (await http.PostAsync("/v2/models/oip-edge/versions/01/infer", new StringContent("{}", Encoding.UTF8, "application/json")), HttpStatusCode.NotFound, "no version '01'"),
            (await anonymous.PostAsync("/V2/models/oip-edge/infer", new StringContent("{}", Encoding.UTF8, "application/json")), HttpStatusCode.Unauthorized, "key"),
        ];

        foreach (var (response, status, message) in cases)
        {
            using (response)
            {
                Assert.Equal(status, response.StatusCode);
                Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
                var json = await ServingServer.JsonAsync(response);
                Assert.Equal(["error"], Keys(json));
                Assert.Contains(message, json.GetProperty("error").GetString(), StringComparison.Ordinal);
            }
        }

        // The native API keeps problem+json.
        using var native = await anonymous.PostAsync("/v1/endpoints/oip-edge/predict", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal("application/problem+json", native.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_repeated_field_whose_name_is_not_utf8_is_a_400()
    {
        await Server.DeployAsync("oip-bytes", new { project = "flights", model = "delay/1" });
        using var http = Server.Http();
        byte[] body = [.. "{\"inputs\":[],\"a"u8, 0xB0, .. "\":1,\"a"u8, 0xB0, .. "\":2}"u8];

        using var response = await http.PostAsync("/v2/models/oip-bytes/infer", new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(["error"], Keys(await ServingServer.JsonAsync(response)));
    }

    [Fact]
    public async Task An_output_the_model_does_not_have_is_refused_before_anything_is_predicted()
    {
        await Server.DeployAsync("oip-no-output", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        var inputs = Enumerable.Range(0, 11).Select(f => new { name = header[f], shape = new[] { 1 }, datatype = "FP64", data = new[] { double.IsNaN(rows[0][f]) ? 0 : rows[0][f] } });
        using var http = Server.Http();

        using var response = await http.PostAsync("/v2/models/oip-no-output/infer", Json(new { inputs, outputs = new[] { new { name = "score" } } }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("the model has no output 'score' (it has probability, label)", (await ServingServer.JsonAsync(response)).GetProperty("error").GetString());
        // Nothing was predicted for it: the endpoint counts a request refused before any model version answered.
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("strata_serving_requests_total{endpoint=\"oip-no-output\",version=\"none\",status=\"400\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("strata_serving_requests_total{endpoint=\"oip-no-output\",version=\"1\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_challenger_that_is_another_model_with_the_champions_version_number_answers_with_its_own_outputs()
    {
        // A regression model on the flights inputs, version 1 like the champion: every request goes to it (weight 1).
        var (header, rows) = ServingServer.Sample(1);
        await Server.RegisterOtherModelAsync(
            "delay-minutes", new Strata.Learning.Gbdt.GbdtLearner(new Strata.Learning.Gbdt.GbdtOptions { NumBoostRound = 3 }), Strata.Learning.LearningTask.Regression);

        await Server.DeployAsync("oip-mixed", new { project = "flights", model = "delay/1", challenger = "delay-minutes/1", challenger_weight = 1.0 });
        var inputs = Enumerable.Range(0, 11).Select(f => new { name = header[f], shape = new[] { 1 }, datatype = "FP64", data = new[] { double.IsNaN(rows[0][f]) ? 0 : rows[0][f] } });
        using var http = Server.Http();

        using var answered = await http.PostAsync("/v2/models/oip-mixed/infer", Json(new { inputs }));
        using var label = await http.PostAsync("/v2/models/oip-mixed/infer", Json(new { inputs, outputs = new[] { new { name = "label" } } }));
        var metadata = await ServingServer.JsonAsync(await http.GetAsync("/v2/models/oip-mixed"));

        // The challenger's own output, not the champion's written from a regression's answer (a 500).
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        var output = Assert.Single((await ServingServer.JsonAsync(answered)).GetProperty("outputs").EnumerateArray());
        Assert.Equal(("prediction", "FP64"), (output.GetProperty("name").GetString(), output.GetProperty("datatype").GetString()));
        // An output one of the models lacks is refused before anything is predicted, whichever model the split picks.
        Assert.Equal(HttpStatusCode.BadRequest, label.StatusCode);
        Assert.Equal("the model has no output 'label' (its versions have no output in common)", (await ServingServer.JsonAsync(label)).GetProperty("error").GetString());
        // One version number, listed once; no output every model gives.
        Assert.Equal(["1"], metadata.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(0, metadata.GetProperty("outputs").GetArrayLength());
    }

    [Fact]
    public async Task The_repository_extension_lists_unloads_and_loads_models()
    {
        await Server.DeployAsync("oip-repo", new { project = "flights", model = "delay/1" });
        using var deployer = Server.Http("deployer");
        using var viewer = Server.Http();

        var index = await ServingServer.JsonAsync(await viewer.PostAsync("/v2/repository/index", Json(new { })));
        var entry = index.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "oip-repo");
        Assert.Equal(["name", "reason", "state", "version"], Keys(entry));
        Assert.Equal("READY", entry.GetProperty("state").GetString());

        // The body is optional, as on Triton (curl -X POST sends none, not even a Content-Length).
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(Server.Address.Host, Server.Address.Port);
            await using var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /v2/repository/index HTTP/1.1\r\nHost: {Server.Address.Authority}\r\nAuthorization: {viewer.DefaultRequestHeaders.Authorization}\r\nConnection: close\r\n\r\n"));
            var bare = await new StreamReader(stream, Encoding.UTF8).ReadToEndAsync();
            Assert.StartsWith("HTTP/1.1 200", bare, StringComparison.Ordinal);
            Assert.Contains("\"oip-repo\"", bare, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/v2/repository/models/oip-repo/unload", null)).StatusCode);

        // Triton's client sends unload_dependents with every unload; a parameter that cannot be met is refused, not ignored.
        using var bogus = await deployer.PostAsync("/v2/repository/models/oip-repo/unload", Json(new { parameters = new { unload_everything = true } }));
        Assert.Equal(HttpStatusCode.BadRequest, bogus.StatusCode);
        Assert.Equal("unknown parameter 'unload_everything' (unload takes unload_dependents)", (await ServingServer.JsonAsync(bogus)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/v2/models/oip-repo/ready")).StatusCode); // still loaded
        Assert.Equal(HttpStatusCode.OK, (await deployer.PostAsync("/v2/repository/models/oip-repo/unload", Json(new { parameters = new { unload_dependents = false } }))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await viewer.GetAsync("/v2/models/oip-repo/ready")).StatusCode);
        using var refused = await viewer.PostAsync("/v2/models/oip-repo/infer", Json(new { inputs = new[] { new { name = "distance", shape = new[] { 1 }, datatype = "FP32", data = new[] { 1.0 } } } }));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);

        using var config = await deployer.PostAsync("/v2/repository/models/oip-repo/load", Json(new { parameters = new { config = "{\"max_batch_size\": 8}" } }));
        Assert.Equal(HttpStatusCode.BadRequest, config.StatusCode);
        Assert.Equal(
            "parameter 'config' cannot be applied: the model is a Strata endpoint, which loads its stored deployment (change it with PUT /v1/endpoints/{name})",
            (await ServingServer.JsonAsync(config)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, (await deployer.PostAsync("/v2/repository/models/oip-repo/load", Json(new { }))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/v2/models/oip-repo/ready")).StatusCode);
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private static List<string> Keys(JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];
}
