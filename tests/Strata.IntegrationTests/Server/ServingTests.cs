using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Strata.Security;
using Strata.Serving;
using Strata.Stores;
using Xunit.Abstractions;

namespace Strata.IntegrationTests.Server;

/// <summary>One Kestrel server on loopback shared by the serving tests of a class.</summary>
public sealed class ServingServerFixture : IAsyncLifetime
{
    public ServingServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ServingServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>The native predict API end to end on a real loopback server: answers, hot swap, canary, access.</summary>
public sealed class ServingTests(ServingServerFixture fixture, ITestOutputHelper output) : IClassFixture<ServingServerFixture>
{
    private ServingServer Server => fixture.Server;

    [Fact]
    public async Task Serving_the_imported_flights_model_gives_xgboost_predictions()
    {
        await Server.DeployAsync("parity", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample();
        var names = header[..11];
        var pred = Array.IndexOf(header, "xgb_pred");
        using var http = Server.Http();
        var worst = 0.0;
        for (var start = 0; start < rows.Count; start += 500)
        {
            var batch = rows.Skip(start).Take(500).ToList();
            var body = "{\"rows\":[" + string.Join(',', batch.Select(r => ServingServer.RowJson(names, r))) + "]}";
            using var response = await http.PostAsync("/v1/endpoints/parity/predict", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var json = await ServingServer.JsonAsync(response);
            Assert.Equal("delay", json.GetProperty("model").GetString());
            Assert.Equal(1, json.GetProperty("version").GetInt32());
            var probabilities = json.GetProperty("probabilities").EnumerateArray().ToList();
            Assert.Equal(batch.Count, probabilities.Count);
            for (var r = 0; r < batch.Count; r++)
            {
                worst = Math.Max(worst, Math.Abs(probabilities[r].GetProperty("1").GetDouble() - batch[r][pred]));
            }
        }

        output.WriteLine($"{rows.Count} rows, max |Δ| {worst:G3}");
        Assert.True(worst <= 1e-6, $"max |Δ prediction| {worst:G3}");
    }

    [Fact]
    public async Task Predict_returns_probabilities_request_id_and_top_k_treeshap_contributions()
    {
        await Server.DeployAsync("explained", new { project = "flights", model = "delay@live" });
        var (header, rows) = ServingServer.Sample(2);
        using var http = Server.Http();

        using var response = await http.PostAsync("/v1/endpoints/explained/predict?explain=3", Body(header, rows));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await ServingServer.JsonAsync(response);
        Assert.False(string.IsNullOrEmpty(json.GetProperty("requestId").GetString()));
        Assert.Equal(2, json.GetProperty("predictions").GetArrayLength());
        var first = json.GetProperty("probabilities")[0];
        Assert.Equal(1.0, first.GetProperty("0").GetDouble() + first.GetProperty("1").GetDouble(), 12);
        var explanation = json.GetProperty("explanations")[0].EnumerateArray().ToList();
        Assert.Equal(3, explanation.Count);
        var magnitudes = explanation.Select(e => Math.Abs(e.GetProperty("contribution").GetDouble())).ToList();
        Assert.Equal(magnitudes.OrderByDescending(m => m), magnitudes);
    }

    [Fact]
    public async Task Hot_swap_under_load_fails_no_request()
    {
        await Server.Registry.SetAliasAsync(Caller.Local, "flights", "delay", "swap", 1, null);
        await Server.DeployAsync("swap", new { project = "flights", model = "delay@swap" });
        var (header, rows) = ServingServer.Sample(1);
        var body = "{\"rows\":[" + ServingServer.RowJson(header[..11], rows[0]) + "]}";
        var failures = new ConcurrentBag<string>();
        var versions = new ConcurrentDictionary<int, int>();
        var requests = 0;
        using var stop = new CancellationTokenSource();

        var load = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            using var http = Server.Http();
            while (!stop.IsCancellationRequested)
            {
                using var response = await http.PostAsync("/v1/endpoints/swap/predict", new StringContent(body, Encoding.UTF8, "application/json"));
                Interlocked.Increment(ref requests);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    continue;
                }

                var json = await ServingServer.JsonAsync(response);
                versions.AddOrUpdate(json.GetProperty("version").GetInt32(), 1, (_, n) => n + 1);
            }
        })).ToList();

