using System.Globalization;
using System.Numerics;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Features.OnlineStore;
using Strata.Stores;
using Xunit;

namespace Strata.Testing.Conformance;

/// <summary>
/// The whole <see cref="FeatureStore"/> (training sets, online reads, push, materialization, definition changes) over a
/// metadata store and an <see cref="IFeatureBackend"/>, written once and run per backend by a small sealed subclass.
/// Training sets are checked against naive scans, online values against training sets, so backends agree with each other.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The stores are disposed in DisposeAsync (IAsyncLifetime).")]
public abstract partial class FeatureStoreConformance : IAsyncLifetime
{
    protected const string Project = "drivers";
    protected const long Second = 1_000_000;
    protected const long Minute = 60 * Second;
    protected const long Hour = 60 * Minute;
    protected const long Day = 24 * Hour;
    protected static readonly long T0 = Timestamp.FromDateTime(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
    protected static readonly Actor Tester = new("tester");

    /// <summary>Three kinds of views over two sources: a daily feature view, windows over pushed trips, and on-demand ratios.</summary>
    public const string DefinitionsV1 = """
        entities:
          - name: driver
            join_keys:
              - { name: driver_id, type: int64 }
        sources:
          - name: driver_stats
            kind: file
            path: stats.csv
            format: csv
            timestamp_field: event_ts
            schema:
              - { name: driver_id, type: int64 }
              - { name: event_ts, type: timestamp }
              - { name: rating, type: float64 }
              - { name: trips_today, type: int64 }
          - name: trips
            kind: push
            timestamp_field: ts
            schema:
              - { name: driver_id, type: int64 }
              - { name: ts, type: timestamp }
              - { name: fare, type: float64 }
        feature_views:
          - name: driver_daily
            entities: [driver]
            source: driver_stats
            ttl: 2d
            features:
              - { name: rating, type: float64 }
              - { name: trips_today, type: int64 }
        aggregation_views:
          - name: driver_trips
            entities: [driver]
            source: trips
            ttl: 1d
            aggregations:
              - { name: trips_1h, function: count, window: 1h }
              - { name: fare_sum_1h, function: sum, column: fare, window: 1h }
              - { name: fare_mean_1d, function: mean, column: fare, window: 1d }
              - { name: fare_max_1d, function: max, column: fare, window: 1d }
              - { name: last_fare, function: last, column: fare, window: 1d }
        on_demand_views:
          - name: fare_ratios
            request_fields:
              - { name: distance, type: float64 }
            inputs:
              - driver_trips:fare_mean_1d
              - driver_trips:fare_max_1d
            features:
              - name: fare_per_mile
                type: float64
                expression: driver_trips__fare_mean_1d / (distance + 1)
              - name: mean_to_max
                type: float64
                expression: driver_trips__fare_mean_1d / (driver_trips__fare_max_1d + 1)
        """;

    /// <summary><paramref name="definitions"/> with a tips source (driver_id, ts, tip) pushed to, for views of its own.</summary>
    private static string WithTipsSource(string definitions) => definitions.Replace("sources:\n", """
        sources:
          - name: tips
            kind: push
            timestamp_field: ts
            schema:
              - { name: driver_id, type: int64 }
              - { name: ts, type: timestamp }
              - { name: tip, type: float64 }

        """, StringComparison.Ordinal);

    private static readonly string[] Windows = ["trips_1h", "fare_sum_1h", "fare_mean_1d", "fare_max_1d", "last_fare"];
    private static readonly FeatureReference[] WindowFeatures = Windows.Select(w => new FeatureReference("driver_trips", w)).ToArray();
    private static readonly FeatureReference[] OnDemandFeatures = [new("fare_ratios", "fare_per_mile"), new("fare_ratios", "mean_to_max")];

    private IMetadataStore? _metadata;
    private IFeatureBackend? _backend;
    private FeatureStores? _stores;

    protected ManualClock Clock { get; } = new(DateTimeOffset.FromUnixTimeMilliseconds((T0 + (3 * Day)) / 1000), TimeSpan.FromMilliseconds(1));

    protected IMetadataStore Metadata => _metadata ?? throw new InvalidOperationException("not open");

    protected FeatureStores Stores => _stores ?? throw new InvalidOperationException("not open");

    /// <summary>Opens the backend's metadata store and feature backend on fresh, empty storage.</summary>
    protected abstract Task<(IMetadataStore Metadata, IFeatureBackend Backend)> OpenAsync();

    public async Task InitializeAsync()
    {
        (_metadata, _backend) = await OpenAsync();
        _stores = new FeatureStores(_metadata, _backend, Clock);
        await ApplyAsync(Metadata, DefinitionsV1);
    }

    public virtual async Task DisposeAsync()
    {
        if (_stores is not null)
        {
            await _stores.DisposeAsync();
        }

        if (_metadata is not null)
        {
            await _metadata.DisposeAsync();
        }
    }

    /// <summary>Closes every store and opens them again over the same files or database, as a server restart does.</summary>
    protected async Task RestartAsync()
    {
        await Stores.DisposeAsync();
        _stores = new FeatureStores(Metadata, _backend ?? throw new InvalidOperationException("not open"), Clock);
    }

    /// <summary>Creates the project (when missing) and applies definitions to it.</summary>
    public static async Task<FeatureRepositoryVersion> ApplyAsync(IMetadataStore metadata, string yaml)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (await metadata.Projects.GetAsync(Project) is null)
        {
            await metadata.Projects.CreateAsync(Project, null, Tester);
        }

        var repository = FeatureRepositoryYaml.Parse([("drivers.yaml", yaml)]);
        return await new FeatureRegistry(metadata).ApplyAsync(Project, repository, force: false, Tester);
    }

    protected Task<FeatureStore> StoreAsync() => Stores.GetAsync(Project).AsTask();

    // ---- data -------------------------------------------------------------------------------------------------------

    /// <summary>Daily stats of drivers 1..6 over six days (a few null ratings), in random order.</summary>
    public static Table DailyStats(int seed)
    {
        var random = new Random(seed);
        var rows = new List<(long Id, long Ts, double? Rating, long Trips)>();
        for (var id = 1L; id <= 6; id++)
        {
            for (var day = 0; day < 6; day++)
            {
                if (random.Next(5) == 0)
                {
                    continue; // gaps, so the TTL matters
                }

                var ts = T0 + (day * Day) + (random.Next(0, 20) * Hour) + (random.Next(0, 60) * Minute);
                rows.Add((id, ts, random.Next(8) == 0 ? null : Math.Round(3 + (random.NextDouble() * 2), 3), random.Next(0, 40)));
            }
        }

        rows = rows.OrderBy(_ => random.Next()).ToList();
        return Table.From(
            ("driver_id", Columns.Int64(rows.Select(r => (long?)r.Id).ToArray())),
            ("event_ts", Columns.Timestamp(rows.Select(r => (long?)r.Ts).ToArray())),
            ("rating", Columns.Float64(rows.Select(r => r.Rating).ToArray())),
            ("trips_today", Columns.Int64(rows.Select(r => (long?)r.Trips).ToArray())));
    }

