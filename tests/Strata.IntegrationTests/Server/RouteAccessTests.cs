using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Strata.Security;
using Strata.Server;
using Strata.Server.Hosting;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// Deny by default, proved route by route: every mapped route is listed here with the least role it needs, is called
/// without a key (401) and with a key one step short of that role (403). A new route without an entry here, or
/// without an access rule, fails these tests.
/// </summary>
public sealed class RouteAccessTests(StrataServerFactory server) : IClassFixture<StrataServerFactory>
{
    /// <summary>The minimum role of every route: viewer/editor/deployer/admin in the route's project, "global admin" (a "*" key), "any key", or "anonymous".</summary>
    private static readonly Dictionary<string, string> Minimum = new(StringComparer.Ordinal)
    {
        ["GET /health/live"] = "anonymous",
        ["GET /health/ready"] = "anonymous",
        ["HEAD /health/live"] = "anonymous",
        ["HEAD /health/ready"] = "anonymous",
        ["GET /metrics"] = "any key",
        ["GET /api/v1/whoami"] = "any key",
        ["GET /api/v1/projects"] = "any key",
        ["POST /api/v1/projects"] = "global admin",
        ["GET /api/v1/projects/{project}"] = "viewer",
        ["GET /api/v1/projects/{project}/experiments"] = "viewer",
        ["POST /api/v1/projects/{project}/experiments"] = "editor",
        ["GET /api/v1/projects/{project}/experiments/{experiment}"] = "viewer",
        ["POST /api/v1/projects/{project}/runs"] = "editor",
        ["GET /api/v1/projects/{project}/runs"] = "viewer",
        ["POST /api/v1/projects/{project}/runs/search"] = "viewer",
        ["GET /api/v1/projects/{project}/runs/{run}"] = "viewer",
        ["POST /api/v1/projects/{project}/runs/{run}/log-batch"] = "editor",
        ["POST /api/v1/projects/{project}/runs/{run}/end"] = "editor",
        ["GET /api/v1/projects/{project}/runs/{run}/metric-history"] = "viewer",
        ["GET /api/v1/projects/{project}/runs/{run}/artifacts"] = "viewer",
        ["PUT /api/v1/projects/{project}/runs/{run}/artifacts/{**path}"] = "editor",
        ["GET /api/v1/projects/{project}/runs/{run}/artifacts/{**path}"] = "viewer",
        ["POST /api/v1/projects/{project}/artifacts"] = "editor",
        ["GET /api/v1/projects/{project}/models"] = "viewer",
        ["POST /api/v1/projects/{project}/models"] = "editor",
        ["GET /api/v1/projects/{project}/models/{model}"] = "viewer",
        ["PUT /api/v1/projects/{project}/models/{model}/protected-aliases"] = "admin",
        ["GET /api/v1/projects/{project}/models/{model}/versions"] = "viewer",
        ["POST /api/v1/projects/{project}/models/{model}/versions"] = "editor",
        ["POST /api/v1/projects/{project}/models/{model}/versions/upload"] = "editor",
        ["GET /api/v1/projects/{project}/models/{model}/versions/{version}"] = "viewer",
        ["GET /api/v1/projects/{project}/models/{model}/versions/{version}/package"] = "viewer",
        ["PUT /api/v1/projects/{project}/models/{model}/versions/{version}/status"] = "editor",
        ["GET /api/v1/projects/{project}/models/{model}/versions/{version}/lineage"] = "viewer",
        ["GET /api/v1/projects/{project}/models/{model}/aliases"] = "viewer",
        ["GET /api/v1/projects/{project}/models/{model}/aliases/{alias}"] = "viewer",
        ["PUT /api/v1/projects/{project}/models/{model}/aliases/{alias}"] = "editor",
        ["DELETE /api/v1/projects/{project}/models/{model}/aliases/{alias}"] = "editor",
        ["GET /api/v1/projects/{project}/models/{model}/aliases/{alias}/history"] = "viewer",
        ["GET /api/v1/projects/{project}/models/{model}/aliases/{alias}/resolve"] = "viewer",
        ["GET /api/v1/projects/{project}/promotions"] = "viewer",
        ["POST /api/v1/projects/{project}/promotions"] = "editor",
        ["POST /api/v1/projects/{project}/promotions/{request}/approve"] = "deployer",
        ["POST /api/v1/projects/{project}/promotions/{request}/reject"] = "deployer",
        ["POST /api/v1/projects/{project}/pipelines/runs"] = "editor",
        ["GET /api/v1/projects/{project}/pipelines/runs"] = "viewer",
        ["GET /api/v1/projects/{project}/pipelines/runs/{run}"] = "viewer",
        ["GET /api/v1/projects/{project}/monitors/{endpoint}/results"] = "viewer",
        ["PUT /api/v1/projects/{project}/monitors/{endpoint}"] = "editor",
        ["GET /api/v1/projects/{project}/monitors/{endpoint}"] = "viewer",
        ["DELETE /api/v1/projects/{project}/monitors/{endpoint}"] = "editor",
        ["PUT /api/v1/projects/{project}/models/{model}/versions/{version}/reference-profile"] = "editor",
        ["GET /api/v1/projects/{project}/lineage/artifacts"] = "viewer",
        ["POST /api/v1/projects/{project}/lineage/artifacts"] = "editor",
        ["GET /api/v1/projects/{project}/lineage/artifacts/{artifact}"] = "viewer",
        ["GET /api/v1/projects/{project}/lineage/artifacts/{artifact}/upstream"] = "viewer",
        ["GET /api/v1/projects/{project}/lineage/artifacts/{artifact}/downstream"] = "viewer",
        ["POST /api/v1/projects/{project}/lineage/executions"] = "editor",
        ["POST /api/v1/projects/{project}/lineage/events"] = "editor",
        ["POST /api/v1/projects/{project}/lineage/contexts"] = "editor",
        ["GET /api/v1/projects/{project}/audit"] = "admin",
        ["GET /api/v1/projects/{project}/audit/verify"] = "admin",
        ["GET /api/v1/audit"] = "global admin",
        ["GET /api/v1/audit/verify"] = "global admin",
        ["GET /api/v1/projects/{project}/keys"] = "admin",
        ["POST /api/v1/projects/{project}/keys"] = "admin",
        ["DELETE /api/v1/projects/{project}/keys/{key}"] = "admin",
        ["GET /api/v1/keys"] = "global admin",
        ["POST /api/v1/keys"] = "global admin",
        ["DELETE /api/v1/keys/{key}"] = "global admin",
        ["POST /api/v1/admin/gc"] = "global admin",
        ["POST /get-online-features"] = "viewer",
        ["POST /push"] = "editor",
        ["POST /materialize"] = "editor",
        ["POST /materialize-incremental"] = "editor",
        ["GET /api/v1/projects/{project}/features"] = "viewer",
        ["GET /api/v1/projects/{project}/features/versions"] = "viewer",
        ["POST /api/v1/projects/{project}/features/online"] = "viewer",
        ["POST /api/v1/projects/{project}/features/push"] = "editor",
        ["POST /api/v1/projects/{project}/features/materialize"] = "editor",
        ["POST /api/v1/projects/{project}/features/materialize-incremental"] = "editor",

        // Serving: the role is checked in the endpoint's project once the endpoint is known (ServingTests cover it).
        ["GET /v1/endpoints"] = "any key",
        ["GET /v1/endpoints/{name}"] = "any key",
        ["PUT /v1/endpoints/{name}"] = "any key",
        ["DELETE /v1/endpoints/{name}"] = "any key",
        ["POST /v1/endpoints/{name}/predict"] = "any key",
        ["POST /v1/endpoints/{name}/feedback"] = "any key",
        ["POST /v1/endpoints/{name}/feedback/batch"] = "any key",
        ["PUT /v1/keys/{key}/endpoints"] = "global admin",
        ["GET /v2"] = "any key",
        ["GET /v2/health/live"] = "anonymous",
        ["HEAD /v2/health/live"] = "anonymous",
        ["HEAD /v2/health/ready"] = "anonymous",
        ["GET /v2/health/ready"] = "anonymous",
        ["GET /v2/models/{name}"] = "any key",
        ["GET /v2/models/{name}/versions/{version}"] = "any key",
        ["GET /v2/models/{name}/ready"] = "any key",
        ["GET /v2/models/{name}/versions/{version}/ready"] = "any key",
        ["POST /v2/models/{name}/infer"] = "any key",
        ["POST /v2/models/{name}/versions/{version}/infer"] = "any key",
        ["POST /v2/repository/index"] = "any key",
        ["POST /v2/repository/models/{name}/load"] = "any key",
        ["POST /v2/repository/models/{name}/unload"] = "any key",
    };

