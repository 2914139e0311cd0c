using Strata.Features;
using Strata.Features.OnlineStore;
using Xunit;

namespace Strata.Testing.Conformance;

/// <summary>
/// The behaviour every <see cref="IOnlineStore"/> backend must show, written once and run per backend by a small sealed
/// subclass; the random test compares each backend with the same naive model, so backends agree with each other too.
/// </summary>
public abstract class OnlineStoreConformance : IAsyncLifetime
{
    protected const long Second = 1_000_000;

    protected static readonly FeatureViewLayout Drivers = new(
        "drivers",
        [new Field("driver_id", DataType.Int64)],
        "event_ts",
        [new Field("rate", DataType.Float64), new Field("trips", DataType.Int32), new Field("city", DataType.String)],
        createdTimestampColumn: "created_ts",
        ttl: TimeSpan.FromSeconds(10));

    protected static readonly FeatureViewLayout Pairs = new(
        "pairs",
        [new Field("user", DataType.String), new Field("item", DataType.Int32)],
        "event_ts",
        [new Field("score", DataType.Float32), new Field("seen", DataType.Bool)]);

    protected static readonly FeatureViewLayout AllTypes = new(
        "all types",
        [new Field("id", DataType.Int32)],
        "ts",
        [
            new Field("b", DataType.Bool), new Field("i", DataType.Int32), new Field("l", DataType.Int64), new Field("f", DataType.Float32),
            new Field("d", DataType.Float64), new Field("s", DataType.String), new Field("t", DataType.Timestamp),
        ]);

    private static readonly string[] DriverFeatures = ["rate", "trips", "city"];

    private IOnlineStore? _store;

    protected IOnlineStore Store => _store ?? throw new InvalidOperationException("store not open");

    /// <summary>
    /// Opens the backend on this test's storage (the same folder or database on every call) serving exactly
    /// <paramref name="views"/>. The first call sees empty storage.
    /// </summary>
    protected abstract Task<IOnlineStore> OpenStoreAsync(IReadOnlyList<FeatureViewLayout> views);

    /// <summary>True when two open instances share the storage (server replicas on one database).</summary>
    protected virtual bool SharedByInstances => false;

    public async Task InitializeAsync() => _store = await OpenStoreAsync([Drivers, Pairs, AllTypes]);

    public virtual async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    /// <summary>Closes the store and opens it again on the same storage (or opens a second instance beside it).</summary>
    private async Task<IOnlineStore> ReopenAsync(IReadOnlyList<FeatureViewLayout> views)
    {
        if (SharedByInstances)
        {
            return await OpenStoreAsync(views);
        }

        await Store.DisposeAsync();
        _store = null;
        _store = await OpenStoreAsync(views);
        return _store;
    }

    protected static Table DriverRows(long[] ids, long[] events, long[]? created, double?[] rates, int?[]? trips = null, string?[]? cities = null) =>
        Table.From(
            ("driver_id", Columns.Int64(ids.Select(i => (long?)i).ToArray())),
            ("event_ts", Columns.Timestamp(events.Select(e => (long?)e).ToArray())),
            ("created_ts", Columns.Timestamp((created ?? new long[ids.Length]).Select(e => (long?)e).ToArray())),
            ("rate", Columns.Float64(rates)),
            ("trips", Columns.Int32(trips ?? ids.Select(i => (int?)i).ToArray())),
            ("city", Columns.String(cities ?? ids.Select(i => (string?)$"c{i}").ToArray())));

    private static async Task<FeatureValue[]> ReadAsync(IOnlineStore store, string view, string[] features, EntityKeyPart[] keys, long now)
    {
        var arity = store.Views.Single(v => v.Name == view).JoinKeys.Count;
        var results = new FeatureValue[keys.Length / arity * features.Length];
        await store.ReadAsync(view, features, keys, now, results);
        return results;
    }

    private Task<FeatureValue[]> ReadDriverAsync(long id, long now, IOnlineStore? store = null) =>
        ReadAsync(store ?? Store, "drivers", DriverFeatures, [id], now);