        for (var move = 1; move <= 50; move++)
        {
            await Server.Registry.SetAliasAsync(Caller.Local, "flights", "delay", "swap", move % 2 == 0 ? 1 : 2, $"move {move}");
            await Task.Delay(30);
        }

        // The last move (to version 1) reaches the endpoint within the poll interval.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Server.Serving.Get("swap").Champion != "delay/1" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await Task.WhenAll(load);
        output.WriteLine($"{requests} requests; by version: {string.Join(", ", versions.Select(v => $"{v.Key}: {v.Value}"))}");
        Assert.Empty(failures);
        Assert.Equal("delay/1", Server.Serving.Get("swap").Champion);
        Assert.True(versions.ContainsKey(2), "no request was answered by version 2: the swaps were never seen");
        Assert.True(requests > 50, $"only {requests} requests ran during the swaps");
    }

    [Fact]
    public async Task Canary_splits_by_weight_and_keeps_each_entity_on_one_side()
    {
        await Server.DeployAsync("canary", new { project = "flights", model = "delay/1", challenger = "delay/2", challenger_weight = 0.3, sticky_key = "customer" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = Server.Http();
        var sides = new Dictionary<string, int>();
        for (var c = 0; c < 300; c++)
        {
            for (var repeat = 0; repeat < 2; repeat++)
            {
                var row = ServingServer.RowJson(header[..11], rows[0]).TrimEnd('}') + $",\"customer\":\"c{c}\"}}";
                using var response = await http.PostAsync("/v1/endpoints/canary/predict", new StringContent("{\"rows\":[" + row + "]}", Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var version = (await ServingServer.JsonAsync(response)).GetProperty("version").GetInt32();
                Assert.True(!sides.TryGetValue($"c{c}", out var before) || before == version, $"customer c{c} moved from version {before} to {version}");
                sides[$"c{c}"] = version;
            }
        }

        var share = sides.Values.Count(v => v == 2) / (double)sides.Count;
        output.WriteLine($"challenger share {share:P1}");
        Assert.InRange(share, 0.2, 0.4);
        foreach (var (customer, version) in sides)
        {
            Assert.Equal(ServingRuntime.Bucket(customer) < 0.3 ? 2 : 1, version);
        }
    }

    [Fact]
    public async Task Missing_extra_and_mistyped_fields_get_one_400_listing_each()
    {
        await Server.DeployAsync("strict", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        var fields = header[..11].Select((n, i) => (n, rows[0][i])).ToDictionary(p => p.n, p => (object)p.Item2);
        fields.Remove("distance");
        fields["dow"] = "monday";
        fields["bogus"] = 1;
        using var http = Server.Http();

        using var response = await http.PostAsJsonAsync("/v1/endpoints/strict/predict", new { rows = new[] { fields } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var detail = (await ServingServer.JsonAsync(response)).GetProperty("detail").GetString()!;
        Assert.Contains("missing field 'distance'", detail, StringComparison.Ordinal);
        Assert.Contains("field 'dow' is text", detail, StringComparison.Ordinal);
        Assert.Contains("unknown field 'bogus'", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_need_a_role_in_the_endpoints_project_and_may_be_limited_to_endpoints()
    {
        await Server.DeployAsync("guarded", new { project = "flights", model = "delay/1" });
        await Server.DeployAsync("guarded-too", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        using (var anonymous = Server.Http(key: null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/v1/endpoints/guarded/predict", Body(header, rows))).StatusCode);
        }

        using (var other = Server.Http("other-viewer"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await other.PostAsync("/v1/endpoints/guarded/predict", Body(header, rows))).StatusCode);
        }

        using (var viewer = Server.Http("viewer"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PutAsJsonAsync("/v1/endpoints/guarded", new { project = "flights", model = "delay/2" })).StatusCode);
        }

        var limited = await Server.Registry.CreateKeyAsync(Caller.Local, "flights", "limited", Role.Viewer, null);
        using (var root = Server.Http("root"))
        {
            using var set = await root.PutAsJsonAsync($"/v1/keys/{limited.Key.Id}/endpoints", new { endpoints = new[] { "guarded" } });
            Assert.Equal(HttpStatusCode.NoContent, set.StatusCode);
        }

        using var http = Server.Http(key: null);
        http.DefaultRequestHeaders.Authorization = new("Bearer", limited.Token);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/endpoints/guarded/predict", Body(header, rows))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsync("/v1/endpoints/guarded-too/predict", Body(header, rows))).StatusCode);

        // The list shows the key only what it may call, as the repository index does.
        var listed = (await ServingServer.JsonAsync(await http.GetAsync("/v1/endpoints"))).EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Equal(["guarded"], listed);
    }

    [Fact]
    public async Task A_deployment_read_from_the_api_can_be_put_back_as_it_is()
    {
        await Server.DeployAsync("round-trip", new { project = "flights", model = "delay/1", challenger = "delay/2", challenger_weight = 0.25, limits = new { max_queue = 7 } });
        using var deployer = Server.Http("deployer");

        var deployment = (await ServingServer.JsonAsync(await deployer.GetAsync("/v1/endpoints/round-trip"))).GetProperty("deployment");
        using var put = await deployer.PutAsync("/v1/endpoints/round-trip", new StringContent(deployment.GetRawText(), Encoding.UTF8, "application/json"));

        // The answer speaks strata.yaml's names, as the PUT body does.
        Assert.Equal(0.25, deployment.GetProperty("challenger_weight").GetDouble());
        Assert.Equal(7, deployment.GetProperty("limits").GetProperty("max_queue").GetInt32());
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(deployment.GetRawText(), (await ServingServer.JsonAsync(put)).GetProperty("deployment").GetRawText());
    }

    [Fact]
    public async Task A_deployment_naming_an_unknown_version_or_a_package_that_fails_verification_is_refused()
    {
        using var root = Server.Http("root");
        using var unknown = await root.PutAsJsonAsync("/v1/endpoints/broken", new { project = "flights", model = "delay/99" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        // A blob that is not a model package, registered as a version.
        var blob = await Server.Registry.PutBlobAsync(Caller.Local, "flights", new MemoryStream(Encoding.UTF8.GetBytes("not a model package")));
        var bad = await Server.Registry.RegisterVersionAsync(Caller.Local, "flights", "delay", new Strata.Registry.VersionRegistration { ArtifactDigest = blob.Digest });
        using var refused = await root.PutAsJsonAsync("/v1/endpoints/broken", new { project = "flights", model = $"delay/{bad.Version}" });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("failed verification", (await ServingServer.JsonAsync(refused)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await root.GetAsync("/v1/endpoints/broken")).StatusCode);

        // A misspelt field is named, with the ones a deployment has, rather than skipped (the challenger would get no traffic).
        using var typo = await root.PutAsJsonAsync("/v1/endpoints/broken", new { project = "flights", model = "delay/1", challenger = "delay/1", challenger_wieght = 0.2 });
        Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
        Assert.StartsWith("unknown field 'challenger_wieght' (known: name, project, model, challenger, challenger_weight,", (await ServingServer.JsonAsync(typo)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await root.GetAsync("/v1/endpoints/broken")).StatusCode);

        // So is a field given twice: which weight the caller meant is not for the server to guess.
        using var twice = await root.PutAsync("/v1/endpoints/broken", new StringContent("""{"project": "flights", "model": "delay/1", "challenger": "delay/1", "challenger_weight": 0.2, "challenger_weight": 0.9}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, twice.StatusCode);
        Assert.Equal("field 'challenger_weight' appears more than once", (await ServingServer.JsonAsync(twice)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await root.GetAsync("/v1/endpoints/broken")).StatusCode);

        // A feature service that does not exist: every request would fail while the endpoint read as ready.
        using var noService = await root.PutAsJsonAsync("/v1/endpoints/broken", new { project = "flights", model = "delay/1", feature_service = "nosuch" });
        Assert.Equal(HttpStatusCode.NotFound, noService.StatusCode);
        Assert.Contains("feature service 'nosuch'", (await ServingServer.JsonAsync(noService)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        // A PII field the endpoint never receives: a misspelt name would leave the real field unmasked in the log.
        using var pii = await root.PutAsJsonAsync("/v1/endpoints/broken", new { project = "flights", model = "delay/1", sticky_key = "customer", pii = new[] { "customer", "orgin_code" } });
        Assert.Equal(HttpStatusCode.BadRequest, pii.StatusCode);
        Assert.StartsWith(
            "field 'pii' names 'orgin_code', which endpoint 'broken' never receives (its fields: customer, dep_hour,",
            (await ServingServer.JsonAsync(pii)).GetProperty("detail").GetString(),
            StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await root.GetAsync("/v1/endpoints/broken")).StatusCode);
    }

    [Fact]
    public async Task Metrics_count_requests_by_endpoint_version_and_status_and_show_load_times()
    {
        await Server.DeployAsync("metered", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = Server.Http();
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/endpoints/metered/predict", Body(header, rows))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("/v1/endpoints/metered/predict", new StringContent("{\"rows\":[{\"x\":1}]}", Encoding.UTF8, "application/json"))).StatusCode);

        var text = await http.GetStringAsync("/metrics");

        Assert.Contains("strata_serving_requests_total{endpoint=\"metered\",version=\"1\",status=\"200\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("strata_serving_requests_total{endpoint=\"metered\",version=\"1\",status=\"400\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("strata_serving_request_duration_seconds_count{endpoint=\"metered\",version=\"1\"} 2", text, StringComparison.Ordinal);
        Assert.Contains("strata_serving_requests_in_flight{endpoint=\"metered\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("strata_serving_queue_depth{endpoint=\"metered\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("strata_serving_model_load_duration_seconds_count{model=\"delay\"}", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_drop_a_removed_challengers_an_unloaded_endpoints_and_a_deleted_endpoints_series()
    {
        await Server.DeployAsync("stale-canary", new { project = "flights", model = "delay/1", challenger = "delay/2", challenger_weight = 0.5 });
        await Server.DeployAsync("stale-big", new { project = "flights", model = "delay/1", shadow = "delay/2" });
        await Server.DeployAsync("stale-gone", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = Server.Http();
        using var deployer = Server.Http("deployer");
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/endpoints/stale-gone/predict", Body(header, rows))).StatusCode);
        var before = await http.GetStringAsync("/metrics");
        Assert.Contains("strata_serving_model_version{endpoint=\"stale-canary\",role=\"challenger\"} 2\n", before, StringComparison.Ordinal);
        Assert.Contains("strata_serving_model_version{endpoint=\"stale-big\",role=\"shadow\"} 2\n", before, StringComparison.Ordinal);
        Assert.Contains("strata_serving_requests_total{endpoint=\"stale-gone\",version=\"1\",status=\"200\"} 1\n", before, StringComparison.Ordinal);

        await Server.DeployAsync("stale-canary", new { project = "flights", model = "delay/1" });
        Assert.Equal(HttpStatusCode.OK, (await deployer.PostAsync("/v2/repository/models/stale-big/unload", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/v2/models/stale-big/ready")).StatusCode);
        using (var root = Server.Http("root"))
        {
            Assert.True((await root.DeleteAsync("/v1/endpoints/stale-gone")).IsSuccessStatusCode);
        }

        var after = await http.GetStringAsync("/metrics");

        Assert.DoesNotContain("endpoint=\"stale-canary\",role=\"challenger\"", after, StringComparison.Ordinal);
        Assert.Contains("strata_serving_model_version{endpoint=\"stale-canary\",role=\"champion\"} 1\n", after, StringComparison.Ordinal);
        Assert.DoesNotContain("strata_serving_model_version{endpoint=\"stale-big\"", after, StringComparison.Ordinal);
        Assert.Contains("strata_serving_queue_depth{endpoint=\"stale-big\"} 0\n", after, StringComparison.Ordinal);
        Assert.DoesNotContain("endpoint=\"stale-gone\"", after, StringComparison.Ordinal);
        if (Promtool.Path is not null || Promtool.Required)
        {
            var (exitCode, lint) = await Promtool.CheckMetricsAsync(after);
            Assert.True(exitCode == 0, $"promtool check metrics exited with {exitCode}: {lint}");
        }
    }

    [Fact]
    public async Task A_revoked_key_stops_predicting_within_the_poll_interval()
    {
        await Server.DeployAsync("revocable", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        var issued = await Server.Registry.CreateKeyAsync(Caller.Local, "flights", "short-lived", Role.Viewer, null);
        using var http = Server.Http(key: null);
        http.DefaultRequestHeaders.Authorization = new("Bearer", issued.Token);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/endpoints/revocable/predict", Body(header, rows))).StatusCode);

        await Server.Registry.RevokeKeyAsync(Caller.Local, "flights", issued.Key.Id);

        var deadline = DateTime.UtcNow.AddSeconds(5);
        var status = HttpStatusCode.OK;
        while (status == HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            status = (await http.PostAsync("/v1/endpoints/revocable/predict", Body(header, rows))).StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task The_lean_inference_branch_answers_as_the_general_route_does()
    {
        // A query string sends a request the general way (routing, middleware, handler); the plain path takes the lean
        // branch. Both must give the same answers, errors, headers and metrics.
        await Server.DeployAsync("twin", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(3);
        using var http = Server.Http();
        using var anonymous = Server.Http(key: null);
        string[] bodies =
        [
            "{\"rows\":[" + string.Join(',', rows.Select(r => ServingServer.RowJson(header[..11], r))) + "]}",
            "{\"rows\": [{\"distance\": \"far\"}]}",
            "{\"rows\": [{\"distance\": true, \"dow\": [1]}], \"extra\": 1}",
            "{\"rows\": 5}",
            "{\"rows\": [",
            "",
        ];

        foreach (var body in bodies)
        {
            foreach (var client in new[] { http, anonymous })
            {
                foreach (var endpoint in new[] { "twin", "no-such-endpoint" })
                {
                    using var lean = await client.PostAsync($"/v1/endpoints/{endpoint}/predict", new StringContent(body, Encoding.UTF8, "application/json"));
                    using var general = await client.PostAsync($"/v1/endpoints/{endpoint}/predict?explain=0", new StringContent(body, Encoding.UTF8, "application/json"));

                    Assert.Equal(general.StatusCode, lean.StatusCode);
                    Assert.Equal(general.Content.Headers.ContentType?.MediaType, lean.Content.Headers.ContentType?.MediaType);
                    Assert.Equal(general.Headers.WwwAuthenticate.ToString(), lean.Headers.WwwAuthenticate.ToString());
                    Assert.True(lean.Headers.Contains("X-Request-Id"));
                    var (a, b) = (await ServingServer.JsonAsync(lean), await ServingServer.JsonAsync(general));
                    if (lean.IsSuccessStatusCode)
                    {
                        Assert.Equal(b.GetProperty("predictions").GetRawText(), a.GetProperty("predictions").GetRawText());
                        Assert.Equal(b.GetProperty("probabilities").GetRawText(), a.GetProperty("probabilities").GetRawText());
                    }
                    else
                    {
                        Assert.Equal(b.GetProperty("detail").GetString(), a.GetProperty("detail").GetString());
                        Assert.Equal(b.GetProperty("code").GetString(), a.GetProperty("code").GetString());
                    }
                }
            }
        }

        var text = await http.GetStringAsync("/metrics");
        Assert.Contains("strata_http_requests_total{route=\"/v1/endpoints/{name}/predict\",method=\"POST\",status=\"200\"}", text, StringComparison.Ordinal);
        Assert.Contains("strata_http_requests_total{route=\"/v1/endpoints/{name}/predict\",method=\"POST\",status=\"401\"}", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v1/endpoints/predict")]
    [InlineData("/v1/endpoints//predict")]
    [InlineData("/v2/models/infer")]
    [InlineData("/v2/models/x/versions//infer")]
    public async Task Paths_that_only_look_like_inference_routes_get_a_4xx(string path)
    {
        using var http = Server.Http();

        using var response = await http.PostAsync(path, new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.InRange((int)response.StatusCode, 400, 499);
    }

    [Fact]
    public async Task A_request_id_sent_by_the_caller_comes_back_on_the_lean_branch()
    {
        await Server.DeployAsync("echoed", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = Server.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/endpoints/echoed/predict") { Content = Body(header, rows) };
        request.Headers.Add("X-Request-Id", "caller-id-42");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("caller-id-42", response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal("caller-id-42", (await ServingServer.JsonAsync(response)).GetProperty("requestId").GetString());
    }

    internal static StringContent Body(string[] header, List<double[]> rows) =>
        new("{\"rows\":[" + string.Join(',', rows.Select(r => ServingServer.RowJson(header[..11], r))) + "]}", Encoding.UTF8, "application/json");
}
