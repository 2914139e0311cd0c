using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Strata.Features.Definitions;
using Strata.Server;
using Strata.Server.Hosting;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// <c>GET /metrics</c> on the real server: requests counted under their route pattern (never the raw path) and final
/// status, feature lookups by project, a format that promtool accepts, and who may scrape.
/// </summary>
public sealed class MetricsTests(StrataServerFactory server) : IClassFixture<StrataServerFactory>
{
    private const string Definitions = """
        entities:
          - name: route
            join_keys: [{ name: route_id, type: int64 }]
        sources:
          - name: route_events
            kind: push
            timestamp_field: ts
            schema:
              - { name: route_id, type: int64 }
              - { name: ts, type: timestamp }
              - { name: flights, type: int64 }
        feature_views:
          - name: route_stats
            entities: [route]
            source: route_events
            ttl: 1h
            features:
              - { name: flights, type: int64 }
        """;

    [Fact]
    public async Task Requests_are_counted_by_route_pattern_method_and_final_status()
    {
        using var viewer = server.Http("viewer");
        using var anonymous = server.Http();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/v1/projects/flights/experiments")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/projects/flights/experiments")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/api/v1/projects/other/experiments")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await viewer.GetAsync("/no/such/path/7f3a")).StatusCode);

        using var response = await viewer.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        const string Route = "route=\"/api/v1/projects/{project}/experiments\"";
        Assert.Contains($"strata_http_requests_total{{{Route},method=\"GET\",status=\"200\"}} 3\n", text, StringComparison.Ordinal);
        Assert.Contains($"strata_http_requests_total{{{Route},method=\"GET\",status=\"401\"}} 1\n", text, StringComparison.Ordinal);
        Assert.Contains($"strata_http_requests_total{{{Route},method=\"GET\",status=\"403\"}} 1\n", text, StringComparison.Ordinal);
        Assert.Contains($"strata_http_request_duration_seconds_count{{{Route},method=\"GET\"}} 5\n", text, StringComparison.Ordinal);
        Assert.Contains("strata_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}", text, StringComparison.Ordinal);
        Assert.Contains("strata_http_requests_in_flight 1\n", text, StringComparison.Ordinal); // the scrape itself
        Assert.DoesNotContain("7f3a", text, StringComparison.Ordinal);
        Assert.DoesNotContain("/projects/flights", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE process_start_time_seconds gauge\n", text, StringComparison.Ordinal);
        Assert.Contains("process_resident_memory_bytes ", text, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_collections_total{generation=\"0\"} ", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Online_feature_lookups_are_counted_with_their_entities_by_project()
    {
        var metadata = server.Services.GetRequiredService<ServerState>().Home.Metadata;
        await new FeatureRegistry(metadata).ApplyAsync("other", FeatureRepositoryYaml.Parse([("features.yaml", Definitions)]), force: false, new Actor("test"));
        using var http = server.Http("other-viewer");
        const string Read = """{"features": ["route_stats:flights"], "entities": {"route_id": [1, 2, 3]}}""";

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/get-online-features?project=other", Json(Read))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/v1/projects/other/features/online", Json(Read))).StatusCode);
        var text = await http.GetStringAsync("/metrics");

        Assert.Contains("strata_feature_online_lookups_total{project=\"other\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("strata_feature_online_entities_total{project=\"other\"} 6\n", text, StringComparison.Ordinal);
        Assert.Contains("strata_http_requests_total{route=\"/get-online-features\",method=\"POST\",status=\"200\"} 1\n", text, StringComparison.Ordinal);
    }

    [PromtoolFact]
    public async Task Promtool_accepts_the_scrape()
    {
        using var http = server.Http("viewer");
        await http.GetAsync("/api/v1/projects/flights");
        await http.GetAsync("/nothing-here");

        var (exitCode, output) = await Promtool.CheckMetricsAsync(await http.GetStringAsync("/metrics"));

        Assert.True(exitCode == 0, $"promtool check metrics exited with {exitCode}: {output}");
    }

    [Fact]
    public async Task Anonymous_metrics_lets_in_loopback_only_and_only_when_configured()
    {
        foreach (var anonymousMetrics in new[] { false, true })
        {
            using var home = new TempFolder("strata-server");
            await using var app = StrataServer.Build(["--Strata:Home", home.Path, "--Strata:AnonymousMetrics", anonymousMetrics ? "true" : "false"], b => b.WebHost.UseTestServer());
            await app.StartAsync();
            var test = (TestServer)app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>();

            var loopback = await ScrapeAsync(test, IPAddress.Loopback);
            var remote = await ScrapeAsync(test, IPAddress.Parse("192.0.2.10"));

            Assert.Equal(anonymousMetrics ? 200 : 401, loopback.Response.StatusCode);
            Assert.Equal(401, remote.Response.StatusCode);
            await app.StopAsync();
        }
    }

    private static Task<HttpContext> ScrapeAsync(TestServer test, IPAddress from) =>
        test.SendAsync(c =>
        {
            c.Request.Method = HttpMethods.Get;
            c.Request.Path = "/metrics";
            c.Connection.RemoteIpAddress = from;
        });

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}

public sealed class RouteMetricsTests
{
    [Fact]
    public void Recording_a_request_of_a_seen_route_method_and_status_allocates_nothing()
    {
        var metrics = new global::Strata.Server.Http.ServerMetrics();
        var route = metrics.Unmatched;
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        route.Record("GET", 404, start);

        // The steady state is what must not allocate: the first rounds may include the runtime's own one-off work on
        // this thread (tiered JIT and on-stack replacement of the loop), so the quietest of five rounds is measured.
        var fewest = long.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                route.Record("GET", 404, start);
            }

            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, fewest);
        Assert.Equal(5001, metrics.Requests.Labels("unmatched", "GET", "404").Value);
    }

    [Theory]
    [InlineData("GET", "GET")]
    [InlineData("get", "GET")]
    [InlineData("PATCH", "PATCH")]
    [InlineData("BREW", "other")]
    public void Unknown_methods_share_one_label_so_clients_cannot_add_series(string method, string label) =>
        Assert.Equal(label, global::Strata.Server.Http.ServerMetrics.Method(method));
}
