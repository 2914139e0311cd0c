using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Strata.Features;
using Strata.Monitoring;
using Strata.Monitoring.Reports;
using Strata.Monitoring.Skew;
using Strata.Postgres;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Monitoring;

/// <summary>
/// Skew over a real enriching endpoint's prediction log (the rides project), run once per offline store: the skew
/// check alone and as a declared monitor's check, with stored results and alerts.
/// </summary>
public abstract class TrainingServingSkewEndToEndTests : IAsyncLifetime, IDisposable
{
    private const string Endpoint = "fares";
    private const int Drivers = 40;
    private const long Hour = 3_600_000_000L;
    private readonly TempFolder _folder = new("strata-skew-e2e");
    private StrataHome _home = null!;
    private FeatureStores _features = null!;

    private string LogFolder => Path.Combine(_folder.Path, "predictions");

    /// <summary>Opens the home and the feature stores of the backend under test.</summary>
    protected abstract Task<(StrataHome Home, FeatureStores Features)> OpenAsync(string folder);

    public async Task InitializeAsync()
    {
        (_home, _features) = await OpenAsync(_folder.Path);
        await RidesSeed.SeedAsync(_home, _features);
    }

    public virtual async Task DisposeAsync()
    {
        await _features.DisposeAsync();
        await _home.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public void Dispose()
    {
        _folder.Dispose();
        GC.SuppressFinalize(this);
    }

    [BackendFact]
    public async Task Trips_pushed_online_only_skew_the_count_leave_the_mean_unmatched_and_on_demand_features_are_not_compared()
    {
        await ServeAsync(7, 8, 7);
        var store = await _features.GetAsync("rides");

        var result = await TrainingServingSkew.CheckAsync(store, store.Resolve(null, "pricing"), LogFolder, Endpoint);

        Assert.Equal(SkewStatus.Skewed, result.Status);
        Assert.Equal(3, result.Records);
        Assert.Equal(["fare_ratios:fare_per_mile"], result.NotCompared);
        var mean = Assert.Single(result.Features, f => f.Feature == "driver_trips:fare_mean_1d");
        Assert.Equal((0, 3, 0, SkewStatus.InsufficientData), (mean.RowsCompared, mean.Unmatched, mean.Mismatched, mean.Status)); // served 30 / 5, stored nothing
        Assert.Null(mean.MeanAbsoluteDifference);
        var count = Assert.Single(result.Features, f => f.Feature == "driver_trips:trips_1h");
        Assert.Equal((3, 3, SkewStatus.Skewed), (count.RowsCompared, count.Mismatched, count.Status)); // served 3 / 1, a training set would count 0
    }

    [BackendFact]
    public async Task A_monitor_flags_the_one_feature_served_off_by_one_stores_the_result_and_fires_its_alert()
    {
        var now = await PushTripsAsync();
        await ServeAsync([.. Enumerable.Range(100, Drivers).Select(d => (long)d)]);
        ServeWithBug("fare_mean_1d", v => v + 1); // a transformation bug in serving: the mean is served one too high
        using var hook = new LoopbackWebhook();

        var results = await MonitorAsync(hook, now);

        var skew = Assert.Single(results);
        Assert.Equal((MonitorChecks.Skew, "skewed", 1.0), (skew.Check, skew.Status, skew.Score));
        var details = SkewResults.ReadDetails(skew.Details)!;
        Assert.Equal(["driver_trips:fare_mean_1d"], details.Skewed);
        var mean = Assert.Single(details.Features, f => f.Feature == "driver_trips:fare_mean_1d");
        Assert.Equal((Drivers, Drivers, 1.0), (mean.RowsCompared, mean.Mismatched, mean.MeanAbsoluteDifference));
        var trips = Assert.Single(details.Features, f => f.Feature == "driver_trips:trips_1h");
        Assert.Equal((Drivers, 0, "no_skew"), (trips.RowsCompared, trips.Mismatched, trips.Status));
        Assert.Equal(["fare_ratios:fare_per_mile"], details.NotCompared);
        var stored = await _home.Metadata.Monitoring.ListResultsAsync("rides", new MonitorResultQuery(Endpoint, Check: MonitorChecks.Skew));
        Assert.Equal([(skew.WindowStart, "skewed")], stored.Select(r => (r.WindowStart, r.Status)));
        var posted = Assert.Single(hook.Bodies);
        Assert.Contains("\"rule\":\"skewed-serving\"", posted, StringComparison.Ordinal);
        Assert.Contains("skew in 1 consecutive window", posted, StringComparison.Ordinal);
    }

    [BackendFact]
    public async Task Consistent_serving_is_no_skew_and_fires_nothing()
    {
        var now = await PushTripsAsync();
        await ServeAsync([.. Enumerable.Range(100, Drivers).Select(d => (long)d)]);
        using var hook = new LoopbackWebhook();

        var results = await MonitorAsync(hook, now);

        var skew = Assert.Single(results);
        Assert.Equal(("no_skew", 0.0), (skew.Status, skew.Score));
        Assert.Empty(hook.Bodies);
    }

    [BackendFact]
    public async Task Too_few_rows_matched_in_the_offline_store_is_insufficient_data_and_fires_no_alert()
    {
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        await ServeAsync(7, 8, 7, 8); // trips of drivers 7 and 8 were pushed online only
        ServeWithBug("fare_mean_1d", v => v + 1);
        using var hook = new LoopbackWebhook();

        var results = await MonitorAsync(hook, now);

        var skew = Assert.Single(results);
        Assert.Equal(("insufficient_data", null, 4L), (skew.Status, skew.Score, skew.Rows));
        var features = SkewResults.ReadDetails(skew.Details)!.Features;
        Assert.Equal((0, 4, "insufficient_data"), features.Where(f => f.Feature == "driver_trips:fare_mean_1d").Select(f => (f.RowsCompared, f.Unmatched, f.Status)).Single());
        Assert.Equal((4, "insufficient_data"), features.Where(f => f.Feature == "driver_trips:trips_1h").Select(f => (f.RowsCompared, f.Status)).Single()); // 4 < min_rows 20
        Assert.Empty(hook.Bodies);
    }

    [BackendFact]
    public async Task A_skew_check_needs_a_feature_service_known_features_and_a_baseline()
    {
        var store = await _features.GetAsync("rides");
        var spec = Spec("http://127.0.0.1:9/hook");

        var noService = Assert.Throws<StrataException>(() => SkewBaseline.Create(store, spec, endpointService: null));
        var unknownService = Assert.Throws<StrataException>(() => SkewBaseline.Create(store, spec with { SkewService = "surge" }, "pricing"));
        var unknownFeature = Assert.Throws<StrataException>(() => SkewBaseline.Create(
            store, spec with { Skew = spec.Skew with { Thresholds = new Dictionary<string, double> { ["fare_max_1d"] = 0.1 } } }, "pricing"));
        var onDemandOnly = Assert.Throws<StrataException>(() => SkewBaseline.Create(
            store, spec with { Skew = spec.Skew with { Thresholds = new Dictionary<string, double> { ["fare_per_mile"] = 0.1 } } }, "pricing"));
        var noBaseline = Assert.Throws<StrataException>(() => new MonitorRunner("rides", spec, Reference(), _home.Metadata.Monitoring));

        Assert.Equal(ErrorCodes.ArgumentInvalid, noService.Code);
        Assert.Contains("endpoint 'fares' has no feature service", noService.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.NotFound, unknownService.Code);
        Assert.Contains("surge", unknownService.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.ArgumentInvalid, unknownFeature.Code);
        Assert.Contains("field 'skew.features.fare_max_1d'", unknownFeature.Message, StringComparison.Ordinal);
        Assert.Contains("field 'skew.features.fare_per_mile'", onDemandOnly.Message, StringComparison.Ordinal); // on-demand: not compared
        Assert.Equal(ErrorCodes.ArgumentInvalid, noBaseline.Code);
    }

    [BackendFact]
    public async Task The_report_shows_the_skewed_feature_and_its_mismatch_share_over_time()
    {
        var now = await PushTripsAsync();
        await ServeAsync([.. Enumerable.Range(100, Drivers).Select(d => (long)d)]);
        ServeWithBug("fare_mean_1d", v => v + 1);
        var runner = await RunnerAsync(Spec("http://127.0.0.1:9/hook") with { Alerts = [] }, alerts: null);
        await new PredictionLogFeed(LogFolder, Endpoint).FeedAsync(runner);
        await runner.EvaluateAsync(WindowEnd(now), Actor.Local);
        var stored = await _home.Metadata.Monitoring.ListResultsAsync("rides", new MonitorResultQuery(Endpoint));

        var html = MonitorReport.Html("fares", stored);

        Assert.Contains("Training–serving skew", html, StringComparison.Ordinal);
        Assert.Contains("<td>driver_trips:fare_mean_1d</td>", html, StringComparison.Ordinal);
        Assert.Contains("skewed", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Trips of drivers 100.. pushed online and offline two seconds ago (two each); returns now.</summary>
    private async Task<long> PushTripsAsync()
    {
        var store = await _features.GetAsync("rides");
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var drivers = Enumerable.Range(100, Drivers).SelectMany(d => new long?[] { d, d }).ToArray();
        await store.PushAsync("trips", Table.From(
            ("driver_id", Columns.Int64(drivers)),
            ("ts", Columns.Timestamp([.. drivers.Select((_, i) => (long?)(now - 2_000_000 - i))])),
            ("fare", Columns.Float64([.. drivers.Select((d, i) => (double?)(d!.Value + (i % 2 * 10)))]))), PushTarget.OnlineAndOffline);
        return now;
    }

    /// <summary>Runs the skew monitor (alert to <paramref name="hook"/>) over the log and evaluates the window of <paramref name="now"/>.</summary>
    private async Task<IReadOnlyList<MonitorResult>> MonitorAsync(LoopbackWebhook hook, long now)
    {
        using var http = new HttpClient();
        var alerts = new AlertDispatcher(http, _home.Metadata.Audit, null);
        await using (alerts)
        {
            var runner = await RunnerAsync(Spec(hook.Url), alerts);
            await new PredictionLogFeed(LogFolder, Endpoint).FeedAsync(runner);
            var results = await runner.EvaluateAsync(WindowEnd(now), Actor.Local);
            await alerts.FlushAsync();
            return results;
        }
    }

    private static long WindowEnd(long now) => ((now / Hour) + 2) * Hour;

    private static MonitorSpec Spec(string hook) => MonitorConfig.Parse($$"""
        monitors:
          - name: fares-skew
            endpoint: fares
            model: fare
            window: 1h
            checks: [skew]
            skew: { threshold: 0.05, min_rows: 20, features: { trips_1h: 0.01 } }
            alerts:
              - { name: skewed-serving, check: skew, actions: [{ webhook: "{{hook}}" }] }
        """).Single();

    private async Task<MonitorRunner> RunnerAsync(MonitorSpec spec, AlertDispatcher? alerts)
    {
        var store = await _features.GetAsync("rides");
        return new MonitorRunner("rides", spec, Reference(), _home.Metadata.Monitoring, alerts, SkewBaseline.Create(store, spec, "pricing"));
    }

    /// <summary>A reference over the model's inputs (the skew check does not read it; drift checks would).</summary>
    private static Strata.Monitoring.Drift.DriftProfile Reference()
    {
        var values = Enumerable.Range(0, 50).Select(i => (double?)i).ToArray();
        var table = Table.From(("trips_1h", Columns.Float64(values)), ("fare_mean_1d", Columns.Float64(values)), ("fare_per_mile", Columns.Float64(values)));
        var layout = new Strata.Monitoring.Drift.DriftLayoutBuilder();
        layout.Add(table);
        return Strata.Monitoring.Drift.DriftProfileBuilder.Profile(layout.Build(), table);
    }

    /// <summary>Rewrites every logged row's <paramref name="field"/> as a buggy serving path would have sent it.</summary>
    private void ServeWithBug(string field, Func<double, double> bug)
    {
        foreach (var segment in PredictionLogReader.Segments(LogFolder))
        {
            var lines = File.ReadAllLines(segment).Select(line =>
            {
                var record = JsonNode.Parse(line)!.AsObject();
                foreach (var row in record["rows"]!.AsArray())
                {
                    if (row!["inputs"]![field] is JsonValue value && value.TryGetValue<double>(out var number))
                    {
                        row["inputs"]![field] = bug(number);
                    }
                }

                return record.ToJsonString();
            }).ToArray();
            File.WriteAllLines(segment, lines);
        }
    }

    private async Task ServeAsync(params long[] drivers)
    {
        await using var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, _features, new MetricRegistry(), new ServingOptions { PredictionLogFolder = LogFolder });
        await runtime.StartAsync([new Deployment { Name = Endpoint, Project = "rides", Model = "fare/1", FeatureService = "pricing" }], new Actor("test"));
        var n = 0;
        foreach (var driver in drivers)
        {
            await runtime.PredictAsync(new PredictionRequest
            {
                Endpoint = Endpoint,
                RequestId = string.Create(CultureInfo.InvariantCulture, $"r{n++}"),
                Input = new PredictionInput(1, new Dictionary<string, InputColumn> { ["driver_id"] = InputColumn.OfNumbers([driver]), ["distance"] = InputColumn.OfNumbers([4]) }),
            });
        }

        await runtime.FlushPredictionLogAsync();
    }
}

/// <summary>Over SQLite metadata and the embedded offline store.</summary>
public sealed class EmbeddedTrainingServingSkewEndToEndTests : TrainingServingSkewEndToEndTests
{
    protected override async Task<(StrataHome Home, FeatureStores Features)> OpenAsync(string folder)
    {
        var home = await StrataHome.OpenAsync(folder);
        return (home, new FeatureStores(home.Metadata, new EmbeddedFeatureBackend(home.Path)));
    }
}

/// <summary>Over PostgreSQL metadata and the PostgreSQL offline and online stores.</summary>
[RequiresPostgres]
public sealed class PostgresTrainingServingSkewEndToEndTests : TrainingServingSkewEndToEndTests
{
    private PostgresTestDatabase? _database;

    protected override async Task<(StrataHome Home, FeatureStores Features)> OpenAsync(string folder)
    {
        _database = await PostgresTestDatabase.CreateAsync();
        var home = await StrataHome.OpenAsync(folder, await PostgresMetadataStore.OpenAsync(_database.ConnectionString));
        return (home, new FeatureStores(home.Metadata, new PostgresFeatureBackend(_database.ConnectionString)));
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
