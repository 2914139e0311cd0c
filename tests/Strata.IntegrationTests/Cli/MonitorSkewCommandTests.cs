using System.Text.Json;
using Microsoft.Data.Sqlite;
using Strata.Features;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

/// <summary>`strata monitor skew` over a local home whose enriching endpoint logged predictions.</summary>
public sealed class MonitorSkewCommandTests : IDisposable
{
    private readonly TempFolder _folder = new("monitor-skew-cli");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact]
    public async Task Skew_of_online_only_trips_exits_4_and_names_the_skewed_features()
    {
        await using (var home = await StrataHome.OpenAsync(_folder.Path))
        {
            await using var features = new FeatureStores(home.Metadata, new EmbeddedFeatureBackend(home.Path));
            await RidesSeed.SeedAsync(home, features);
            await ServeFaresAsync(home, features, _folder.Path, [7]);
        }

        var result = await Cli.RunAsync("--home", _folder.Path, "monitor", "skew", "fares", "-p", "rides", "--service", "pricing", "--json");

        Assert.Equal(4, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal("skewed", json.RootElement.GetProperty("status").GetString());
        var byName = json.RootElement.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("feature").GetString()!);
        Assert.Equal(1.0, byName["driver_trips:trips_1h"].GetProperty("mismatch_share").GetDouble()); // served 3 trips, offline none
        Assert.Equal("insufficient_data", byName["driver_trips:fare_mean_1d"].GetProperty("status").GetString()); // no offline mean to compare
        Assert.Equal(1, byName["driver_trips:fare_mean_1d"].GetProperty("unmatched").GetInt32());
        Assert.Equal("fare_ratios:fare_per_mile", json.RootElement.GetProperty("not_compared")[0].GetString());
    }

    [Fact]
    public async Task Monitor_run_evaluates_a_declared_skew_monitor_stores_it_for_status_and_report_and_never_counts_a_window_twice()
    {
        var drivers = Enumerable.Range(100, 30).Select(d => (long?)d).ToArray();
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        await using (var home = await StrataHome.OpenAsync(_folder.Path))
        {
            await using var features = new FeatureStores(home.Metadata, new EmbeddedFeatureBackend(home.Path));
            await RidesSeed.SeedAsync(home, features);
            var store = await features.GetAsync("rides");
            await store.PushAsync("trips", Table.From(
                ("driver_id", Columns.Int64([.. drivers, .. drivers])),
                ("ts", Columns.Timestamp([.. drivers.Concat(drivers).Select((_, i) => (long?)(now - 2_000_000 + i))])),
                ("fare", Columns.Float64([.. drivers.Select(d => (double?)d), .. drivers.Select(d => (double?)(d + 10))]))), PushTarget.OnlineAndOffline);
            // A third trip (at the mean fare) reaches the online store only: trips_1h is skewed, fare_mean_1d is not.
            await store.PushAsync("trips", Table.From(
                ("driver_id", Columns.Int64(drivers)), ("ts", Columns.Timestamp([.. drivers.Select(_ => (long?)(now - 1_000_000))])),
                ("fare", Columns.Float64([.. drivers.Select(d => (double?)(d + 5))]))), PushTarget.Online);
            await ServeFaresAsync(home, features, _folder.Path, [.. drivers.Select(d => d!.Value)]);
        }

        var config = Path.Combine(_folder.Path, "strata.yaml");
        await File.WriteAllTextAsync(config, """
            endpoints:
              - { name: fares, project: rides, model: fare/1, feature_service: pricing }
            monitors:
              - { name: fares-skew, endpoint: fares, model: fare, window: 1h, checks: [skew], skew: { min_rows: 20 } }
            """);
        var until = (now + (2 * 3_600_000_000L)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var report = Path.Combine(_folder.Path, "report.html");

        var run = await Cli.RunAsync("--home", _folder.Path, "monitor", "run", "--config", config, "--until", until, "--json");
        var again = await Cli.RunAsync("--home", _folder.Path, "monitor", "run", "fares", "--config", config, "--until", until, "--json");
        var status = await Cli.RunAsync("--home", _folder.Path, "monitor", "status", "fares", "-p", "rides", "--json");
        var html = await Cli.RunAsync("--home", _folder.Path, "monitor", "report", "fares", "-p", "rides", "--out", report);

        Assert.True(run.ExitCode == 4, run.Error + run.Out);
        using var ran = JsonDocument.Parse(run.Out);
        var result = Assert.Single(ran.RootElement[0].GetProperty("results").EnumerateArray());
        Assert.Equal(("skew", "skewed"), (result.GetProperty("check").GetString(), result.GetProperty("status").GetString()));
        Assert.Equal(["driver_trips:trips_1h"], result.GetProperty("details").GetProperty("skewed").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(0, again.ExitCode);
        using var second = JsonDocument.Parse(again.Out);
        Assert.Empty(second.RootElement[0].GetProperty("results").EnumerateArray());
        using var latest = JsonDocument.Parse(status.Out);
        Assert.Equal("skewed", Assert.Single(latest.RootElement.EnumerateArray()).GetProperty("status").GetString());
        Assert.Equal(0, html.ExitCode);
        Assert.Contains("Training–serving skew", await File.ReadAllTextAsync(report), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Monitor_run_of_a_skew_monitor_on_an_endpoint_without_a_feature_service_is_bad_input_naming_it()
    {
        await using (var home = await StrataHome.OpenAsync(_folder.Path))
        {
            await using var features = new FeatureStores(home.Metadata, new EmbeddedFeatureBackend(home.Path));
            await RidesSeed.SeedAsync(home, features);
        }

        var config = Path.Combine(_folder.Path, "strata.yaml");
        await File.WriteAllTextAsync(config, """
            endpoints:
              - { name: plain, project: rides, model: fare/1 }
            monitors:
              - { name: plain-skew, endpoint: plain, model: fare, checks: [skew] }
            """);

        var run = await Cli.RunAsync("--home", _folder.Path, "monitor", "run", "--config", config);

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("endpoint 'plain' has no feature service", run.Error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Serves one request per driver (distance 4) through the rides seed's "fares" endpoint, which enriches from feature
    /// service "pricing", and closes the prediction log so the monitors can read it.
    /// </summary>
    internal static async Task ServeFaresAsync(StrataHome home, FeatureStores features, string folder, long[] drivers)
    {
        await using var runtime = new ServingRuntime(home.Metadata, home.Artifacts, features, new MetricRegistry(),
            new ServingOptions { PredictionLogFolder = Path.Combine(folder, "predictions") });
        await runtime.StartAsync([new Deployment { Name = "fares", Project = "rides", Model = "fare/1", FeatureService = "pricing" }], new Actor("test"));
        foreach (var driver in drivers)
        {
            await runtime.PredictAsync(new PredictionRequest
            {
                Endpoint = "fares",
                RequestId = $"r{driver}",
                Input = new PredictionInput(1, new Dictionary<string, InputColumn> { ["driver_id"] = InputColumn.OfNumbers([driver]), ["distance"] = InputColumn.OfNumbers([4]) }),
            });
        }

        await runtime.FlushPredictionLogAsync();
    }
}

/// <summary>`strata monitor skew --postgres` and `strata monitor run --postgres`: metadata and offline store in PostgreSQL.</summary>
[RequiresPostgres]
public sealed class PostgresMonitorSkewCommandTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _folder = new("monitor-skew-cli-pg");
    private string _connectionString = "";
    private PostgresTestDatabase? _database;

    public async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        _connectionString = _database.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    public void Dispose() => _folder.Dispose();

    [BackendFact]
    public async Task Skew_and_a_declared_skew_monitor_read_the_postgres_offline_store()
    {
        await using (var home = await StrataHome.OpenAsync(_folder.Path, await Strata.Postgres.PostgresMetadataStore.OpenAsync(_connectionString)))
        {
            await using var features = new FeatureStores(home.Metadata, new Strata.Postgres.PostgresFeatureBackend(_connectionString));
            await RidesSeed.SeedAsync(home, features);
            await MonitorSkewCommandTests.ServeFaresAsync(home, features, _folder.Path, [7]);
        }

        var config = Path.Combine(_folder.Path, "strata.yaml");
        await File.WriteAllTextAsync(config, """
            endpoints:
              - { name: fares, project: rides, model: fare/1, feature_service: pricing }
            monitors:
              - { name: fares-skew, endpoint: fares, model: fare, window: 1h, checks: [skew], skew: { min_rows: 1 } }
            """);
        var until = (Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) + (2 * 3_600_000_000L)).ToString(System.Globalization.CultureInfo.InvariantCulture);

        var skew = await Cli.RunAsync("--home", _folder.Path, "monitor", "skew", "fares", "-p", "rides", "--service", "pricing", "--postgres", _connectionString, "--json");
        var run = await Cli.RunAsync("--home", _folder.Path, "monitor", "run", "--config", config, "--until", until, "--postgres", _connectionString, "--json");

        Assert.True(skew.ExitCode == 4, skew.Error + skew.Out);
        using var json = JsonDocument.Parse(skew.Out);
        var byName = json.RootElement.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("feature").GetString()!);
        Assert.Equal("skewed", byName["driver_trips:trips_1h"].GetProperty("status").GetString()); // 3 trips online, none offline
        Assert.Equal(1, byName["driver_trips:fare_mean_1d"].GetProperty("unmatched").GetInt32());
        Assert.True(run.ExitCode == 4, run.Error + run.Out);
        using var ran = JsonDocument.Parse(run.Out);
        Assert.Equal("skewed", Assert.Single(ran.RootElement[0].GetProperty("results").EnumerateArray()).GetProperty("status").GetString());
    }
}