    [BackendFact]
    public async Task Statuses_are_present_null_not_found_and_outside_max_age_with_the_ttl_boundary_served()
    {
        await Store.WriteAsync("drivers", DriverRows([1, 2], [100 * Second, 100 * Second], null, [1.5, null], cities: ["x", null]));

        var present = await ReadDriverAsync(1, 110 * Second); // exactly ttl old: still served
        Assert.All(present, v => Assert.Equal(FeatureStatus.Present, v.Status));
        Assert.Equal(1.5, present[0].AsFloat64());
        Assert.Equal(1, present[1].AsInt32());
        Assert.Equal("x", present[2].AsString());
        Assert.Equal(100 * Second, present[0].EventTimestamp);

        var nulls = await ReadDriverAsync(2, 100 * Second);
        Assert.Equal([FeatureStatus.NullValue, FeatureStatus.Present, FeatureStatus.NullValue], nulls.Select(v => v.Status));
        Assert.Null(nulls[0].Value);

        var missing = await ReadDriverAsync(3, 100 * Second);
        Assert.All(missing, v => Assert.Equal(FeatureStatus.NotFound, v.Status));
        Assert.All(missing, v => Assert.Equal(0, v.EventTimestamp));

        var expired = await ReadDriverAsync(1, (110 * Second) + 1);
        Assert.All(expired, v => Assert.Equal(FeatureStatus.OutsideMaxAge, v.Status));
        Assert.All(expired, v => Assert.Null(v.Value));
        Assert.Equal(100 * Second, expired[0].EventTimestamp);

        // No TTL: never expires.
        await Store.WriteAsync("pairs", PairRows(["u"], [1], [5], [0.5f], [true]));
        var old = await ReadAsync(Store, "pairs", ["score"], ["u", 1], long.MaxValue / 2);
        Assert.Equal(FeatureStatus.Present, old[0].Status);
    }

    [BackendFact]
    public async Task Newest_event_wins_over_out_of_order_writes()
    {
        await Store.WriteAsync("drivers", DriverRows([1], [200], null, [2.0]));
        await Store.WriteAsync("drivers", DriverRows([1], [100], null, [1.0]));
        await Store.WriteAsync("drivers", DriverRows([1, 1, 1, 2], [150, 300, 250, 50], null, [3.0, 4.0, 5.0, 9.0]));

        Assert.Equal(4.0, (await ReadDriverAsync(1, 300))[0].AsFloat64());
        Assert.Equal(300, (await ReadDriverAsync(1, 300))[0].EventTimestamp);
        Assert.Equal(9.0, (await ReadDriverAsync(2, 300))[0].AsFloat64());
    }

    [BackendFact]
    public async Task Event_ties_go_to_the_newer_created_time_then_to_the_later_write()
    {
        await Store.WriteAsync("drivers", DriverRows([1], [100], [50], [1.0]));
        await Store.WriteAsync("drivers", DriverRows([1], [100], [40], [2.0]));
        Assert.Equal(1.0, (await ReadDriverAsync(1, 100))[0].AsFloat64());

        await Store.WriteAsync("drivers", DriverRows([1], [100], [60], [3.0]));
        Assert.Equal(3.0, (await ReadDriverAsync(1, 100))[0].AsFloat64());

        await Store.WriteAsync("drivers", DriverRows([1], [100], [60], [4.0]));
        Assert.Equal(4.0, (await ReadDriverAsync(1, 100))[0].AsFloat64());

        await Store.WriteAsync("drivers", DriverRows([1, 1, 1], [100, 100, 100], [60, 70, 70], [5.0, 6.0, 7.0]));
        Assert.Equal(7.0, (await ReadDriverAsync(1, 100))[0].AsFloat64());
    }

    protected static Table PairRows(string[] users, int[] items, long[] events, float?[] scores, bool?[] seen) =>
        Table.From(
            ("user", Columns.String(users)),
            ("item", Columns.Int32(items.Select(i => (int?)i).ToArray())),
            ("event_ts", Columns.Timestamp(events.Select(e => (long?)e).ToArray())),
            ("score", Columns.Float32(scores)),
            ("seen", Columns.Bool(seen)));

    [BackendFact]
    public async Task Multi_column_string_and_int_keys_address_distinct_entities()
    {
        await Store.WriteAsync("pairs", PairRows(["a", "a", "b", "é ü'\""], [1, 2, 1, -7], [1, 1, 1, 1], [0.25f, 0.5f, 0.75f, 1f], [true, false, null, true]));

        var values = await ReadAsync(Store, "pairs", ["seen", "score"], ["a", 2, "b", 1, "a", 1, "b", 2, "é ü'\"", -7], 1);

        Assert.Equal(10, values.Length / 2 * 2);
        Assert.False(values[0].AsBool());
        Assert.Equal(0.5f, values[1].AsFloat32());
        Assert.Equal(FeatureStatus.NullValue, values[2].Status);
        Assert.Equal(0.75f, values[3].AsFloat32());
        Assert.True(values[4].AsBool());
        Assert.Equal(FeatureStatus.NotFound, values[6].Status);
        Assert.Equal(1f, values[9].AsFloat32());
        Assert.Equal(4, await Store.CountAsync("pairs"));
    }