    /// <summary>
    /// Trips of drivers 1..<paramref name="drivers"/>: random fares (some null), late events and, with
    /// <paramref name="ties"/>, events sharing a driver's timestamp.
    /// </summary>
    public static Table Trips(int seed, int drivers, int events, bool ties)
    {
        var random = new Random(seed);
        var clocks = Enumerable.Range(0, drivers + 1).Select(_ => T0 + (random.Next(0, 120) * Minute)).ToArray();
        var ids = new long?[events];
        var ts = new long?[events];
        var fares = new double?[events];
        for (var i = 0; i < events; i++)
        {
            var id = random.Next(1, drivers + 1);
            var roll = random.Next(10);
            long t;
            if (roll == 0 && i > 0)
            {
                t = clocks[id] - (random.Next(1, 180) * Minute); // late, possibly beyond the 1 h window
            }
            else if (roll == 1 && ties)
            {
                t = clocks[id]; // the same instant as the driver's newest event
            }
            else
            {
                clocks[id] += random.Next(1, 40) * Minute;
                t = clocks[id];
            }

            ids[i] = id;
            ts[i] = t;
            fares[i] = random.Next(12) == 0 ? null : Math.Round(random.NextDouble() * 80, 2) + 0.1;
        }

        return Table.From(("driver_id", Columns.Int64(ids)), ("ts", Columns.Timestamp(ts)), ("fare", Columns.Float64(fares)));
    }

    /// <summary>Entity rows: keys (one unknown), timestamps spread over the data (some exactly on an event), a label and a distance.</summary>
    public static Table EntityRows(int seed, Table trips, int rows)
    {
        var random = new Random(seed);
        var tripTs = trips.GetColumn<long>("ts");
        var tripIds = trips.GetColumn<long>("driver_id");
        var ids = new long?[rows];
        var ts = new long?[rows];
        var labels = new long?[rows];
        var distances = new double?[rows];
        for (var i = 0; i < rows; i++)
        {
            if (random.Next(4) == 0)
            {
                var e = random.Next(trips.RowCount); // exactly at an event: the window end is inclusive
                ids[i] = tripIds[e];
                ts[i] = tripTs[e];
            }
            else
            {
                ids[i] = random.Next(10) == 0 ? 99 : random.Next(1, 7);
                ts[i] = T0 + (long)(random.NextDouble() * 6 * Day);
            }

            labels[i] = random.Next(2);
            distances[i] = random.Next(6) == 0 ? null : Math.Round(random.NextDouble() * 30, 1);
        }

        return Table.From(
            ("driver_id", Columns.Int64(ids)),
            ("event_timestamp", Columns.Timestamp(ts)),
            ("label", Columns.Int64(labels)),
            ("distance", Columns.Float64(distances)));
    }

    /// <summary>
    /// The scenario both backends run for the cross-backend comparison: ingest stats, push trips offline, build a
    /// training set with every kind of feature.
    /// </summary>
    public static async Task<Table> TrainingSetScenarioAsync(FeatureStore store, int seed)
    {
        ArgumentNullException.ThrowIfNull(store);
        await store.IngestAsync("driver_stats", DailyStats(seed));
        var trips = Trips(seed, drivers: 6, events: 400, ties: false);
        await store.PushAsync("trips", trips, PushTarget.Offline);
        var entities = EntityRows(seed, trips, rows: 300);
        return await store.GetHistoricalFeaturesAsync(entities, "event_timestamp", AllFeatures(store), fullFeatureNames: true);
    }

    private static FeatureReference[] AllFeatures(FeatureStore store) =>
        [new("driver_daily", "rating"), new("driver_daily", "trips_today"), .. WindowFeatures, .. OnDemandFeatures];

    // ---- training sets ----------------------------------------------------------------------------------------------

    [BackendTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_training_set_keeps_entity_rows_and_agrees_with_naive_scans(int seed)
    {
        var store = await StoreAsync();
        var stats = DailyStats(seed);
        var trips = Trips(seed, drivers: 6, events: 400, ties: false);
        var entities = EntityRows(seed, trips, rows: 300);

        var actual = await TrainingSetScenarioAsync(store, seed);

        var expected = NaiveTrainingSet(store.Repository, stats, trips, entities);
        try
        {
            TableAssert.Equal(expected, actual);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"seed {seed}: {e.Message}", e);
        }
    }

    [BackendFact]
    public async Task Short_feature_names_are_the_feature_names()
    {
        var store = await StoreAsync();
        var trips = Trips(4, drivers: 3, events: 50, ties: false);
        await store.PushAsync("trips", trips, PushTarget.Offline);

        var result = await store.GetHistoricalFeaturesAsync(EntityRows(4, trips, 20), "event_timestamp", [.. WindowFeatures, .. OnDemandFeatures]);

        Assert.Equal(["driver_id", "event_timestamp", "label", "distance", .. Windows, "fare_per_mile", "mean_to_max"], result.Schema.Names);
    }

    [BackendFact]
    public async Task An_entity_table_without_the_timestamp_column_is_refused_naming_it()
    {
        var store = await StoreAsync();
        var entities = Table.From(("driver_id", Columns.Int64(1, 2)), ("when", Columns.Timestamp(T0, T0)));

        var e = await Assert.ThrowsAsync<StrataException>(() => store.GetHistoricalFeaturesAsync(entities, "event_timestamp", WindowFeatures));

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Contains("'event_timestamp'", e.Message, StringComparison.Ordinal);
    }

    [BackendFact]
    public async Task A_timestamp_column_of_another_type_is_refused()
    {
        var store = await StoreAsync();
        var entities = Table.From(("driver_id", Columns.Int64(1, 2)), ("event_timestamp", Columns.String("2026-01-01", "2026-01-02")));

        var e = await Assert.ThrowsAsync<StrataException>(() => store.GetHistoricalFeaturesAsync(entities, "event_timestamp", WindowFeatures));

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Contains("'event_timestamp'", e.Message, StringComparison.Ordinal);
        Assert.Contains("not a timestamp", e.Message, StringComparison.Ordinal);
    }

