using System.Text.Json;
using Microsoft.Data.Sqlite;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Monitoring.Skew;
using Strata.Serving;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Monitoring;

/// <summary>Training–serving skew over the embedded feature store: served values (read online) against point-in-time offline values.</summary>
public sealed class TrainingServingSkewTests : IAsyncLifetime, IDisposable
{
    private const string Project = "drivers";
    private const int Drivers = 100;
    private const long Hour = 3_600_000_000;
    private static readonly long T0 = Timestamp.FromDateTime(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
    private static readonly FeatureReference[] Features = [new("driver_daily", "rating"), new("driver_daily", "trips")];

    private const string Definitions = """
        entities:
          - name: driver
            join_keys:
              - { name: driver_id, type: int64 }
        sources:
          - name: stats
            kind: push
            timestamp_field: ts
            schema:
              - { name: driver_id, type: int64 }
              - { name: ts, type: timestamp }
              - { name: rating, type: float64 }
              - { name: trips, type: int64 }
        feature_views:
          - name: driver_daily
            entities: [driver]
            source: stats
            ttl: 2d
            features:
              - { name: rating, type: float64 }
              - { name: trips, type: int64 }
        """;

    private readonly TempFolder _folder = new("skew");
    private IMetadataStore? _metadata;
    private FeatureStores? _stores;

    private FeatureStores Stores => _stores!;

    public async Task InitializeAsync()
    {
        _metadata = await SqliteMetadataStore.OpenAsync(_folder.File("strata.db"));
        _stores = new FeatureStores(_metadata, new EmbeddedFeatureBackend(_folder.Path),
            new ManualClock(DateTimeOffset.FromUnixTimeMilliseconds((T0 + (2 * Hour)) / 1000), TimeSpan.FromMilliseconds(1)));
        await _metadata.Projects.CreateAsync(Project, null, Actor.Local);
        await new FeatureRegistry(_metadata).ApplyAsync(Project, FeatureRepositoryYaml.Parse([("drivers.yaml", Definitions)]), force: false, Actor.Local);
        var store = await Stores.GetAsync(Project);
        var ids = Enumerable.Range(1, Drivers).Select(i => (long?)i).ToArray();
        await store.PushAsync("stats", Table.From(
            ("driver_id", Columns.Int64(ids)),
            ("ts", Columns.Timestamp(ids.Select(_ => (long?)T0).ToArray())),
            ("rating", Columns.Float64(ids.Select(i => (double?)(i * 0.1)).ToArray())),
            ("trips", Columns.Int64(ids.Select(i => i * 3).ToArray()))), PushTarget.OnlineAndOffline);
    }

    public async Task DisposeAsync()
    {
        await Stores.DisposeAsync();
        await _metadata!.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Consistent_online_and_offline_values_show_no_skew()
    {
        var store = await Stores.GetAsync(Project);
        var records = await ServedAsync(store, T0 + Hour);

        var result = await TrainingServingSkew.CheckAsync(store, Features, records);

        Assert.Equal(SkewStatus.NoSkew, result.Status);
        Assert.All(result.Features, f =>
        {
            Assert.Equal(Drivers, f.RowsCompared);
            Assert.Equal(0, f.Mismatched);
            Assert.Equal(0.0, f.MeanAbsoluteDifference);
        });
    }

    [Fact]
    public async Task A_value_pushed_online_only_flags_that_feature_with_its_share()
    {
        var store = await Stores.GetAsync(Project);
        await store.PushAsync("stats", Table.From(
            ("driver_id", Columns.Int64(1, 2, 3)),
            ("ts", Columns.Timestamp(T0 + 1, T0 + 1, T0 + 1)),
            ("rating", Columns.Float64(5.1, 5.2, 5.3)),
            ("trips", Columns.Int64(3, 6, 9))), PushTarget.Online);
        var records = await ServedAsync(store, T0 + Hour);

        var result = await TrainingServingSkew.CheckAsync(store, Features, records);

        Assert.Equal(SkewStatus.Skewed, result.Status);
        var rating = Assert.Single(result.Features, f => f.Feature == "driver_daily:rating");
        Assert.Equal(SkewStatus.Skewed, rating.Status);
        Assert.Equal(3, rating.Mismatched);
        Assert.Equal(0.03, rating.MismatchShare, 12);
        Assert.Equal((5.0 + 5.0 + 5.0) / Drivers, rating.MeanAbsoluteDifference!.Value, 9);
        var trips = Assert.Single(result.Features, f => f.Feature == "driver_daily:trips");
        Assert.Equal(SkewStatus.NoSkew, trips.Status); // same trips pushed: unchanged
    }

    [Fact]
    public async Task A_per_feature_threshold_above_the_share_keeps_the_feature_unskewed()
    {
        var store = await Stores.GetAsync(Project);
        await store.PushAsync("stats", Table.From(
            ("driver_id", Columns.Int64(1)), ("ts", Columns.Timestamp(T0 + 1)), ("rating", Columns.Float64(9.0)), ("trips", Columns.Int64(3))), PushTarget.Online);
        var records = await ServedAsync(store, T0 + Hour);

        var result = await TrainingServingSkew.CheckAsync(store, Features, records, new SkewOptions { Thresholds = new Dictionary<string, double> { ["rating"] = 0.05 } });

        Assert.Equal(SkewStatus.NoSkew, result.Status);
        Assert.Equal(1, result.Features[0].Mismatched);
    }

    [Fact]
    public async Task A_served_null_against_a_stored_value_is_a_mismatch()
    {
        var store = await Stores.GetAsync(Project);
        var records = new[] { Record(T0 + Hour, new Dictionary<string, object?> { ["driver_id"] = 4L, ["rating"] = null, ["trips"] = 12L }) };

        var result = await TrainingServingSkew.CheckAsync(store, Features, records, new SkewOptions());

        Assert.Equal(1, result.Features[0].Mismatched);
        Assert.Equal(SkewStatus.Skewed, result.Features[0].Status);
        Assert.Equal(SkewStatus.NoSkew, result.Features[1].Status);
    }

    [Fact]
    public async Task Records_without_entity_keys_are_insufficient_data_not_no_skew()
    {
        var store = await Stores.GetAsync(Project);
        var records = Enumerable.Range(0, 10).Select(i => Record(T0 + Hour, new Dictionary<string, object?> { ["rating"] = 0.5, ["trips"] = 15L })).ToArray();

        var result = await TrainingServingSkew.CheckAsync(store, Features, records);

        Assert.Equal(SkewStatus.InsufficientData, result.Status);
        Assert.Equal(10, result.RowsWithoutKeys);
        Assert.All(result.Features, f => Assert.Equal((0, SkewStatus.InsufficientData), (f.RowsCompared, f.Status)));
    }

    [Fact]
    public async Task Entities_the_offline_store_has_no_rows_for_are_unmatched_and_insufficient_data_not_no_skew()
    {
        var store = await Stores.GetAsync(Project);
        var records = Enumerable.Range(1000, 10).Select(i => Record(T0 + Hour, new Dictionary<string, object?> { ["driver_id"] = (long)i, ["rating"] = 0.5, ["trips"] = 15L })).ToArray();

        var result = await TrainingServingSkew.CheckAsync(store, Features, records);

        Assert.Equal(SkewStatus.InsufficientData, result.Status);
        Assert.All(result.Features, f => Assert.Equal((0, 10, 0, SkewStatus.InsufficientData), (f.RowsCompared, f.Unmatched, f.Mismatched, f.Status)));
    }

    [Fact]
    public async Task Below_the_minimum_of_matched_rows_a_mismatch_is_still_insufficient_data()
    {
        var store = await Stores.GetAsync(Project);
        var records = new[] { Record(T0 + Hour, new Dictionary<string, object?> { ["driver_id"] = 4L, ["rating"] = 9.9, ["trips"] = 12L }) };

        var result = await TrainingServingSkew.CheckAsync(store, Features, records, new SkewOptions { MinRows = 2 });

        Assert.Equal(SkewStatus.InsufficientData, result.Status);
        Assert.Equal((1, 1), (result.Features[0].RowsCompared, result.Features[0].Mismatched));
    }

    [Fact]
    public async Task At_most_max_rows_are_read()
    {
        var store = await Stores.GetAsync(Project);
        var records = await ServedAsync(store, T0 + Hour);

        var result = await TrainingServingSkew.CheckAsync(store, Features, records, new SkewOptions { MaxRows = 40 });

        Assert.Equal((40, 40), (result.Records, result.Rows));
        Assert.All(result.Features, f => Assert.Equal(40, f.RowsCompared));
    }

    [Fact]
    public async Task The_prediction_log_is_read_for_the_endpoint_and_the_time_range_only()
    {
        var store = await Stores.GetAsync(Project);
        var folder = _folder.File("predictions");
        Directory.CreateDirectory(folder);
        await File.WriteAllLinesAsync(Path.Combine(folder, "0001.jsonl"),
        [
            Line("pricing", T0 + Hour, 1, 0.1), // matches
            Line("pricing", T0 + Hour, 2, 7.0), // differs
            Line("pricing", T0 + (5 * Hour), 3, 7.0), // after --to
            Line("other", T0 + Hour, 4, 7.0), // another endpoint
        ]);

        var result = await TrainingServingSkew.CheckAsync(store, [Features[0]], folder, "pricing", T0, T0 + (2 * Hour));

        Assert.Equal(2, result.Records);
        var rating = Assert.Single(result.Features);
        Assert.Equal((2, 1, SkewStatus.Skewed), (rating.RowsCompared, rating.Mismatched, rating.Status));
        Assert.Equal(0.5, rating.MismatchShare, 12);
    }

    private static string Line(string endpoint, long time, long driver, double rating) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["v"] = 1, ["time"] = time, ["request_id"] = $"r{driver}", ["endpoint"] = endpoint, ["project"] = Project, ["model"] = "m", ["version"] = 1,
        ["role"] = "champion", ["latency_ms"] = 1.0,
        ["rows"] = new[] { new Dictionary<string, object> { ["inputs"] = new Dictionary<string, object> { ["driver_id"] = driver, ["rating"] = rating }, ["value"] = 1.0 } },
    });

    /// <summary>One record per driver, as an enriching endpoint logs it: the key and the online store's values at that time.</summary>
    private static async Task<PredictionRecord[]> ServedAsync(FeatureStore store, long time)
    {
        var ids = Enumerable.Range(1, Drivers).Select(i => (long?)i).ToArray();
        var online = await store.GetOnlineFeaturesAsync(Features, Table.From(("driver_id", Columns.Int64(ids))));
        return ids.Select((id, r) => Record(time, new Dictionary<string, object?>
        {
            ["driver_id"] = id,
            ["rating"] = online.Values[0][r].Value,
            ["trips"] = online.Values[1][r].Value,
        })).ToArray();
    }

    private static PredictionRecord Record(long time, Dictionary<string, object?> inputs) => new()
    {
        Time = time,
        Endpoint = "pricing",
        Project = Project,
        Rows = [new PredictionRow(inputs.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value)), null, null, 1.0)],
    };
}