    [BackendFact]
    public async Task Every_feature_type_round_trips()
    {
        var rows = Table.From(
            ("id", Columns.Int32(int.MinValue, int.MaxValue)),
            ("ts", Columns.Timestamp(-5, 5)),
            ("b", Columns.Bool(true, false)),
            ("i", Columns.Int32(int.MinValue, -1)),
            ("l", Columns.Int64(long.MinValue, long.MaxValue)),
            ("f", Columns.Float32(float.MaxValue, -0.1f)),
            ("d", Columns.Float64(double.Epsilon, -1e300)),
            ("s", Columns.String("", "日本語 \\ \t \" '")),
            ("t", Columns.Timestamp(-1_000_000_123_456, 1_700_000_000_123_456)));
        await Store.WriteAsync("all types", rows);

        var features = AllTypes.Features.Select(f => f.Name).ToArray();
        var v = await ReadAsync(Store, "all types", features, [int.MinValue, int.MaxValue], 0);

        Assert.Equal([true, int.MinValue, long.MinValue, float.MaxValue, double.Epsilon, "", -1_000_000_123_456L], v[..7].Select(x => x.Value));
        Assert.Equal([false, -1, long.MaxValue, -0.1f, -1e300, "日本語 \\ \t \" '", 1_700_000_000_123_456L], v[7..].Select(x => x.Value));
        Assert.Equal(-5, v[0].EventTimestamp);
        Assert.Equal(5, v[7].EventTimestamp);
    }

    [BackendFact]
    public async Task Many_entities_in_one_read_land_in_request_order()
    {
        var ids = Enumerable.Range(0, 200).Where(i => i % 3 != 0).Select(i => (long)i).ToArray();
        await Store.WriteAsync("drivers", DriverRows(ids, ids.Select(i => 1000 + i).ToArray(), null, ids.Select(i => (double?)i / 2).ToArray()));

        var keys = Enumerable.Range(0, 100).Select(i => (EntityKeyPart)(long)(199 - (i * 2))).Append(5L).Append(5L).ToArray();
        var values = await ReadAsync(Store, "drivers", ["city", "rate"], keys, 1100);

        for (var e = 0; e < keys.Length; e++)
        {
            var id = keys[e].Number;
            if (id % 3 == 0)
            {
                Assert.Equal(FeatureStatus.NotFound, values[2 * e].Status);
            }
            else
            {
                Assert.Equal($"c{id}", values[2 * e].AsString());
                Assert.Equal(id / 2.0, values[(2 * e) + 1].AsFloat64());
                Assert.Equal(1000 + id, values[(2 * e) + 1].EventTimestamp);
            }
        }

        Assert.Equal(ids.Length, await Store.CountAsync("drivers"));
    }