    /// <summary>For each minimum, the seeded keys that fall short of it (the first is one step below; others test the project scope).</summary>
    private static readonly Dictionary<string, string[]> ShortOf = new(StringComparer.Ordinal)
    {
        ["viewer"] = ["other-viewer", "other-admin"],
        ["editor"] = ["viewer", "other-admin"],
        ["deployer"] = ["editor", "other-admin"],
        ["admin"] = ["deployer", "other-admin"],
        ["global admin"] = ["admin"],
        ["any key"] = [],
    };

    [Fact]
    public void Every_mapped_route_has_a_minimum_role_in_the_table_and_declares_it()
    {
        var routes = MappedRoute.All(server.Services);

        var missing = routes.Where(r => !Minimum.ContainsKey(r.Key)).Select(r => r.Key).ToList();
        Assert.True(missing.Count == 0, "routes without a minimum role in RouteAccessTests.Minimum: " + string.Join(", ", missing));
        var stale = Minimum.Keys.Except(routes.Select(r => r.Key)).ToList();
        Assert.True(stale.Count == 0, "table entries for routes that no longer exist: " + string.Join(", ", stale));
        foreach (var route in routes)
        {
            var declared = route.Anonymous ? "anonymous" : route.Rule?.ToString() switch
            {
                "admin of every project" => "global admin",
                null => "none",
                var rule => rule,
            };
            Assert.True(Minimum[route.Key] == declared, $"{route.Key}: the table says {Minimum[route.Key]}, the route declares {declared}");
        }
    }

