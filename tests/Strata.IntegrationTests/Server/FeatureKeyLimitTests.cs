using System.Net;
using System.Net.Http.Json;
using System.Text;
using Strata.Security;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// A key limited to endpoints on the feature routes: it reads the feature services of the endpoints it may call and
/// nothing else (another service, a list of features, pushes, materializations), each refused with a 403 that says why.
/// </summary>
public sealed class FeatureKeyLimitTests : IAsyncLifetime
{
    private ServingServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ServingServer.StartAsync();
        await RidesSeed.SeedAsync(_server.State.Home, _server.State.Features);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_key_limited_to_endpoints_reads_only_the_feature_services_of_those_endpoints()
    {
        await _server.DeployAsync("e_fares", new { project = "rides", model = "fare/1", feature_service = "pricing" });
        await _server.DeployAsync("e_plain", new { project = "rides", model = "fare/1" });
        var limited = await _server.Registry.CreateKeyAsync(Caller.Local, "rides", "fares-client", Role.Editor, null);
        var plain = await _server.Registry.CreateKeyAsync(Caller.Local, "rides", "plain-client", Role.Editor, null);
        using (var root = _server.Http("root"))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await root.PutAsJsonAsync($"/v1/keys/{limited.Key.Id}/endpoints", new { endpoints = new[] { "e_fares" } })).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await root.PutAsJsonAsync($"/v1/keys/{plain.Key.Id}/endpoints", new { endpoints = new[] { "e_plain" } })).StatusCode);
        }

        using var http = Client(limited.Token);
        const string Service = """{"feature_service": "pricing", "entities": {"driver_id": [7], "distance": [9]}}""";
        const string List = """{"features": ["driver_trips:trips_1h"], "entities": {"driver_id": [7]}}""";

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/get-online-features", Json(Service))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/api/v1/projects/rides/features/online", Json(Service))).StatusCode);
        await AssertForbiddenAsync(await http.PostAsync("/get-online-features", Json(List)), "not a list of features; it may read feature service 'pricing'");
        await AssertForbiddenAsync(await http.PostAsync("/api/v1/projects/rides/features/online", Json(List)), "not a list of features");
        await AssertForbiddenAsync(await http.PostAsync("/get-online-features", Json("""{"feature_service": "other", "entities": {"driver_id": [7]}}""")), "not 'other'");
        await AssertForbiddenAsync(await http.PostAsync("/push", Json("""{"push_source_name": "trips", "df": {"driver_id": [7], "ts": ["2026-01-01T00:00:00Z"], "fare": [1.0]}}""")), "may not push");
        await AssertForbiddenAsync(await http.PostAsync("/materialize-incremental", Json("""{"end_ts": "2026-01-01T00:00:00Z"}""")), "may not materialize");

        // A key whose endpoints read no feature service reads none; a key without a limit reads as its role allows.
        using var plainHttp = Client(plain.Token);
        await AssertForbiddenAsync(await plainHttp.PostAsync("/get-online-features", Json(Service)), "none of them enriches from a feature service of project 'rides'");
        using var editor = _server.Http("root");
        Assert.Equal(HttpStatusCode.OK, (await editor.PostAsync("/get-online-features?project=rides", Json(List))).StatusCode);
    }

    private HttpClient Client(string token)
    {
        var http = _server.Http(key: null);
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return http;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task AssertForbiddenAsync(HttpResponseMessage response, string named)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"expected 403, got {(int)response.StatusCode} {body}");
            using var problem = System.Text.Json.JsonDocument.Parse(body);
            var detail = problem.RootElement.GetProperty("detail").GetString()!;
            Assert.Contains("this key is limited to endpoints", detail, StringComparison.Ordinal);
            Assert.Contains(named, detail, StringComparison.Ordinal);
        }
    }
}