    [BackendTheory]
    [InlineData("no_such_view", "rating", "'no_such_view'")]
    [InlineData("driver_daily", "no_such_feature", "'no_such_feature'")]
    [InlineData("driver_trips", "fare_sum_2h", "'fare_sum_2h'")]
    [InlineData("fare_ratios", "nope", "'nope'")]
    public async Task An_unknown_view_or_feature_is_not_found_naming_it(string view, string feature, string named)
    {
        var store = await StoreAsync();
        var entities = Table.From(("driver_id", Columns.Int64(1)), ("event_timestamp", Columns.Timestamp(T0)));

        var e = await Assert.ThrowsAsync<StrataException>(() => store.GetHistoricalFeaturesAsync(entities, "event_timestamp", [new FeatureReference(view, feature)]));

        Assert.Equal(ErrorCodes.NotFound, e.Code);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.NotFound, Assert.Throws<StrataException>(() => store.Resolve([$"{view}:{feature}"], null)).Code);
    }

    // ---- train/serve consistency ------------------------------------------------------------------------------------

    [BackendTheory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public async Task Online_aggregates_equal_the_training_set_as_of_the_read_time_bit_for_bit(int seed)
    {
        var store = await StoreAsync();
        var random = new Random(seed);
        var trips = Trips(seed, drivers: 8, events: 600, ties: true);
        for (var offset = 0; offset < trips.RowCount;)
        {
            var size = Math.Min(random.Next(1, 60), trips.RowCount - offset);
            await store.PushAsync("trips", trips.Slice(offset, size), PushTarget.OnlineAndOffline);
            offset += size;
        }

        // From the newest event on, as windows empty out and rows pass the TTL (1 d).
        var newest = NewestPerDriver(trips);
        var last = newest.Values.Max();
        foreach (var t in new[] { last, last + Minute, last + (30 * Minute), last + Hour, last + (5 * Hour), last + (20 * Hour) })
        {
            await AssertServedAsOfAsync(store, newest, t, $"seed {seed}");
        }
    }

    // ---- windows: durable, and as of the read time ------------------------------------------------------------------

    public static TheoryData<PushTarget> OnlineTargets() => [PushTarget.Online, PushTarget.OnlineAndOffline];

    [BackendTheory]
    [MemberData(nameof(OnlineTargets))]
    public async Task Windows_pushed_online_survive_a_restart(PushTarget to)
    {
        var store = await StoreAsync();
        var t = T0 + Day;
        await store.PushAsync("trips", Fares((1, t, 1.0), (1, t + Minute, 1.0)), to);
        await store.PushAsync("trips", Fares((1, t + (2 * Minute), 1.0)), to);
        SetNow(t + (3 * Minute));
        Assert.Equal(3L, (await ReadWindowsAsync(store, 1))[0].Value);

        await RestartAsync();
        store = await StoreAsync();
        await store.PushAsync("trips", Fares((1, t + (4 * Minute), 4.0)), to);
        SetNow(t + (5 * Minute));
        var values = await ReadWindowsAsync(store, 1);

        Assert.Equal(new object?[] { 4L, 7.0, 1.75, 4.0, 4.0 }, values.Select(v => v.Value)); // trips, sum, mean, max, last
        Assert.All(values, v => Assert.Equal(t + (4 * Minute), v.EventTimestamp));
    }

    [BackendFact]
    public async Task Windows_pushed_online_survive_a_new_definitions_version()
    {
        var store = await StoreAsync();
        var t = T0 + Day;
        await store.PushAsync("trips", Fares((1, t, 2.0), (1, t + Minute, 3.0)), PushTarget.Online);

        await ApplyAsync(Metadata, DefinitionsV1 + """

                  - name: fare_doubled
                    type: float64
                    expression: driver_trips__fare_max_1d * 2
            """);
        Clock.Advance(TimeSpan.FromSeconds(2));
        store = await StoreAsync();
        Assert.Equal(2, store.Version);
        await store.PushAsync("trips", Fares((1, t + (2 * Minute), 5.0)), PushTarget.Online);
        SetNow(t + (3 * Minute));

        Assert.Equal(new object?[] { 3L, 10.0 }, (await ReadWindowsAsync(store, 1)).Take(2).Select(v => v.Value));
    }

    [BackendFact]
    public async Task Concurrent_pushes_into_one_window_lose_no_events()
    {
        var store = await StoreAsync();
        var t = T0 + Day;

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => store.PushAsync("trips", Fares((1, t + (i * Second), 1.0)), PushTarget.Online)));
        SetNow(t + Minute);

        Assert.Equal(new object?[] { 40L, 40.0 }, (await ReadWindowsAsync(store, 1)).Take(2).Select(v => v.Value));
    }

    [BackendFact]
    public async Task Pushes_while_a_materialization_rebuilds_the_windows_lose_no_events()
    {
        // A materialization reads the offline events and writes the windows it builds: a push merged between the two
        // used to be replaced by the rebuilt window (the same newest event), so its event vanished online.
        var store = await StoreAsync();
        var t = T0 + Day;
        await store.PushAsync("trips", Fares((1, t + Hour, 1.0)), PushTarget.OnlineAndOffline);
        using var stop = new CancellationTokenSource();
        var materializing = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await store.MaterializeAsync(T0, T0 + (3 * Day), ["driver_trips"]);
            }
        });

        // Each older than the newest event, as late events are.
        for (var i = 0; i < 150; i++)
        {
            await store.PushAsync("trips", Fares((1, t + Hour - ((i + 1) * Second), 1.0)), PushTarget.OnlineAndOffline);
        }

        await stop.CancelAsync();
        await materializing;
        SetNow(t + Hour + Minute);

        Assert.Equal(new object?[] { 151L, 151.0 }, (await ReadWindowsAsync(store, 1)).Take(2).Select(v => v.Value));
    }

    [BackendFact]
    public async Task A_window_past_its_ttl_still_counts_in_a_newer_push()
    {
        // A TTL (1 h) shorter than the widest window (1 d): the stored row is outside max age when the next event comes,
        // but its events are still in that event's day.
        await ApplyAsync(Metadata, DefinitionsV1.Replace("ttl: 1d", "ttl: 1h", StringComparison.Ordinal));
        Clock.Advance(TimeSpan.FromSeconds(2));
        var store = await StoreAsync();
        var t = T0 + Day;
        SetNow(t);
        await store.PushAsync("trips", Fares((1, t, 2.0)), PushTarget.Online);
        SetNow(t + (2 * Hour));
        Assert.Equal(FeatureStatus.OutsideMaxAge, (await ReadWindowsAsync(store, 1))[0].Status);

        await store.PushAsync("trips", Fares((1, t + (2 * Hour), 4.0)), PushTarget.Online);
        SetNow(t + (2 * Hour));

        Assert.Equal(new object?[] { 1L, 4.0, 3.0, 4.0, 4.0 }, (await ReadWindowsAsync(store, 1)).Select(v => v.Value));
    }

    [BackendTheory]
    [MemberData(nameof(OnlineTargets))]
    public async Task Online_windows_end_at_the_read_time(PushTarget to)
    {
        var store = await StoreAsync();
        var now = T0 + (2 * Day);
        await store.PushAsync("trips", Fares((2, now - (3 * Hour), 5.0), (3, now - (30 * Minute), 7.0)), to);
        SetNow(now);

        var values = await ReadWindowsAsync(store, 2, 3);
        SetNow(now + (31 * Minute));
        var later = await ReadWindowsAsync(store, 3);

        // Driver 2's event left its 1 h windows long ago, but not its 1 d ones; driver 3's leaves them 31 minutes later.
        Assert.Equal(new object?[] { 0L, 0.0, 5.0, 5.0, 5.0 }, values.Take(5).Select(v => v.Value));
        Assert.Equal(new object?[] { 1L, 7.0, 7.0, 7.0, 7.0 }, values.Skip(5).Select(v => v.Value));
        Assert.Equal(new object?[] { 0L, 0.0, 7.0, 7.0, 7.0 }, later.Select(v => v.Value));
        Assert.All(values.Concat(later), v => Assert.Equal(FeatureStatus.Present, v.Status));
        if (to == PushTarget.OnlineAndOffline)
        {
            await AssertServedAsOfAsync(store, new Dictionary<long, long> { [2] = now - (3 * Hour), [3] = now - (30 * Minute) }, now + Hour, "pushed");
        }
    }

    // ---- push -------------------------------------------------------------------------------------------------------

    public static TheoryData<string> BadPushes() => ["missing column", "extra column", "wrong type", "null key"];

    [BackendTheory]
    [MemberData(nameof(BadPushes))]
    public async Task A_bad_push_is_refused_and_writes_nothing(string problem)
    {
        var store = await StoreAsync();
        var good = Trips(5, drivers: 3, events: 10, ties: false);
        var rows = problem switch
        {
            "missing column" => good.Select("driver_id", "ts"),
            "extra column" => new Table(new Schema(good.Schema.Append(new Field("tip", DataType.Float64))), good.Columns.Append(Columns.Float64(new double?[good.RowCount]))),
            "wrong type" => Table.From(("driver_id", good["driver_id"]), ("ts", good["ts"]), ("fare", Columns.Int64(Enumerable.Repeat((long?)3, good.RowCount).ToArray()))),
            _ => Table.From(("driver_id", Columns.Int64([.. Enumerable.Repeat((long?)1, good.RowCount - 1), null])), ("ts", good["ts"]), ("fare", good["fare"])),
        };

        var e = await Assert.ThrowsAsync<StrataException>(() => store.PushAsync("trips", rows, PushTarget.OnlineAndOffline));

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Null(await store.Offline.GetEventTimeRangeAsync(store.Repository.OfflineLayout("driver_trips")));
        Assert.Equal(0, await store.Online.CountAsync("driver_trips"));
    }

    /// <summary>A string-keyed push source feeding two feature views, for pushes that must reach both or neither.</summary>
    private const string Rides = """
        entities:
          - name: rider
            join_keys: [{ name: rider_id, type: string }]
        sources:
          - name: rides
            kind: push
            timestamp_field: ts
            schema:
              - { name: rider_id, type: string }
              - { name: ts, type: timestamp }
              - { name: city, type: string }
              - { name: fare, type: float64 }
        feature_views:
          - name: rider_cities
            entities: [rider]
            source: rides
            ttl: 1d
            features: [{ name: city, type: string }]
          - name: rider_fares
            entities: [rider]
            source: rides
            ttl: 1d
            features: [{ name: fare, type: float64 }]
        """;

    private async Task<FeatureStore> RidesStoreAsync()
    {
        await new FeatureRegistry(Metadata).ApplyAsync(Project, FeatureRepositoryYaml.Parse([("drivers.yaml", DefinitionsV1), ("rides.yaml", Rides)]), force: false, Tester);
        Clock.Advance(TimeSpan.FromSeconds(2));
        var store = await StoreAsync();
        Assert.Equal(2, store.Version);
        return store;
    }

    private static Table RideRows(long at, params (string Rider, string City)[] rides) => Table.From(
        ("rider_id", Columns.String(rides.Select(r => (string?)r.Rider).ToArray())),
        ("ts", Columns.Timestamp(rides.Select(_ => (long?)at).ToArray())),
        ("city", Columns.String(rides.Select(r => (string?)r.City).ToArray())),
        ("fare", Columns.Float64(rides.Select(_ => (double?)12.5).ToArray())));

    [BackendFact]
    public async Task A_nul_in_pushed_text_or_in_an_entity_key_is_refused_naming_it_and_nothing_is_written()
    {
        // PostgreSQL's text cannot hold U+0000, so both backends refuse it, on every path, with the same 400.
        var store = await RidesStoreAsync();
        var at = T0 + (3 * Day) - Minute;

        var value = await Assert.ThrowsAsync<StrataException>(() => store.PushAsync("rides", RideRows(at, ("u1", "Paris"), ("u2", "Lyon\0")), PushTarget.OnlineAndOffline));
        var key = await Assert.ThrowsAsync<StrataException>(() => store.PushAsync("rides", RideRows(at, ("u1\0", "Paris")), PushTarget.OnlineAndOffline));
        var read = await Assert.ThrowsAsync<StrataException>(async () => await store.GetOnlineFeaturesAsync([new("rider_fares", "fare")], Table.From(("rider_id", Columns.String("u1", "u1\0")))));
        var training = await Assert.ThrowsAsync<StrataException>(() => store.GetHistoricalFeaturesAsync(
            Table.From(("rider_id", Columns.String("u1\0")), ("event_timestamp", Columns.Timestamp(at))), "event_timestamp", [new("rider_fares", "fare")]));

        Assert.All([value, key, read, training], e => Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code));
        Assert.All([value, key, read, training], e => Assert.Contains("NUL character", e.Message, StringComparison.Ordinal));
        Assert.Contains("column 'city' row 1", value.Message, StringComparison.Ordinal);
        Assert.Contains("column 'rider_id' row 0", key.Message, StringComparison.Ordinal);
        Assert.Contains("entity row 1: join key 'rider_id'", read.Message, StringComparison.Ordinal);
        Assert.Contains("entity row 0: join key 'rider_id'", training.Message, StringComparison.Ordinal);
        foreach (var view in new[] { "rider_cities", "rider_fares" })
        {
            Assert.Null(await store.Offline.GetEventTimeRangeAsync(store.Repository.OfflineLayout(view)));
            Assert.Equal(0, await store.Online.CountAsync(view));
        }

        // The stores themselves refuse it too, whoever calls them.
        var layout = store.Repository.OfflineLayout("rider_cities");
        var stored = RideRows(at, ("u3", "Nice\0")).Select(layout.Schema.Names);
        Assert.Equal(ErrorCodes.ArgumentInvalid, (await Assert.ThrowsAsync<StrataException>(() => store.Offline.AppendAsync(layout, stored))).Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, (await Assert.ThrowsAsync<StrataException>(() => store.Online.WriteAsync("rider_cities", stored))).Code);
        var results = new FeatureValue[1];
        Assert.Equal(ErrorCodes.ArgumentInvalid, (await Assert.ThrowsAsync<StrataException>(async () => await store.Online.ReadAsync("rider_cities", ["city"], new EntityKeyPart[] { "u3\0" }, at, results))).Code);
    }

    [BackendFact]
    public async Task A_push_to_two_views_that_fails_on_the_second_writes_neither()
    {
        var store = await RidesStoreAsync();
        var at = T0 + (3 * Day) - Minute;

        // rider_fares is already stored with another layout (fare as int64), so its append is refused; rider_cities,
        // first in name order, must not keep the rows it was given, or a retry would store them twice.
        var other = new FeatureViewLayout("rider_fares", [new Field("rider_id", DataType.String)], "ts", [new Field("fare", DataType.Int64)]);
        await store.Offline.AppendAsync(other, Table.From(("rider_id", Columns.String("old")), ("ts", Columns.Timestamp(T0)), ("fare", Columns.Int64(1))));

        var e = await Assert.ThrowsAsync<StrataException>(() => store.PushAsync("rides", RideRows(at, ("u1", "Paris")), PushTarget.OnlineAndOffline));

        Assert.Equal(ErrorCodes.Conflict, e.Code);
        Assert.Null(await store.Offline.GetEventTimeRangeAsync(store.Repository.OfflineLayout("rider_cities")));
        Assert.Equal((T0, T0), await store.Offline.GetEventTimeRangeAsync(other));
        Assert.Equal(0, await store.Online.CountAsync("rider_cities"));
        Assert.Equal(0, await store.Online.CountAsync("rider_fares"));
    }

    [BackendFact]
    public async Task A_push_to_two_views_appends_to_both()
    {
        var store = await RidesStoreAsync();
        var at = T0 + (3 * Day) - Minute;

        var views = await store.PushAsync("rides", RideRows(at, ("u1", "Paris"), ("u2", "Lyon")), PushTarget.OnlineAndOffline);

        Assert.Equal(["rider_cities", "rider_fares"], views.Order(StringComparer.Ordinal));
        var entities = Table.From(("rider_id", Columns.String("u1", "u2")), ("event_timestamp", Columns.Timestamp(at, at)));
        var training = await store.GetHistoricalFeaturesAsync(entities, "event_timestamp", [new("rider_cities", "city"), new("rider_fares", "fare")]);
        Assert.Equal(["Paris", "Lyon"], Enumerable.Range(0, 2).Select(training["city"].GetValue));
        Assert.Equal([12.5, 12.5], Enumerable.Range(0, 2).Select(training["fare"].GetValue));
        Assert.Equal(2, await store.Online.CountAsync("rider_cities"));
    }

    [BackendFact]
    public async Task Pushing_to_a_file_source_or_an_unknown_source_is_refused()
    {
        var store = await StoreAsync();

        Assert.Equal(ErrorCodes.ArgumentInvalid, (await Assert.ThrowsAsync<StrataException>(() => store.PushAsync("driver_stats", DailyStats(1), PushTarget.Online))).Code);
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => store.PushAsync("nope", DailyStats(1), PushTarget.Online))).Code);
    }

    [BackendFact]
    public async Task An_on_demand_result_that_is_not_finite_is_null_in_training_sets_and_online_reads_alike()
    {
        const string Overflow = """
            on_demand_views:
              - name: overflow
                request_fields: [{ name: amount, type: float64 }]
                inputs: [driver_trips:fare_max_1d]
                features:
                  - { name: per_fare, type: float64, expression: "amount / driver_trips__fare_max_1d" }
                  - { name: per_fare_32, type: float32, expression: "amount / driver_trips__fare_max_1d" }
            """;
        await new FeatureRegistry(Metadata).ApplyAsync(Project, FeatureRepositoryYaml.Parse([("drivers.yaml", DefinitionsV1), ("overflow.yaml", Overflow)]), force: false, Tester);
        Clock.Advance(TimeSpan.FromSeconds(2));
        var store = await StoreAsync();
        var at = Clock.Peek().ToUnixTimeMilliseconds() * 1000 - Minute;
        await store.PushAsync("trips", Table.From(("driver_id", Columns.Int64(1, 2)), ("ts", Columns.Timestamp(at, at)), ("fare", Columns.Float64(1e-320, 2.0))), PushTarget.OnlineAndOffline);
        FeatureReference[] asked = [new("overflow", "per_fare"), new("overflow", "per_fare_32")];
        var ids = Columns.Int64(1, 2, 2);
        var amounts = Columns.Float64(1e10, 1e300, 4); // 1e330 overflows a double; 5e299 a float32 only

        var training = await store.GetHistoricalFeaturesAsync(
            Table.From(("driver_id", ids), ("event_timestamp", Columns.Timestamp(at, at, at)), ("amount", amounts)), "event_timestamp", asked);
        var online = await store.GetOnlineFeaturesAsync(asked, Table.From(("driver_id", ids), ("amount", amounts)));

        Assert.Equal([null, 5e299, 2.0], Enumerable.Range(0, 3).Select(training["per_fare"].GetValue));
        Assert.Equal([null, null, 2f], Enumerable.Range(0, 3).Select(training["per_fare_32"].GetValue));
        Assert.Equal([FeatureStatus.NullValue, FeatureStatus.Present, FeatureStatus.Present], online.Values[0].Select(v => v.Status));
        Assert.Equal([FeatureStatus.NullValue, FeatureStatus.NullValue, FeatureStatus.Present], online.Values[1].Select(v => v.Status));
        Assert.Equal(5e299, online.Values[0][1].AsFloat64());
        Assert.Equal(2f, online.Values[1][2].AsFloat32());
    }

    [BackendFact]
    public async Task A_training_set_request_column_its_declared_type_cannot_hold_is_refused_naming_the_field_row_and_value()
    {
        const string Narrow = """
            on_demand_views:
              - name: narrow
                request_fields: [{ name: qty, type: int32 }, { name: weight, type: float32 }]
                features:
                  - { name: qty2, type: int64, expression: "qty * 2" }
                  - { name: heavy, type: float64, expression: "weight * 2" }
            """;
        await new FeatureRegistry(Metadata).ApplyAsync(Project, FeatureRepositoryYaml.Parse([("drivers.yaml", DefinitionsV1), ("narrow.yaml", Narrow)]), force: false, Tester);
        Clock.Advance(TimeSpan.FromSeconds(2));
        var store = await StoreAsync();
        var at = T0 + Day;
        FeatureReference[] asked = [new("narrow", "qty2"), new("narrow", "heavy")];
        Task<Table> TrainingAsync(Column qty, Column weight) => store.GetHistoricalFeaturesAsync(
            Table.From(("driver_id", Columns.Int64(1, 2)), ("event_timestamp", Columns.Timestamp(at, at)), ("qty", qty), ("weight", weight)), "event_timestamp", asked);

        // Widened where the type holds the value: int64 3 and float64 2.0 as int32, float64 0.5 as float32.
        var fitting = await TrainingAsync(Columns.Int64(3, null), Columns.Float64(0.5, 1));
        Assert.Equal([6L, null], Enumerable.Range(0, 2).Select(fitting["qty2"].GetValue));
        Assert.Equal([1.0, 2.0], Enumerable.Range(0, 2).Select(fitting["heavy"].GetValue));
        var whole = await TrainingAsync(Columns.Float64(2.0, 1), Columns.Float64(0.5, 1));
        Assert.Equal([4L, 2L], Enumerable.Range(0, 2).Select(whole["qty2"].GetValue));

        // Neither wrapped, cut nor made infinite.
        var wrapped = await Assert.ThrowsAsync<StrataException>(() => TrainingAsync(Columns.Int64(1, 4294967298), Columns.Float64(0.5, 1)));
        var cut = await Assert.ThrowsAsync<StrataException>(() => TrainingAsync(Columns.Float64(2.5, 1), Columns.Float64(0.5, 1)));
        var infinite = await Assert.ThrowsAsync<StrataException>(() => TrainingAsync(Columns.Int64(1, 1), Columns.Float64(0.5, 1e39)));

        Assert.Equal(ErrorCodes.DataOutOfRange, wrapped.Code);
        Assert.Equal("request field 'qty' of on-demand view 'narrow' is 4294967298 at row 2, which int32 cannot hold", wrapped.Message);
        Assert.Equal("request field 'qty' of on-demand view 'narrow' is 2.5 at row 1, which int32 cannot hold", cut.Message);
        Assert.Equal("request field 'weight' of on-demand view 'narrow' is 1E+39 at row 2, which float32 cannot hold", infinite.Message);
    }

    // ---- materialization --------------------------------------------------------------------------------------------

    [BackendFact]
    public async Task Materialize_serves_the_latest_row_per_key_within_the_range_only()
    {
        var store = await StoreAsync();
        var stats = DailyStats(7);
        await store.IngestAsync("driver_stats", stats);
        var start = T0 + Day;
        var end = T0 + (4 * Day);

        var done = await store.MaterializeAsync(start, end, ["driver_daily"]);

        var expected = LatestPerKey(stats, start, end);
        Assert.Equal(RowsIn(stats, start, end), Assert.Single(done).Rows); // rows copied, before newest-wins
        Assert.Equal(expected.Count, await store.Online.CountAsync("driver_daily"));
        SetNow(end);
        var online = await ReadDailyAsync(store, [1, 2, 3, 4, 5, 6, 99]);
        for (var id = 1L; id <= 6; id++)
        {
            var value = online.Values[0][id - 1];
            if (!expected.TryGetValue(id, out var row))
            {
                Assert.Equal(FeatureStatus.NotFound, value.Status);
                continue;
            }

            Assert.Equal(row.Ts, value.EventTimestamp); // nothing from [end, ∞) or before start
            Assert.Equal(row.Ts < end - (2 * Day) ? FeatureStatus.OutsideMaxAge : row.Rating is null ? FeatureStatus.NullValue : FeatureStatus.Present, value.Status);
            if (value.HasValue)
            {
                Assert.Equal(row.Rating, value.AsFloat64());
            }
        }

        Assert.Equal(FeatureStatus.NotFound, online.Values[0][6].Status);
    }

    [BackendFact]
    public async Task Materialized_values_expire_after_the_ttl()
    {
        var store = await StoreAsync();
        await store.IngestAsync("driver_stats", Table.From(
            ("driver_id", Columns.Int64(1, 2)),
            ("event_ts", Columns.Timestamp(T0, T0 + Hour)),
            ("rating", Columns.Float64(4.5, null)),
            ("trips_today", Columns.Int64(3, 4))));
        await store.MaterializeAsync(T0, T0 + Day);
        SetNow(T0 + (2 * Day)); // exactly the TTL old

        var fresh = await ReadDailyAsync(store, [1, 2, 3]);
        Clock.Advance(TimeSpan.FromMinutes(30));
        var older = await ReadDailyAsync(store, [1, 2]);

        Assert.Equal([FeatureStatus.Present, FeatureStatus.NullValue, FeatureStatus.NotFound], fresh.Values[0].Select(v => v.Status));
        Assert.Equal([FeatureStatus.Present, FeatureStatus.Present, FeatureStatus.NotFound], fresh.Values[1].Select(v => v.Status));
        Assert.Equal(4.5, fresh.Values[0][0].AsFloat64());
        Assert.Equal([FeatureStatus.OutsideMaxAge, FeatureStatus.NullValue], older.Values[0].Select(v => v.Status)); // 2: still inside by one hour
    }

    [BackendFact]
    public async Task Incremental_materialization_starts_at_the_previous_end_and_moves_the_watermark()
    {
        var store = await StoreAsync();
        var stats = DailyStats(8);
        await store.IngestAsync("driver_stats", stats);
        var range = await store.Offline.GetEventTimeRangeAsync(store.Repository.OfflineLayout("driver_daily"));
        var first = T0 + (2 * Day);
        var second = T0 + (10 * Day);

        var one = Assert.Single(await store.MaterializeIncrementalAsync(first, Tester, ["driver_daily"]));
        Assert.Equal(first, await Metadata.Features.GetWatermarkAsync(Project, "driver_daily"));
        var two = Assert.Single(await store.MaterializeIncrementalAsync(second, Tester, ["driver_daily"]));
        var three = Assert.Single(await store.MaterializeIncrementalAsync(second, Tester, ["driver_daily"]));

        Assert.Equal(range!.Value.Min, one.StartMicros);
        Assert.Equal(first, one.EndMicros);
        Assert.Equal(RowsIn(stats, range.Value.Min, first), one.Rows);
        Assert.Equal(first, two.StartMicros);
        Assert.Equal(second, two.EndMicros);
        Assert.Equal(RowsIn(stats, first, second), two.Rows);
        Assert.Equal(0, three.Rows);
        Assert.Equal(second, await Metadata.Features.GetWatermarkAsync(Project, "driver_daily"));
        Assert.Equal(LatestPerKey(stats, long.MinValue, long.MaxValue).Count, await store.Online.CountAsync("driver_daily"));
    }

    [BackendFact]
    public async Task Materializing_a_window_view_serves_what_the_training_set_computes_as_of_the_read_time()
    {
        var store = await StoreAsync();
        var trips = Trips(21, drivers: 5, events: 200, ties: false);
        await store.PushAsync("trips", trips, PushTarget.Offline);
        var end = T0 + (10 * Day);

        await store.MaterializeAsync(T0, end, ["driver_trips"]);

        var newest = NewestPerDriver(trips);
        var latest = newest.Values.Max();
        foreach (var t in new[] { latest, latest + (30 * Minute), latest + (3 * Hour) })
        {
            await AssertServedAsOfAsync(store, newest, t, "materialized");
        }
    }

    // ---- definition changes -----------------------------------------------------------------------------------------

    [BackendFact]
    public async Task A_new_definitions_version_is_picked_up_and_keeps_the_data_of_unchanged_views()
    {
        var store = await StoreAsync();
        var trips = Trips(31, drivers: 4, events: 100, ties: false);
        await store.PushAsync("trips", trips, PushTarget.OnlineAndOffline);
        await store.IngestAsync("driver_stats", DailyStats(31));
        await store.MaterializeAsync(T0, T0 + (10 * Day), ["driver_daily"]);
        var entities = EntityRows(31, trips, 50);
        var before = await store.GetHistoricalFeaturesAsync(entities, "event_timestamp", AllFeatures(store), fullFeatureNames: true);
        var dailyCount = await store.Online.CountAsync("driver_daily");
        var tripsCount = await store.Online.CountAsync("driver_trips");

        var v2 = DefinitionsV1 + """

                  - name: fare_doubled
                    type: float64
                    expression: driver_trips__fare_max_1d * 2
            """;
        Assert.Equal(2, (await ApplyAsync(Metadata, v2)).Version);
        Clock.Advance(TimeSpan.FromSeconds(2));
        var updated = await StoreAsync();

        Assert.Equal(2, updated.Version);
        var after = await updated.GetHistoricalFeaturesAsync(entities, "event_timestamp", [.. AllFeatures(updated), new("fare_ratios", "fare_doubled")], fullFeatureNames: true);
        TableAssert.Equal(before, after.Select(before.Schema.Names));
        var maxes = after.GetColumn<double>("driver_trips__fare_max_1d");
        var doubled = after.GetColumn<double>("fare_ratios__fare_doubled");
        for (var i = 0; i < after.RowCount; i++)
        {
            Assert.Equal(maxes.IsValid(i) ? maxes[i] * 2 : (double?)null, doubled.IsValid(i) ? doubled[i] : (double?)null);
        }

        Assert.Equal(dailyCount, await updated.Online.CountAsync("driver_daily"));
        Assert.Equal(tripsCount, await updated.Online.CountAsync("driver_trips"));
    }

    // ---- helpers ----------------------------------------------------------------------------------------------------

    protected void SetNow(long micros) => Clock.Advance(TimeSpan.FromTicks((micros - (Clock.Peek().ToUnixTimeMilliseconds() * 1000)) * 10));

    protected static Table Fares(params (long Id, long Ts, double Fare)[] rows) => Table.From(
        ("driver_id", Columns.Int64([.. rows.Select(r => (long?)r.Id)])),
        ("ts", Columns.Timestamp([.. rows.Select(r => (long?)r.Ts)])),
        ("fare", Columns.Float64([.. rows.Select(r => (double?)r.Fare)])));

    /// <summary>The window features of drivers, read online now: per driver, its features in <see cref="Windows"/> order.</summary>
    protected static async Task<FeatureValue[]> ReadWindowsAsync(FeatureStore store, params long[] ids)
    {
        var online = await store.GetOnlineFeaturesAsync(WindowFeatures, Table.From(("driver_id", Columns.Int64([.. ids.Select(i => (long?)i)]))));
        return [.. Enumerable.Range(0, ids.Length).SelectMany(e => online.Values.Select(column => column[e]))];
    }

    /// <summary>Each driver's newest event time.</summary>
    private static Dictionary<long, long> NewestPerDriver(Table trips)
    {
        var ids = trips.GetColumn<long>("driver_id");
        var ts = trips.GetColumn<long>("ts");
        return Enumerable.Range(0, trips.RowCount).GroupBy(i => ids[i]).ToDictionary(g => g.Key, g => g.Max(i => ts[i]));
    }

    /// <summary>
    /// Reads the drivers' window and on-demand features online at <paramref name="t"/> and checks them against the training
    /// set as of <paramref name="t"/>, bit for bit: a driver whose newest event is older than the TTL (1 d) is outside max age.
    /// </summary>
    private async Task AssertServedAsOfAsync(FeatureStore store, IReadOnlyDictionary<long, long> newest, long t, string why)
    {
        var ids = newest.Keys.Order().ToArray();
        var random = new Random((int)(t % 1000));
        var entities = Table.From(
            ("driver_id", Columns.Int64([.. ids.Select(i => (long?)i)])),
            ("event_timestamp", Columns.Timestamp([.. ids.Select(_ => (long?)t)])),
            ("distance", Columns.Float64([.. ids.Select(_ => (double?)Math.Round(random.NextDouble() * 20, 1))])));
        FeatureReference[] asked = [.. WindowFeatures, .. OnDemandFeatures];
        var offline = await store.GetHistoricalFeaturesAsync(entities, "event_timestamp", asked);
        SetNow(t);
        var online = await store.GetOnlineFeaturesAsync(asked, entities.Select("driver_id", "distance"));

        for (var f = 0; f < asked.Length; f++)
        {
            for (var e = 0; e < ids.Length; e++)
            {
                var value = online.Values[f][e];
                var where = $"{why}, t {Timestamp.Format(t)}, driver {ids[e]}, {asked[f]}";
                var expired = newest[ids[e]] < t - Day;
                if (f < WindowFeatures.Length)
                {
                    Assert.True(value.Status == (expired ? FeatureStatus.OutsideMaxAge : offline[asked[f].Feature].IsNull(e) ? FeatureStatus.NullValue : FeatureStatus.Present), $"{where}: status {value.Status}");
                    Assert.True(newest[ids[e]] == value.EventTimestamp, $"{where}: event time {value.EventTimestamp}, expected {newest[ids[e]]}");
                }

                if (!expired)
                {
                    var expected = offline[asked[f].Feature].GetValue(e);
                    Assert.True(SameBits(expected, value.Value), $"{where}: online {Show(value.Value)}, training set {Show(expected)}");
                }
            }
        }
    }

    private static Task<OnlineFeatures> ReadDailyAsync(FeatureStore store, long[] ids) =>
        store.GetOnlineFeaturesAsync(
            [new("driver_daily", "rating"), new("driver_daily", "trips_today")],
            Table.From(("driver_id", Columns.Int64(ids.Select(i => (long?)i).ToArray())))).AsTask();

    private static long RowsIn(Table stats, long start, long end)
    {
        var ts = stats.GetColumn<long>("event_ts");
        return Enumerable.Range(0, stats.RowCount).Count(i => ts[i] >= start && ts[i] < end);
    }

    private static Dictionary<long, (long Ts, double? Rating)> LatestPerKey(Table stats, long start, long end)
    {
        var ids = stats.GetColumn<long>("driver_id");
        var ts = stats.GetColumn<long>("event_ts");
        var ratings = stats.GetColumn<double>("rating");
        var latest = new Dictionary<long, (long Ts, double? Rating)>();
        for (var i = 0; i < stats.RowCount; i++)
        {
            if (ts[i] >= start && ts[i] < end && (!latest.TryGetValue(ids[i], out var best) || ts[i] > best.Ts))
            {
                latest[ids[i]] = (ts[i], ratings.IsValid(i) ? ratings[i] : null);
            }
        }

        return latest;
    }

    /// <summary>
    /// The training set the slow way: the point-in-time join of <see cref="NaiveHistoricalFeatures"/> for the daily view;
    /// for every window a scan of all trips with <c>t − window &lt; ts ≤ t</c>; the on-demand formulas written out.
    /// </summary>
    private static Table NaiveTrainingSet(FeatureRepository repository, Table stats, Table trips, Table entities)
    {
        var joined = NaiveHistoricalFeatures.Join(entities, "event_timestamp", [new(repository.OfflineLayout("driver_daily"), stats, ["rating", "trips_today"])], fullFeatureNames: true);
        var ids = trips.GetColumn<long>("driver_id");
        var ts = trips.GetColumn<long>("ts");
        var fares = trips.GetColumn<double>("fare");
        var entityIds = entities.GetColumn<long>("driver_id");
        var entityTs = entities.GetColumn<long>("event_timestamp");
        var distances = entities.GetColumn<double>("distance");
        var n = entities.RowCount;
        var count = new long?[n];
        var sum = new double?[n];
        var mean = new double?[n];
        var max = new double?[n];
        var lastFare = new double?[n];
        var perMile = new double?[n];
        var meanToMax = new double?[n];
        for (var e = 0; e < n; e++)
        {
            var t = entityTs[e];
            var inHour = Enumerable.Range(0, trips.RowCount).Where(i => ids[i] == entityIds[e] && ts[i] <= t && ts[i] > t - Hour).ToArray();
            var inDay = Enumerable.Range(0, trips.RowCount).Where(i => ids[i] == entityIds[e] && ts[i] <= t && ts[i] > t - Day).OrderBy(i => ts[i]).ToArray();
            var hourFares = inHour.Where(fares.IsValid).OrderBy(i => ts[i]).Select(i => fares[i]).ToArray();
            var dayFares = inDay.Where(fares.IsValid).Select(i => fares[i]).ToArray();
            count[e] = inHour.Length;
            sum[e] = ExactSum(hourFares);
            mean[e] = dayFares.Length == 0 ? null : ExactSum(dayFares) / dayFares.Length;
            max[e] = dayFares.Length == 0 ? null : dayFares.Max();
            lastFare[e] = dayFares.Length == 0 ? null : dayFares[^1];
            perMile[e] = mean[e] is { } m && distances.IsValid(e) ? m / (distances[e] + 1) : null;
            meanToMax[e] = mean[e] is { } m2 && max[e] is { } x ? m2 / (x + 1) : null;
        }

        return Table.From(
        [
            .. joined.Schema.Names.Select(name => (name, joined[name])),
            ("driver_trips__trips_1h", Columns.Int64(count)),
            ("driver_trips__fare_sum_1h", Columns.Float64(sum)),
            ("driver_trips__fare_mean_1d", Columns.Float64(mean)),
            ("driver_trips__fare_max_1d", Columns.Float64(max)),
            ("driver_trips__last_fare", Columns.Float64(lastFare)),
            ("fare_ratios__fare_per_mile", Columns.Float64(perMile)),
            ("fare_ratios__mean_to_max", Columns.Float64(meanToMax)),
        ]);
    }

    /// <summary>The exact sum rounded once: summed as an integer in units of 2^-1074, rounded by parsing its exact decimal expansion.</summary>
    private static double ExactSum(IEnumerable<double> values)
    {
        var total = BigInteger.Zero;
        foreach (var value in values)
        {
            var bits = BitConverter.DoubleToInt64Bits(value);
            var exponent = (int)((bits >> 52) & 0x7FF);
            var mantissa = bits & 0xF_FFFF_FFFF_FFFF;
            if (exponent == 0)
            {
                exponent = 1;
            }
            else
            {
                mantissa |= 1L << 52;
            }

            var scaled = new BigInteger(mantissa) << (exponent - 1);
            total += value < 0 ? -scaled : scaled;
        }

        if (total.IsZero)
        {
            return 0.0;
        }

        var digits = (BigInteger.Abs(total) * BigInteger.Pow(5, 1074)).ToString(CultureInfo.InvariantCulture).PadLeft(1075, '0');
        var magnitude = double.Parse($"{digits[..^1074]}.{digits[^1074..]}", CultureInfo.InvariantCulture);
        return total.Sign < 0 ? -magnitude : magnitude;
    }

    private static bool SameBits(object? expected, object? actual) => (expected, actual) switch
    {
        (null, null) => true,
        (double x, double y) => BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y),
        _ => Equals(expected, actual),
    };

    private static string Show(object? value) => value switch
    {
        null => "null",
        double d => $"{d:R} (0x{BitConverter.DoubleToInt64Bits(d):X16})",
        _ => value.ToString() ?? "",
    };
}