    [Fact]
    public async Task Every_route_but_health_refuses_a_call_without_a_key_with_401()
    {
        using var http = server.Http();
        foreach (var route in MappedRoute.All(server.Services).Where(r => !r.Anonymous))
        {
            using var response = await http.SendAsync(Request(route, route.SampleUrl()));

            await AssertProblemAsync(response, HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized, route.Key);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
    }

    [Fact]
    public async Task Every_route_refuses_a_wrong_or_revoked_key_with_401()
    {
        var revoked = await server.Registry.CreateKeyAsync(Caller.Local, "*", "revoked", Role.Admin, null);
        await server.Registry.RevokeKeyAsync(Caller.Local, null, revoked.Key.Id);
        var forged = server.Keys["root"][..^4] + "0000";
        foreach (var token in new[] { revoked.Token, forged, "not-a-strata-key" })
        {
            using var http = server.Http();
            http.DefaultRequestHeaders.Authorization = new("Bearer", token);
            foreach (var route in MappedRoute.All(server.Services).Where(r => !r.Anonymous))
            {
                using var response = await http.SendAsync(Request(route, route.SampleUrl()));
                await AssertProblemAsync(response, HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized, route.Key);
            }
        }
    }

    [Fact]
    public async Task Every_route_refuses_a_key_short_of_its_minimum_role_with_403()
    {
        var checkedCalls = 0;
        foreach (var route in MappedRoute.All(server.Services).Where(r => !r.Anonymous))
        {
            foreach (var key in ShortOf[Minimum[route.Key]])
            {
                using var http = server.Http(key);
                using var response = await http.SendAsync(Request(route, route.SampleUrl()));

                await AssertProblemAsync(response, HttpStatusCode.Forbidden, ErrorCodes.Forbidden, $"{route.Key} with the {key} key");
                checkedCalls++;
            }
        }

        Assert.True(checkedCalls > 100, $"only {checkedCalls} calls were checked");
    }

    [Fact]
    public async Task Health_answers_without_a_key()
    {
        using var http = server.Http();

        var ready = await http.GetFromJsonAsync<JsonElement>("/health/ready");
        Assert.Equal("ok", ready.GetProperty("status").GetString());
        Assert.Equal("sqlite", ready.GetProperty("backend").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);

        // A probe that sends HEAD (a load balancer checking the status alone) is answered too (Kestrel sends no body).
        foreach (var path in new[] { "/health/live", "/health/ready", "/v2/health/live", "/v2/health/ready" })
        {
            using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.True(head.StatusCode == HttpStatusCode.OK, $"HEAD {path}: {head.StatusCode}");
        }
    }

    [Fact]
    public async Task A_route_without_an_access_rule_is_refused_to_every_caller()
    {
        using var home = new TempFolder("strata-server");
        await using var app = StrataServer.Build(["--Strata:Home", home.Path], b => b.WebHost.UseTestServer());
        app.MapGet("/api/v1/unguarded", () => "secret");
        await app.StartAsync();
        var registry = app.Services.GetRequiredService<ServerState>().Registry;
        var root = await registry.CreateKeyAsync(Caller.Local, "*", "root", Role.Admin, null);
        using var http = app.GetTestClient();

        using var anonymous = await http.GetAsync("/api/v1/unguarded");
        await AssertProblemAsync(anonymous, HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized, "anonymous");
        http.DefaultRequestHeaders.Authorization = new("Bearer", root.Token);
        using var admin = await http.GetAsync("/api/v1/unguarded");
        await AssertProblemAsync(admin, HttpStatusCode.Forbidden, ErrorCodes.Forbidden, "admin of every project");
        Assert.DoesNotContain("secret", await admin.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await app.StopAsync();
    }

    internal static HttpRequestMessage Request(MappedRoute route, string url)
    {
        var request = new HttpRequestMessage(new HttpMethod(route.Method), url);
        if (route.Method is "POST" or "PUT")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        return request;
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code, string what)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{what}: expected {(int)status}, got {(int)response.StatusCode} {body}");
        if (what.Contains(" /v2", StringComparison.Ordinal))
        {
            // Open Inference Protocol's routes answer the protocol's error object, with the same status and request id.
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            using var error = JsonDocument.Parse(body);
            Assert.Equal(["error"], error.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.False(string.IsNullOrEmpty(error.RootElement.GetProperty("error").GetString()), what);
            Assert.False(string.IsNullOrEmpty(response.Headers.GetValues("X-Request-Id").Single()));
            return;
        }

        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(code, problem.RootElement.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("requestId").GetString()));
        Assert.Equal(problem.RootElement.GetProperty("requestId").GetString(), response.Headers.GetValues("X-Request-Id").Single());
    }
}
