using System.Net;
using System.Net.Http.Json;
using System.Text;
using Strata.Serving;
using Xunit.Abstractions;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// How an endpoint protects itself: body size (413), rows per request (413), JSON depth (400), per-key rate (429 with
/// Retry-After), a full queue (503 with Retry-After); and a fuzz run that sees no 5xx and a live server after it.
/// </summary>
public sealed class ServingLimitsTests(ServingServerFixture fixture, ITestOutputHelper output) : IClassFixture<ServingServerFixture>
{
    private ServingServer Server => fixture.Server;

    [Fact]
    public async Task A_body_over_the_limit_gets_413()
    {
        await Server.DeployAsync("limit-body", new { project = "flights", model = "delay/1" });
        using var http = Server.Http();
        var body = "{\"rows\":[" + string.Join(',', Enumerable.Repeat("{\"distance\":1}", (int)(ServingServer.MaxBody / 14) + 10)) + "]}";

        using var response = await http.PostAsync("/v1/endpoints/limit-body/predict", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Too_many_rows_get_413_and_deep_json_gets_400()
    {
        await Server.DeployAsync("limit-rows", new { project = "flights", model = "delay/1", limits = new { max_rows = 5 } });
        using var http = Server.Http();
        var (header, rows) = ServingServer.Sample(6);

        using var many = await http.PostAsync("/v1/endpoints/limit-rows/predict", ServingTests.Body(header, rows));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, many.StatusCode);
        Assert.Contains("at most 5", await many.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var deep = "{\"rows\":[{\"distance\":" + new string('[', 50) + new string(']', 50) + "}]}";
        using var nested = await http.PostAsync("/v1/endpoints/limit-rows/predict", new StringContent(deep, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, nested.StatusCode);
    }

    [Fact]
    public async Task A_key_over_its_rate_gets_429_with_retry_after()
    {
        await Server.DeployAsync("limit-rate", new { project = "flights", model = "delay/1", limits = new { rate_per_second = 0.01, burst = 2 } });
        using var http = Server.Http();
        var (header, rows) = ServingServer.Sample(1);

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 3; i++)
        {
            var response = await http.PostAsync("/v1/endpoints/limit-rate/predict", ServingTests.Body(header, rows));
            statuses.Add(response.StatusCode);
            limited = response;
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.True(limited!.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        var problem = await ServingServer.JsonAsync(limited);
        Assert.Equal("https://tools.ietf.org/html/rfc6585#section-4", problem.GetProperty("type").GetString());
        Assert.StartsWith("this key is over its rate limit on endpoint 'limit-rate' (limits.rate_per_second 0.01, burst 2); retry in ", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var otherKey = Server.Http("deployer");
        Assert.Equal(HttpStatusCode.OK, (await otherKey.PostAsync("/v1/endpoints/limit-rate/predict", ServingTests.Body(header, rows))).StatusCode);
    }

    [Fact]
    public async Task A_burst_below_one_request_is_refused_and_a_stored_one_holds_one_request()
    {
        using var http = Server.Http("root");
        using var refused = await http.PutAsync("/v1/endpoints/limit-half", JsonContent.Create(new { project = "flights", model = "delay/1", limits = new { rate_per_second = 10, burst = 0.5 } }));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(
            "field 'limits.burst' is 0.5: a request takes a whole token, so it must be 0 (the rate's size) or at least 1",
            (await ServingServer.JsonAsync(refused)).GetProperty("detail").GetString());

        // Stored before this check (read as written): its bucket holds one request, so a fresh key is answered.
        var limiter = new RateLimiter(rate: 10, burst: 0.5, TimeProvider.System);
        Assert.True(limiter.TryTake("fresh", out _));
        Assert.Equal(1, limiter.Burst);
    }

    [Fact]
    public async Task Explain_on_an_endpoint_that_may_answer_with_a_model_without_trees_is_refused_naming_it()
    {
        // A logistic model on the flights inputs as the challenger, at weight 0.01: refused whichever side a request reaches.
        var (header, rows) = ServingServer.Sample(1);
        await Server.RegisterOtherModelAsync("delay-linear", new Strata.Learning.Linear.LogisticRegressionLearner(), Strata.Learning.LearningTask.BinaryClassification);

        await Server.DeployAsync("limit-explain", new { project = "flights", model = "delay/1", challenger = "delay-linear/1", challenger_weight = 0.01 });
        using var http = Server.Http();

        using var explained = await http.PostAsync("/v1/endpoints/limit-explain/predict?explain=3", ServingTests.Body(header, rows));
        using var plain = await http.PostAsync("/v1/endpoints/limit-explain/predict", ServingTests.Body(header, rows));
        using var unknown = await http.PostAsync("/v1/endpoints/no-such-endpoint/predict?explain=101", ServingTests.Body(header, rows));

        Assert.Equal(HttpStatusCode.BadRequest, explained.StatusCode);
        Assert.Equal(
            "parameter 'explain' needs a tree model (TreeSHAP); model 'delay-linear' version 1, which endpoint 'limit-explain' answers with, is not one",
            (await ServingServer.JsonAsync(explained)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode); // the endpoint is checked before the parameter
    }

    [Fact]
    public async Task A_request_kestrel_refuses_before_any_route_is_counted_by_reason()
    {
        // A malformed request line never reaches the middleware (no request metric, no access log line).
        using (var client = new System.Net.Sockets.TcpClient())
        {
            await client.ConnectAsync(Server.Address.Host, Server.Address.Port);
            var stream = client.GetStream();
            await stream.WriteAsync("NOT AN HTTP REQUEST\r\n\r\n"u8.ToArray());
            var answer = new byte[256];
            var read = await stream.ReadAsync(answer);
            Assert.StartsWith("HTTP/1.1 400", Encoding.ASCII.GetString(answer, 0, read), StringComparison.Ordinal);
        }

        using var http = Server.Http("root");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string metrics;
        while (!(metrics = await http.GetStringAsync("/metrics")).Contains("strata_http_connection_errors_total{reason=\"invalid_request_line\"} ", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "the refused connection was not counted: " + string.Join('\n', metrics.Split('\n').Where(l => l.Contains("connection_errors", StringComparison.Ordinal))));
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Beyond_the_queue_requests_get_503_with_retry_after()
    {
        await Server.DeployAsync("limit-queue", new { project = "flights", model = "delay/1", limits = new { max_concurrency = 1, max_queue = 0 } });
        using var http = Server.Http();
        var (header, rows) = ServingServer.Sample(1);

        // Holds the endpoint's one slot, as a slow request would.
        using (await Server.Serving.RuntimeOf("limit-queue").Admission.EnterAsync(CancellationToken.None))
        {
            using var refused = await http.PostAsync("/v1/endpoints/limit-queue/predict", ServingTests.Body(header, rows));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Equal(
                "endpoint 'limit-queue' is at its limit of requests in progress and waiting (limits.max_concurrency 1, limits.max_queue 0); retry shortly",
                (await ServingServer.JsonAsync(refused)).GetProperty("detail").GetString());
        }

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/endpoints/limit-queue/predict", ServingTests.Body(header, rows))).StatusCode);
    }

    [Fact]
    public async Task Waiting_longer_than_the_timeout_gets_504()
    {
        await Server.DeployAsync("limit-time", new { project = "flights", model = "delay/1", limits = new { max_concurrency = 1, max_queue = 4, timeout_ms = 50 } });
        using var http = Server.Http();
        var (header, rows) = ServingServer.Sample(1);

        using (await Server.Serving.RuntimeOf("limit-time").Admission.EnterAsync(CancellationToken.None))
        {
            using var late = await http.PostAsync("/v1/endpoints/limit-time/predict", ServingTests.Body(header, rows));
            Assert.Equal(HttpStatusCode.GatewayTimeout, late.StatusCode);
        }
    }

    [Fact]
    public async Task Random_and_mutated_bodies_never_get_a_5xx_and_the_server_stays_up()
    {
        await Server.DeployAsync("fuzz", new { project = "flights", model = "delay/1", challenger = "delay/2", challenger_weight = 0.5, sticky_key = "origin" });
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("STRATA_FUZZ_ITERATIONS"), out var n) ? n : 400;
        // STRATA_FUZZ_SEED replays a run that failed (its seed is in the failure's message).
        var seed = int.TryParse(Environment.GetEnvironmentVariable("STRATA_FUZZ_SEED"), out var given) ? given : Environment.TickCount;
        output.WriteLine($"seed {seed}, {iterations} bodies");
        var random = new Random(seed);
        var (header, rows) = ServingServer.Sample(3);
        var valid = new[]
        {
            Encoding.UTF8.GetBytes("{\"rows\":[" + string.Join(',', rows.Select(r => ServingServer.RowJson(header[..11], r))) + "]}"),
            Encoding.UTF8.GetBytes("{\"id\":\"x\",\"inputs\":[{\"name\":\"m\",\"shape\":[1,11],\"datatype\":\"FP32\",\"data\":[[" +
                string.Join(',', rows[0].Take(11).Select(v => double.IsNaN(v) ? "0" : v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "]]}]}"),
        };
        // A binary tensor data request (the JSON, then 11 FP32 values): its header keeps the JSON's length as mutations move it.
        var head = Encoding.UTF8.GetBytes("{\"inputs\":[{\"name\":\"m\",\"shape\":[1,11],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":44}}],\"parameters\":{\"binary_data_output\":true}}");
        var floats = rows[0].Take(11).SelectMany(v => BitConverter.GetBytes((float)v)).ToArray();
        valid = [.. valid, [.. head, .. floats]];
        string[] fragments = ["null", "true", "-1e400", "1e999", "\"\"", "[]", "{}", "[[[[[[[[[[[[[[[[[[[[", "\"\\ud800\"", "NaN", "\u0000", ",", "{\"rows\":", "\"rows\"", "9223372036854775808", "-0", "\"distance\""];
        string[] paths = ["/v1/endpoints/fuzz/predict", "/v1/endpoints/fuzz/predict?explain=3", "/v2/models/fuzz/infer", "/v2/models/fuzz/versions/2/infer", "/v1/endpoints/nope/predict"];
        using var http = Server.Http();
        var statuses = new Dictionary<int, int>();
        for (var i = 0; i < iterations; i++)
        {
            var which = random.Next(valid.Length);
            var body = Mutate(random, valid[which], fragments);
            using var request = new HttpRequestMessage(HttpMethod.Post, paths[random.Next(paths.Length)]) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            if (which == valid.Length - 1 ? random.Next(4) > 0 : random.Next(8) == 0)
            {
                request.Headers.Add("Inference-Header-Content-Length", random.Next(3) == 0 ? random.Next(-5, body.Length + 5).ToString(System.Globalization.CultureInfo.InvariantCulture) : head.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            using var response = await http.SendAsync(request);
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.True(status < 500 || status == 503, $"seed {seed}, body {i}: {status} for {Encoding.UTF8.GetString(body)}: {await response.Content.ReadAsStringAsync()}");
        }

        output.WriteLine(string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}")));
        using var after = await http.PostAsync("/v1/endpoints/fuzz/predict", new ByteArrayContent(valid[0]) { Headers = { ContentType = new("application/json") } });
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.True(statuses.Keys.Count(s => s >= 400) >= 2, "the mutations never produced errors: they are not testing anything");
    }

    private static byte[] Mutate(Random random, byte[] valid, string[] fragments)
    {
        switch (random.Next(6))
        {
            case 0:
                var bytes = new byte[random.Next(0, 200)];
                random.NextBytes(bytes);
                return bytes;
            case 1:
                return valid[..random.Next(valid.Length)];
            default:
                var copy = new List<byte>(valid);
                for (var m = random.Next(1, 6); m > 0 && copy.Count > 0; m--)
                {
                    var at = random.Next(copy.Count);
                    switch (random.Next(3))
                    {
                        case 0:
                            copy[at] = (byte)random.Next(256);
                            break;
                        case 1:
                            copy.RemoveRange(at, Math.Min(copy.Count - at, random.Next(1, 20)));
                            break;
                        default:
                            copy.InsertRange(at, Encoding.UTF8.GetBytes(fragments[random.Next(fragments.Length)]));
                            break;
                    }
                }

                return [.. copy];
        }
    }
}
