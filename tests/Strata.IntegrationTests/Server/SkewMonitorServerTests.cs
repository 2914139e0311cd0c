using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Features;
using Strata.Server.Hosting;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The skew check run by the server itself: a monitor put through the API on an endpoint enriched from the rides
/// project's "pricing" service, evaluated from the prediction log against the server's offline store (once per backend).
/// </summary>
public abstract class SkewMonitorServerTests : IAsyncLifetime
{
    private const int Drivers = 40;
    private ServingServer _server = null!;

    /// <summary>The PostgreSQL connection string the server stores in, or null for the embedded stores.</summary>
    protected abstract Task<string?> PostgresAsync();

    public async Task InitializeAsync()
    {
        _server = await ServingServer.StartAsync(postgres: await PostgresAsync());
        await RidesSeed.SeedAsync(_server.State.Home, _server.State.Features);
        await _server.DeployAsync("fares", new { project = "rides", model = "fare/1", feature_service = "pricing" });
    }

    public virtual async Task DisposeAsync() => await _server.DisposeAsync();

    [BackendFact]
    public async Task A_skew_monitor_put_through_the_api_is_run_by_the_server_stores_the_skewed_feature_and_posts_the_webhook()
    {
        using var hook = new LoopbackWebhook();
        using var http = _server.Http("root");
        using var put = await http.PutAsJsonAsync("/api/v1/projects/rides/monitors/fares", new
        {
            model = "fare",
            window = "1s",
            checks = new[] { "skew" },
            skew = new { min_rows = 20 },
            alerts = new[] { new { name = "skewed-serving", check = "skew", actions = new[] { new { webhook = hook.Url } } } },
        });
        Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        var store = await _server.State.Features.GetAsync("rides");
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var drivers = Enumerable.Range(100, Drivers).Select(d => (long?)d).ToArray();
        await store.PushAsync("trips", Trips([.. drivers.Concat(drivers)], now - 2_000_000, d => [d, d + 10]), PushTarget.OnlineAndOffline);
        // A third trip reaches the online store only (a push that skipped the offline store): the count differs, the mean
        // (the trip's fare is the mean) does not.
        await store.PushAsync("trips", Trips(drivers, now - 1_000_000, d => [d + 5]), PushTarget.Online);

        var rows = string.Join(',', drivers.Select(d => $$"""{"driver_id": {{d}}, "distance": 4}"""));
        using var predicted = await http.PostAsync("/v1/endpoints/fares/predict", new StringContent($$"""{"rows": [{{rows}}]}""", Encoding.UTF8, "application/json"));
        Assert.True(predicted.IsSuccessStatusCode, await predicted.Content.ReadAsStringAsync());
        await WaitPastAsync(Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) + 1_000_000); // the 1 s window closes
        await _server.Services.GetRequiredService<MonitoringService>().TickAsync(TimeSpan.Zero, CancellationToken.None);
        var results = await http.GetFromJsonAsync<JsonElement>("/api/v1/projects/rides/monitors/fares/results");
        var posted = await hook.Received.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var skew = Assert.Single(results.EnumerateArray(), r => r.GetProperty("check").GetString() == "skew");
        Assert.Equal("skewed", skew.GetProperty("status").GetString());
        using var details = JsonDocument.Parse(skew.GetProperty("details").GetString()!);
        Assert.Equal(["driver_trips:trips_1h"], details.RootElement.GetProperty("skewed").EnumerateArray().Select(e => e.GetString()));
        var byName = details.RootElement.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("feature").GetString()!);
        Assert.Equal((Drivers, 1.0), (byName["driver_trips:trips_1h"].GetProperty("rows_compared").GetInt32(), byName["driver_trips:trips_1h"].GetProperty("mismatch_share").GetDouble()));
        Assert.Equal("no_skew", byName["driver_trips:fare_mean_1d"].GetProperty("status").GetString());
        Assert.Contains("\"rule\":\"skewed-serving\"", posted, StringComparison.Ordinal);
    }

    [BackendTheory]
    [InlineData("plain", """{"model":"fare","checks":["skew"]}""", HttpStatusCode.BadRequest, "has no feature service")]
    [InlineData("fares", """{"model":"fare","checks":["skew"],"skew":{"features":{"fare_max":0.1}}}""", HttpStatusCode.BadRequest, "skew.features.fare_max")]
    [InlineData("fares", """{"model":"fare","checks":["skew"],"skew":{"threshold":1.5}}""", HttpStatusCode.BadRequest, "skew.threshold")]
    [InlineData("fares", """{"model":"fare","checks":["skew"],"skew":{"service":"surge"}}""", HttpStatusCode.BadRequest, "surge")]
    public async Task A_bad_skew_monitor_is_a_client_error_naming_what_is_wrong(string endpoint, string body, HttpStatusCode status, string named)
    {
        await _server.DeployAsync("plain", new { project = "rides", model = "fare/1" });
        using var http = _server.Http("root");

        using var response = await http.PutAsync($"/api/v1/projects/rides/monitors/{endpoint}", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode} {problem}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(named, problem, StringComparison.Ordinal);
    }

    private static Table Trips(long?[] drivers, long time, Func<long, double[]> fares)
    {
        var ids = drivers.Distinct().ToArray();
        var perDriver = drivers.Length / ids.Length;
        var id = new List<long?>();
        var fare = new List<double?>();
        foreach (var d in ids)
        {
            foreach (var f in fares(d!.Value).Take(perDriver))
            {
                id.Add(d);
                fare.Add(f);
            }
        }

        return Table.From(("driver_id", Columns.Int64([.. id])), ("ts", Columns.Timestamp([.. id.Select((_, i) => (long?)(time + i))])), ("fare", Columns.Float64([.. fare])));
    }

    private static async Task WaitPastAsync(long micros)
    {
        while (Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) <= micros)
        {
            await Task.Delay(50);
        }
    }
}

/// <summary>Over the embedded stores.</summary>
public sealed class EmbeddedSkewMonitorServerTests : SkewMonitorServerTests
{
    protected override Task<string?> PostgresAsync() => Task.FromResult<string?>(null);
}

/// <summary>Over PostgreSQL metadata, offline and online stores.</summary>
[RequiresPostgres]
public sealed class PostgresSkewMonitorServerTests : SkewMonitorServerTests
{
    private PostgresTestDatabase? _database;

    protected override async Task<string?> PostgresAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        return _database.ConnectionString;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
