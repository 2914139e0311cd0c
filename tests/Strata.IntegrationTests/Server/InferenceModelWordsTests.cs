using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Strata.Security;
using Strata.Stores;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// On <c>/v2</c> the path's model is a Strata endpoint, so every error calls it a model (<c>no model 'x'</c>), what it
/// serves its versions (by number, not the registry model behind them), and a type by the protocol's datatype (FP32);
/// the native API keeps its own words (<c>no endpoint 'x'</c>, <c>has no model ready</c>, float32).
/// </summary>
public sealed class InferenceModelWordsTests(ServingServerFixture fixture) : IClassFixture<ServingServerFixture>
{
    private ServingServer Server => fixture.Server;

    [Theory]
    [InlineData("GET", "/v2/models/words-none")]
    [InlineData("GET", "/v2/models/words-none/ready")]
    [InlineData("GET", "/v2/models/words-none/versions/1")]
    [InlineData("GET", "/v2/models/words-none/versions/1/ready")]
    [InlineData("POST", "/v2/models/words-none/infer")]
    [InlineData("POST", "/v2/models/words-n%6Fne/infer")] // an escaped path goes the general pipeline's way
    [InlineData("POST", "/v2/models/words-none/versions/1/infer")]
    [InlineData("POST", "/v2/models/words-n%6Fne/versions/1/infer")]
    [InlineData("POST", "/v2/repository/models/words-none/load")]
    [InlineData("POST", "/v2/repository/models/words-none/unload")]
    public async Task An_unknown_model_is_a_404_naming_a_model(string method, string path)
    {
        using var http = Server.Http("root");

        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? Json("{}") : null };

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("no model 'words-none'", await ErrorAsync(response));
    }

    [Fact]
    public async Task The_native_api_still_names_an_unknown_endpoint()
    {
        var (header, rows) = ServingServer.Sample(1);
        using var http = Server.Http("root");

        using var predict = await http.PostAsync("/v1/endpoints/words-none/predict", ServingTests.Body(header, rows));
        using var get = await http.GetAsync("/v1/endpoints/words-none");

        Assert.Equal(HttpStatusCode.NotFound, predict.StatusCode);
        Assert.Equal("no endpoint 'words-none'", await DetailAsync(predict));
        Assert.Equal("no endpoint 'words-none'", await DetailAsync(get));
    }

    [Theory]
    [InlineData("/v2/models/words-versions/versions/9/infer")]
    [InlineData("/v2/models/words-v%65rsions/versions/9/infer")]
    public async Task A_version_the_model_does_not_serve_is_a_404_naming_the_model(string path)
    {
        await Server.DeployAsync("words-versions", new { project = "flights", model = "delay/1" });
        using var http = Server.Http();

        using var infer = await http.PostAsync(path, Inputs());
        using var metadata = await http.GetAsync("/v2/models/words-versions/versions/9");

        Assert.Equal(HttpStatusCode.NotFound, infer.StatusCode);
        Assert.Equal("model 'words-versions' does not serve version 9", await ErrorAsync(infer));
        Assert.Equal(HttpStatusCode.NotFound, metadata.StatusCode);
        Assert.Equal("model 'words-versions' does not serve version 9", await ErrorAsync(metadata));
    }

    [Fact]
    public async Task An_unloaded_model_has_no_version_ready_on_v2_and_an_unloaded_endpoint_no_model_ready_on_v1()
    {
        await Server.DeployAsync("words-unloaded", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        using var deployer = Server.Http("deployer");
        using var http = Server.Http();
        Assert.Equal(HttpStatusCode.OK, (await deployer.PostAsync("/v2/repository/models/words-unloaded/unload", null)).StatusCode);

        using var infer = await http.PostAsync("/v2/models/words-unloaded/infer", Inputs());
        using var escaped = await http.PostAsync("/v2/models/words-unl%6Faded/infer", Inputs());
        using var metadata = await http.GetAsync("/v2/models/words-unloaded");
        using var native = await http.PostAsync("/v1/endpoints/words-unloaded/predict", ServingTests.Body(header, rows));

        foreach (var response in new[] { infer, escaped, metadata })
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("model 'words-unloaded' has no version ready: unloaded", await ErrorAsync(response));
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, native.StatusCode);
        Assert.Equal("endpoint 'words-unloaded' has no model ready: unloaded", await DetailAsync(native));
    }

    [Fact]
    public async Task A_key_limited_to_other_models_is_refused_naming_the_model_on_v2_and_the_endpoint_on_v1()
    {
        await Server.DeployAsync("words-limited", new { project = "flights", model = "delay/1" });
        await Server.DeployAsync("words-allowed", new { project = "flights", model = "delay/1" });
        var key = await Server.Registry.CreateKeyAsync(Caller.Local, "flights", "words-bot", Role.Viewer, null);
        using (var root = Server.Http("root"))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await root.PutAsJsonAsync($"/v1/keys/{key.Key.Id}/endpoints", new { endpoints = new[] { "words-allowed" } })).StatusCode);
        }

        var (header, rows) = ServingServer.Sample(1);
        using var http = Server.Http(key: null);
        http.DefaultRequestHeaders.Authorization = new("Bearer", key.Token);

        using var infer = await http.PostAsync("/v2/models/words-limited/infer", Inputs());
        using var metadata = await http.GetAsync("/v2/models/words-limited");
        using var native = await http.PostAsync("/v1/endpoints/words-limited/predict", ServingTests.Body(header, rows));

        foreach (var response in new[] { infer, metadata })
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("this key may not call model 'words-limited' (it is limited to other models)", await ErrorAsync(response));
        }

        Assert.Equal(HttpStatusCode.Forbidden, native.StatusCode);
        Assert.Equal("this key may not call endpoint 'words-limited' (it is limited to other endpoints)", await DetailAsync(native));
    }

    [Fact]
    public async Task A_full_queue_a_timeout_and_a_rate_limit_refuse_naming_the_model_on_v2()
    {
        await Server.DeployAsync("words-queue", new { project = "flights", model = "delay/1", limits = new { max_concurrency = 1, max_queue = 0 } });
        await Server.DeployAsync("words-time", new { project = "flights", model = "delay/1", limits = new { max_concurrency = 1, max_queue = 4, timeout_ms = 50 } });
        await Server.DeployAsync("words-rate", new { project = "flights", model = "delay/1", limits = new { rate_per_second = 0.01, burst = 1 } });
        using var http = Server.Http();

        // Holds each endpoint's one slot, as a slow request would.
        using (await Server.Serving.RuntimeOf("words-queue").Admission.EnterAsync(CancellationToken.None))
        {
            using var refused = await http.PostAsync("/v2/models/words-queue/infer", Inputs());
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal(
                "model 'words-queue' is at its limit of requests in progress and waiting (limits.max_concurrency 1, limits.max_queue 0); retry shortly",
                await ErrorAsync(refused));
        }

        using (await Server.Serving.RuntimeOf("words-time").Admission.EnterAsync(CancellationToken.None))
        {
            using var late = await http.PostAsync("/v2/models/words-time/infer", Inputs());
            Assert.Equal(HttpStatusCode.GatewayTimeout, late.StatusCode);
            Assert.Equal("model 'words-time' did not answer within its limit of 50 ms", await ErrorAsync(late));
        }

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v2/models/words-rate/infer", Inputs())).StatusCode);
        using var limited = await http.PostAsync("/v2/models/words-rate/infer", Inputs());
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.StartsWith("this key is over its rate limit on model 'words-rate' (limits.rate_per_second 0.01, burst 1); retry in ", await ErrorAsync(limited), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v2/models/words-range/infer")]
    [InlineData("/v2/models/w%6Frds-range/infer")]
    public async Task A_number_beyond_float32_is_told_by_the_protocols_datatype_on_v2_and_as_float32_on_v1(string path)
    {
        await Server.DeployAsync("words-range", new { project = "flights", model = "delay/1" });
        using var http = Server.Http();

        using var infer = await http.PostAsync(path, Inputs(distance: 1e300));
        using var native = await http.PostAsync("/v1/endpoints/words-range/predict", Json("""{"rows": [{"distance": 1e39}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, infer.StatusCode);
        Assert.Equal(
            "the request does not fit model 'words-range' version 1: input tensor 'distance': element 0 is 1E+300, beyond the model's features (FP32, at most ±3.4028235E+38)",
            await ErrorAsync(infer));
        Assert.Equal(HttpStatusCode.BadRequest, native.StatusCode);
        Assert.Contains(
            "field 'distance' is 1E+39 in row 0, beyond the model's features (float32, at most ±3.4028235E+38)",
            (await ServingServer.JsonAsync(native)).GetProperty("errors").EnumerateArray().Select(e => e.GetString()));
    }

    /// <summary>A one-element tensor of each of the flights model's inputs (distance as given, when it is).</summary>
    private static StringContent Inputs(double? distance = null)
    {
        var (header, rows) = ServingServer.Sample(1);
        var inputs = Enumerable.Range(0, 11).Select(f => new
        {
            name = header[f],
            shape = new[] { 1 },
            datatype = "FP64",
            data = new[] { header[f] == "distance" && distance is { } d ? d : double.IsNaN(rows[0][f]) ? 0 : rows[0][f] },
        });
        return Json(JsonSerializer.Serialize(new { inputs }));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>The protocol's error text, after checking the answer is its error object and nothing else.</summary>
    private static async Task<string> ErrorAsync(HttpResponseMessage response)
    {
        var json = await ServingServer.JsonAsync(response);
        Assert.Equal(["error"], json.EnumerateObject().Select(p => p.Name));
        return json.GetProperty("error").GetString()!;
    }

    private static async Task<string> DetailAsync(HttpResponseMessage response) => (await ServingServer.JsonAsync(response)).GetProperty("detail").GetString()!;
}