    [BackendFact]
    public async Task Unknown_views_and_features_are_not_found_by_name()
    {
        var results = new FeatureValue[4];
        var view = await Assert.ThrowsAsync<StrataException>(async () => await Store.ReadAsync("nope", ["rate"], new EntityKeyPart[] { 1L }, 0, results));
        Assert.Equal(ErrorCodes.NotFound, view.Code);
        Assert.Contains("'nope'", view.Message, StringComparison.Ordinal);

        var feature = await Assert.ThrowsAsync<StrataException>(async () => await Store.ReadAsync("drivers", ["rate", "speed"], new EntityKeyPart[] { 1L }, 0, results));
        Assert.Equal(ErrorCodes.NotFound, feature.Code);
        Assert.Contains("'speed'", feature.Message, StringComparison.Ordinal);

        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Store.WriteAsync("nope", DriverRows([1], [1], null, [1.0])))).Code);
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Store.CountAsync("nope"))).Code);
    }

    [BackendTheory]
    [InlineData("drivers", "text")]
    [InlineData("pairs", "int")]
    [InlineData("pairs", "partial")]
    public async Task Keys_of_the_wrong_type_or_count_are_refused_naming_the_key(string view, string mistake)
    {
        EntityKeyPart[] keys = mistake switch
        {
            "text" => [1L, "2"],
            "int" => [5L, 1L],
            _ => ["a", 1L, "b"],
        };
        var results = new FeatureValue[10];

        var error = await Assert.ThrowsAsync<StrataException>(async () => await Store.ReadAsync(view, [view == "drivers" ? "rate" : "score"], keys, 0, results));

        Assert.Equal(ErrorCodes.ArgumentInvalid, error.Code);
        Assert.Contains(view == "drivers" ? "driver_id" : "user", error.Message, StringComparison.Ordinal);
    }

    [BackendFact]
    public async Task A_bad_table_is_refused_with_nothing_written()
    {
        var wrongType = Table.From(("driver_id", Columns.Int32(1)), ("event_ts", Columns.Timestamp(1L)), ("created_ts", Columns.Timestamp(1L)),
            ("rate", Columns.Float64(1.0)), ("trips", Columns.Int32(1)), ("city", Columns.String("a")));
        var missing = DriverRows([1], [1], null, [1.0]).Select("driver_id", "event_ts", "created_ts", "rate", "trips");
        var extra = Table.From(("driver_id", Columns.Int64(1L)), ("event_ts", Columns.Timestamp(1L)), ("created_ts", Columns.Timestamp(1L)),
            ("rate", Columns.Float64(1.0)), ("trips", Columns.Int32(1)), ("city", Columns.String("a")), ("speed", Columns.Float64(2.0)));
        var nullKey = Table.From(("driver_id", Columns.Int64(1L, null)), ("event_ts", Columns.Timestamp(1L, 1L)), ("created_ts", Columns.Timestamp(1L, 1L)),
            ("rate", Columns.Float64(1.0, 1.0)), ("trips", Columns.Int32(1, 1)), ("city", Columns.String("a", "b")));

        foreach (var bad in new[] { wrongType, missing, extra, nullKey })
        {
            var error = await Assert.ThrowsAsync<StrataException>(() => Store.WriteAsync("drivers", bad));
            Assert.True(error.Code is ErrorCodes.SchemaInvalid or ErrorCodes.DataNull, error.Code);
        }

        Assert.Equal(0, await Store.CountAsync("drivers"));
        Assert.Equal(FeatureStatus.NotFound, (await ReadDriverAsync(1, 1))[0].Status);
    }

    [BackendFact]
    public async Task Applying_views_adds_changes_drops_and_keeps_and_a_reopen_agrees()
    {
        await Store.WriteAsync("drivers", DriverRows([1, 2], [10, 10], null, [1.0, 2.0]));
        await Store.WriteAsync("pairs", PairRows(["a"], [1], [10], [0.5f], [true]));
        var changedPairs = new FeatureViewLayout("pairs", [new Field("user", DataType.String), new Field("item", DataType.Int32)], "event_ts", [new Field("score", DataType.Float64)]);
        var shortTtlDrivers = new FeatureViewLayout("drivers", Drivers.JoinKeys, "event_ts", Drivers.Features, "created_ts", TimeSpan.FromTicks(50));
        var added = new FeatureViewLayout("added", [new Field("id", DataType.Int64)], "event_ts", [new Field("x", DataType.Int64)]);

        await Store.ApplyViewsAsync([shortTtlDrivers, changedPairs, added]);

        Assert.Equal(["added", "drivers", "pairs"], Store.Views.Select(v => v.Name).Order(StringComparer.Ordinal));
        await AssertAppliedAsync(Store);
        await Store.WriteAsync("pairs", Table.From(("user", Columns.String("b")), ("item", Columns.Int32(2)), ("event_ts", Columns.Timestamp(20L)), ("score", Columns.Float64(0.125))));
        await Store.WriteAsync("drivers", DriverRows([3], [30], null, [3.0]));

        var reopened = await ReopenAsync([shortTtlDrivers, changedPairs, added]);
        try
        {
            await AssertAppliedAsync(reopened);
            Assert.Equal(0.125, (await ReadAsync(reopened, "pairs", ["score"], ["b", 2], 20))[0].AsFloat64());
            Assert.Equal(3, await reopened.CountAsync("drivers"));
        }
        finally
        {
            if (SharedByInstances)
            {
                await reopened.DisposeAsync();
            }
        }

        async Task AssertAppliedAsync(IOnlineStore store)
        {
            Assert.Equal(2.0, (await ReadDriverAsync(2, 10, store))[0].AsFloat64()); // kept
            Assert.Equal(FeatureStatus.OutsideMaxAge, (await ReadDriverAsync(2, 10 + 6, store))[0].Status); // the new TTL of 5 µs
            Assert.Equal(FeatureStatus.NotFound, (await ReadAsync(store, "pairs", ["score"], ["a", 1], 10))[0].Status); // changed: emptied
            Assert.Equal(0, await store.CountAsync("added"));
            Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => store.CountAsync("all types"))).Code); // dropped
        }
    }

    [BackendFact]
    public async Task Writes_survive_a_reopen_or_are_seen_by_another_instance()
    {
        await Store.WriteAsync("drivers", DriverRows([1, 2], [10, 20], [1, 2], [1.0, 2.0]));
        await Store.WriteAsync("pairs", PairRows(["a"], [1], [10], [0.5f], [true]));

        var other = await ReopenAsync([Drivers, Pairs, AllTypes]);
        try
        {
            Assert.Equal(2.0, (await ReadDriverAsync(2, 20, other))[0].AsFloat64());
            Assert.Equal(0.5f, (await ReadAsync(other, "pairs", ["score"], ["a", 1], 10))[0].AsFloat32());
            await other.WriteAsync("drivers", DriverRows([1], [30], null, [7.0]));
            Assert.Equal(7.0, (await ReadDriverAsync(1, 30, Store))[0].AsFloat64());
        }
        finally
        {
            if (SharedByInstances)
            {
                await other.DisposeAsync();
            }
        }
    }

    [BackendTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Random_writes_and_reads_agree_with_a_naive_model(int seed)
    {
        var random = new Random(seed);
        var model = new Dictionary<long, (long Event, long Created, long Order, double? Rate, int? Trips, string? City)>();
        long order = 0;
        for (var step = 0; step < 40; step++)
        {
            if (random.Next(3) > 0)
            {
                var n = random.Next(1, 25);
                var ids = Enumerable.Range(0, n).Select(_ => (long)random.Next(30)).ToArray();
                var events = Enumerable.Range(0, n).Select(_ => random.Next(5) * Second).ToArray();
                var created = Enumerable.Range(0, n).Select(_ => (long)random.Next(3)).ToArray();
                var rates = Enumerable.Range(0, n).Select(_ => random.Next(5) == 0 ? null : (double?)random.Next(1000) / 8).ToArray();
                var trips = Enumerable.Range(0, n).Select(_ => random.Next(5) == 0 ? null : (int?)random.Next(-50, 50)).ToArray();
                var cities = Enumerable.Range(0, n).Select(_ => random.Next(5) == 0 ? null : $"c{random.Next(4)}").ToArray();
                await Store.WriteAsync("drivers", DriverRows(ids, events, created, rates, trips, cities));
                for (var i = 0; i < n; i++)
                {
                    var row = (events[i], created[i], ++order, rates[i], trips[i], cities[i]);
                    if (!model.TryGetValue(ids[i], out var old) || (row.Item1, row.Item2, row.Item3).CompareTo((old.Event, old.Created, old.Order)) > 0)
                    {
                        model[ids[i]] = row;
                    }
                }
            }
            else
            {
                var keys = Enumerable.Range(0, random.Next(1, 40)).Select(_ => (EntityKeyPart)(long)random.Next(35)).ToArray();
                var now = random.Next(20) * Second;
                var values = await ReadAsync(Store, "drivers", DriverFeatures, keys, now);
                for (var e = 0; e < keys.Length; e++)
                {
                    var context = $"seed {seed}, step {step}, key {keys[e]}, now {now}";
                    if (!model.TryGetValue(keys[e].Number, out var row))
                    {
                        Assert.True(values[3 * e].Status == FeatureStatus.NotFound, context);
                        continue;
                    }

                    var expired = row.Event < now - (10 * Second);
                    object?[] expected = expired ? [null, null, null] : [row.Rate, row.Trips, row.City];
                    for (var f = 0; f < 3; f++)
                    {
                        var value = values[(3 * e) + f];
                        var status = expired ? FeatureStatus.OutsideMaxAge : expected[f] is null ? FeatureStatus.NullValue : FeatureStatus.Present;
                        Assert.True(status == value.Status && Equals(expected[f], value.Value) && row.Event == value.EventTimestamp, $"{context}, feature {f}: expected {status} {expected[f]} @{row.Event}, read {value}");
                    }
                }
            }
        }

        Assert.Equal(model.Count, await Store.CountAsync("drivers"));
    }
}
