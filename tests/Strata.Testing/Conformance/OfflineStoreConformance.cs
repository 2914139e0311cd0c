using Strata.Features;
using Strata.Features.OfflineStore;
using Strata.Features.PointInTime;
using Xunit;

namespace Strata.Testing.Conformance;

/// <summary>
/// The behaviour every <see cref="IOfflineStore"/> backend must show, written once and run per backend through a small
/// sealed subclass: the point-in-time join against <see cref="NaiveHistoricalFeatures"/> on seeded random data, leakage,
/// range reads, all-or-nothing appends, layout checks, and identical results to the embedded store.
/// </summary>
public abstract class OfflineStoreConformance : IAsyncLifetime
{
    protected const long Hour = 3_600_000_000;
    protected static readonly long T0 = Timestamp.FromDateTime(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc));

    private IOfflineStore? _store;
    private readonly List<Func<Task>> _cleanups = [];

    protected IOfflineStore Store => _store ?? throw new InvalidOperationException("store not open");

    /// <summary>Opens a fresh, empty store.</summary>
    protected abstract Task<IOfflineStore> OpenStoreAsync();

    /// <summary>Closes <see cref="Store"/> and opens the same store again.</summary>
    protected abstract Task<IOfflineStore> ReopenStoreAsync(IOfflineStore store);

    public async Task InitializeAsync() => _store = await OpenStoreAsync();

    public virtual async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }

        foreach (var cleanup in _cleanups)
        {
            await cleanup();
        }
    }

    public static TheoryData<int> Seeds() => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    [BackendTheory]
    [MemberData(nameof(Seeds))]
    public async Task Historical_features_agree_with_the_naive_reference_on_random_data(int seed)
    {
        var random = new Random(seed);
        var cases = new[] { RandomView(random, "first"), RandomView(random, "second") };
        var sources = new List<NaiveHistoricalFeatures.Source>();
        foreach (var c in cases)
        {
            var stored = await AppendInBatchesAsync(random, c.View, c.Rows);
            sources.Add(new NaiveHistoricalFeatures.Source(c.View, stored, c.Features, c.EntityKeys));
        }

        var entities = RandomEntities(random, cases, rows: random.Next(0, 150));
        var requests = cases.Select(c => new HistoricalFeatureRequest(c.View, c.Features) { EntityKeys = c.EntityKeys }).ToArray();

        var actual = await Store.GetHistoricalFeaturesAsync(entities, "ts", requests, new PointInTimeJoinOptions { FullFeatureNames = true });

        var expected = NaiveHistoricalFeatures.Join(entities, "ts", sources, fullFeatureNames: true);
        try
        {
            TableAssert.Equal(expected, actual);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"seed {seed}: {e.Message}", e);
        }
    }

    [BackendTheory]
    [InlineData(21)]
    [InlineData(22)]
    public async Task No_feature_value_comes_from_after_the_entity_timestamp_or_before_the_ttl(int seed)
    {
        // The feature 'seen' holds each row's own event time, so a leak shows up as a value after the entity's time.
        var random = new Random(seed);
        var view = new FeatureViewLayout(
            "leaky", [new Field("id", DataType.Int64)], "event_ts", [new Field("seen", DataType.Timestamp)], ttl: TimeSpan.FromHours(5));
        var rows = 3_000;
        var ids = new long?[rows];
        var ts = new long?[rows];
        for (var i = 0; i < rows; i++)
        {
            ids[i] = random.Next(40);
            ts[i] = T0 + (random.Next(0, 24 * 6) * Hour) + random.Next(3) * 1_000_000;
        }

        await AppendInBatchesAsync(random, view, Table.From(("id", Columns.Int64(ids)), ("event_ts", Columns.Timestamp(ts)), ("seen", Columns.Timestamp(ts))));
        var entityTs = Enumerable.Range(0, 2_000).Select(_ => (long?)(T0 + (random.Next(-24, 24 * 7) * Hour))).ToArray();
        var entities = Table.From(("id", Columns.Int64(Enumerable.Range(0, 2_000).Select(_ => (long?)random.Next(45)).ToArray())), ("ts", Columns.Timestamp(entityTs)));

        var result = await Store.GetHistoricalFeaturesAsync(entities, "ts", [new HistoricalFeatureRequest(view, ["seen"])]);

        var seen = result.GetColumn<long>("seen");
        var matched = 0;
        for (var i = 0; i < result.RowCount; i++)
        {
            if (seen.IsValid(i))
            {
                matched++;
                Assert.True(seen[i] <= entityTs[i], $"row {i}: value from {Timestamp.Format(seen[i])} leaked into an entity at {Timestamp.Format(entityTs[i]!.Value)}");
                Assert.True(seen[i] >= entityTs[i] - (5 * Hour), $"row {i}: value older than the TTL");
            }
        }

        Assert.InRange(matched, 100, result.RowCount - 1);
    }

    [BackendFact]
    public async Task A_view_without_rows_gives_nulls_of_its_feature_types()
    {
        var view = Layout("empty");
        var entities = Table.From(("id", Columns.Int64(1, null, 3)), ("ts", Columns.Timestamp(T0, T0, null)));

        var result = await Store.GetHistoricalFeaturesAsync(entities, "ts", [new HistoricalFeatureRequest(view, ["amount", "label"])]);

        Assert.Equal(["id", "ts", "amount", "label"], result.Schema.Names);
        Assert.Equal(DataType.Float64, result["amount"].Type);
        Assert.Equal(DataType.String, result["label"].Type);
        Assert.Equal(3, result["amount"].NullCount);
        Assert.Equal(3, result["label"].NullCount);
        Assert.Null(await Store.GetEventTimeRangeAsync(view));
        await foreach (var _ in Store.ReadAsync(view, long.MinValue, long.MaxValue, 10))
        {
            Assert.Fail("an unknown view yields nothing");
        }
    }

    [BackendFact]
    public async Task Ties_go_to_the_later_created_time_then_to_the_later_append()
    {
        var view = new FeatureViewLayout(
            "ties", [new Field("id", DataType.String)], "event_ts", [new Field("v", DataType.Int32)], createdTimestampColumn: "created_ts", ttl: TimeSpan.FromHours(1));
        Table Rows(string?[] ids, long[] ev, long[] created, int?[] v) => Table.From(
            ("id", Columns.String(ids)),
            ("event_ts", Columns.Timestamp(ev.Select(x => (long?)x).ToArray())),
            ("created_ts", Columns.Timestamp(created.Select(x => (long?)x).ToArray())),
            ("v", Columns.Int32(v)));
        await Store.AppendAsync(view, Rows(["a", "a", "b", "c"], [T0, T0, T0, T0 - Hour], [T0 + 5, T0 + 9, T0, T0], [1, 2, 10, 20]));
        await Store.AppendAsync(view, Rows(["a", "b", "b"], [T0, T0, T0], [T0 + 5, T0, T0 - 1], [3, 11, 12]));

        var entities = Table.From(("id", Columns.String("a", "b", "c", "c", null)), ("ts", Columns.Timestamp(T0, T0, T0, T0 + 1, T0)));
        var result = await Store.GetHistoricalFeaturesAsync(entities, "ts", [new HistoricalFeatureRequest(view, ["v"])]);

        // a: created T0+9 wins over T0+5; b: created tie at T0 → the later append (11); c: exactly TTL old still counts,
        // one microsecond more does not; a null key never matches.
        Assert.Equal(new object?[] { 2, 11, 20, null, null }, Enumerable.Range(0, 5).Select(i => result["v"].GetValue(i)));
    }

    [BackendFact]
    public async Task Reads_return_exactly_the_rows_in_range_in_bounded_batches()
    {
        var random = new Random(5);
        var view = Layout("ranged");
        var rows = RandomRows(random, view, 2_500, days: 4);
        await AppendInBatchesAsync(random, view, rows);
        var start = T0 + (30 * Hour) + 17;
        var end = T0 + (75 * Hour);

        var batches = new List<Table>();
        await foreach (var batch in Store.ReadAsync(view, start, end, batchRows: 97))
        {
            batches.Add(batch);
        }

        Assert.All(batches, b => Assert.InRange(b.RowCount, 1, 97));
        var ts = rows.GetColumn<long>("event_ts");
        var expected = Enumerable.Range(0, rows.RowCount).Where(i => ts[i] >= start && ts[i] < end).ToArray();
        Assert.Equal(Sorted(rows.Take(expected)), Sorted(Table.Concat(batches)));
        Assert.Equal((Min(ts), Max(ts)), await Store.GetEventTimeRangeAsync(view));
    }

    [BackendFact]
    public async Task An_append_with_the_wrong_columns_is_refused_and_stores_nothing()
    {
        var view = Layout("strict");
        var good = RandomRows(new Random(1), view, 10, days: 1);
        var wrongType = Table.From(("id", Columns.Int32(1)), ("event_ts", Columns.Timestamp(T0)), ("amount", Columns.Float64(1)), ("label", Columns.String("x")));
        var nullKey = Table.From(("id", Columns.Int64(1, null)), ("event_ts", Columns.Timestamp(T0, T0)), ("amount", Columns.Float64(1, 2)), ("label", Columns.String("x", "y")));

        await Assert.ThrowsAsync<StrataException>(() => Store.AppendAsync(view, wrongType));
        await Assert.ThrowsAsync<StrataException>(() => Store.AppendAsync(view, nullKey));
        Assert.Null(await Store.GetEventTimeRangeAsync(view));
        await Store.AppendAsync(view, good);
        await Assert.ThrowsAsync<StrataException>(() => Store.AppendAsync(view, nullKey));

        Assert.Equal(10, await CountAsync(view));
    }

    [BackendFact]
    public async Task The_fingerprint_changes_with_every_committed_append_and_with_nothing_else()
    {
        var view = Layout("printed");
        var other = Layout("other");
        var empty = await Store.GetFingerprintAsync(view);
        await Store.AppendAsync(view, RandomRows(new Random(2), view, 20, days: 2));
        var once = await Store.GetFingerprintAsync(view);
        var read = await Store.GetHistoricalFeaturesAsync(Table.From(("id", Columns.Int64(1)), ("ts", Columns.Timestamp(T0))), "ts", [new HistoricalFeatureRequest(view, ["amount"])]);
        await Assert.ThrowsAsync<StrataException>(() => Store.AppendAsync(view, Table.From(("id", Columns.Int32(1)))));
        await Store.AppendAsync(other, RandomRows(new Random(3), other, 5, days: 1));
        var unchanged = await Store.GetFingerprintAsync(view);
        await Store.AppendAsync(view, RandomRows(new Random(4), view, 1, days: 1));
        var twice = await Store.GetFingerprintAsync(view);
        _store = await ReopenStoreAsync(Store);

        Assert.Equal(1, read.RowCount);
        Assert.NotEqual(empty, once);
        Assert.Equal(once, unchanged); // a read, a refused append and another view's append change nothing
        Assert.NotEqual(once, twice);
        Assert.Equal(twice, await Store.GetFingerprintAsync(view));
    }

    [BackendFact]
    public async Task A_changed_layout_is_refused_for_appends_and_reads()
    {
        var view = Layout("evolving");
        await Store.AppendAsync(view, RandomRows(new Random(2), view, 5, days: 1));
        var changed = new FeatureViewLayout("evolving", [new Field("id", DataType.Int64)], "event_ts", [new Field("amount", DataType.Float32), new Field("label", DataType.String)]);
        var changedRows = Table.From(("id", Columns.Int64(1)), ("event_ts", Columns.Timestamp(T0)), ("amount", Columns.Float32(1)), ("label", Columns.String("x")));

        var append = await Assert.ThrowsAsync<StrataException>(() => Store.AppendAsync(changed, changedRows));
        var read = await Assert.ThrowsAsync<StrataException>(() => Store.GetEventTimeRangeAsync(changed));

        Assert.Equal(ErrorCodes.Conflict, append.Code);
        Assert.Contains("evolving", read.Message, StringComparison.Ordinal);
        Assert.Equal(5, await CountAsync(view));
    }

    [BackendFact]
    public async Task A_reopened_store_sees_what_was_appended()
    {
        var view = Layout("durable");
        var rows = RandomRows(new Random(3), view, 300, days: 3);
        await Store.AppendAsync(view, rows);

        _store = await ReopenStoreAsync(Store);

        Assert.Equal(300, await CountAsync(view));
        var entities = Table.From(("id", Columns.Int64(0, 1, 2)), ("ts", Columns.Timestamp(T0 + (80 * Hour), T0 + (80 * Hour), T0 + Hour)));
        TableAssert.Equal(
            NaiveHistoricalFeatures.Join(entities, "ts", [new NaiveHistoricalFeatures.Source(view, rows, ["amount", "label"])], false),
            await Store.GetHistoricalFeaturesAsync(entities, "ts", [new HistoricalFeatureRequest(view, ["amount", "label"])]));
    }

    [BackendTheory]
    [InlineData(31)]
    [InlineData(32)]
    public async Task Results_are_identical_to_the_embedded_store(int seed)
    {
        using var folder = new TempFolder("strata-offline-ref");
        await using var embedded = await EmbeddedOfflineStore.OpenAsync(folder.Path);
        var random = new Random(seed);
        var cases = new[] { RandomView(random, "one"), RandomView(random, "two") };
        foreach (var c in cases)
        {
            var batches = SplitRandomly(random, c.Rows);
            foreach (var batch in batches)
            {
                await Store.AppendAsync(c.View, batch);
                await embedded.AppendAsync(c.View, batch);
            }
        }

        var entities = RandomEntities(random, cases, rows: 400);
        var requests = cases.Select(c => new HistoricalFeatureRequest(c.View, c.Features) { EntityKeys = c.EntityKeys }).ToArray();
        var options = new PointInTimeJoinOptions { FullFeatureNames = true };

        TableAssert.Equal(
            await embedded.GetHistoricalFeaturesAsync(entities, "ts", requests, options),
            await Store.GetHistoricalFeaturesAsync(entities, "ts", requests, options),
            compareSchemaDetails: true);
    }

    // ---- data ----

    protected sealed record ViewCase(FeatureViewLayout View, Table Rows, string[] Features, string[]? EntityKeys);

    protected static FeatureViewLayout Layout(string name) => new(
        name, [new Field("id", DataType.Int64)], "event_ts", [new Field("amount", DataType.Float64), new Field("label", DataType.String)]);

    protected static Table RandomRows(Random random, FeatureViewLayout view, int rows, int days)
    {
        var columns = new List<(string, Column)>
        {
            ("id", Columns.Int64(Enumerable.Range(0, rows).Select(_ => (long?)random.Next(5)).ToArray())),
            ("event_ts", Columns.Timestamp(Enumerable.Range(0, rows).Select(_ => (long?)(T0 + random.NextInt64(days * 24 * Hour))).ToArray())),
            ("amount", Columns.Float64(Enumerable.Range(0, rows).Select(_ => random.Next(8) == 0 ? null : (double?)random.NextDouble()).ToArray())),
            ("label", Columns.String(Enumerable.Range(0, rows).Select(_ => random.Next(8) == 0 ? null : $"l{random.Next(20)}").ToArray())),
        };
        return Table.From(columns.ToArray()).WithSchema(view.Schema);
    }

    /// <summary>
    /// A view with random keys (int, string or both), optional created time, TTL or none, and rows on an hourly grid over
    /// a few days, so equal event times, equal created times and rows exactly one TTL old are common.
    /// </summary>
    private static ViewCase RandomView(Random random, string name)
    {
        var shape = random.Next(3);
        Field[] keys = shape switch
        {
            0 => [new Field("user", DataType.Int64)],
            1 => [new Field("city", DataType.String)],
            _ => [new Field("shop", DataType.Int32), new Field("city", DataType.String)],
        };
        var created = random.Next(2) == 0 ? $"{name}_created" : null;
        var ttl = random.Next(3) == 0 ? TimeSpan.Zero : TimeSpan.FromHours(random.Next(1, 30));
        Field[] features =
        [
            new($"{name}_x", DataType.Float64), new($"{name}_n", DataType.Int32), new($"{name}_s", DataType.String),
            new($"{name}_f", DataType.Float32), new($"{name}_b", DataType.Bool), new($"{name}_seen", DataType.Timestamp),
        ];
        var view = new FeatureViewLayout(name, keys, $"{name}_ts", features, created, ttl);
        var rows = random.Next(4) == 0 ? 0 : random.Next(1, 200);
        var ts = Enumerable.Range(0, rows).Select(_ => (long?)(T0 + (random.Next(0, 24 * 4) * Hour))).ToArray();
        var columns = new List<Column>();
        foreach (var key in keys)
        {
            columns.Add(KeyColumn(random, key, rows, nulls: false));
        }

        columns.Add(Columns.Timestamp(ts));
        if (created is not null)
        {
            columns.Add(Columns.Timestamp(Enumerable.Range(0, rows).Select(_ => (long?)(T0 + random.Next(3))).ToArray()));
        }

        columns.Add(Columns.Float64(Enumerable.Range(0, rows).Select(_ => random.Next(6) == 0 ? null : (double?)Math.Round(random.NextDouble() * 100, random.Next(1, 16))).ToArray()));
        columns.Add(Columns.Int32(Enumerable.Range(0, rows).Select(i => random.Next(6) == 0 ? null : (int?)i).ToArray()));
        columns.Add(Columns.String(Enumerable.Range(0, rows).Select(_ => random.Next(6) == 0 ? null : $"s{random.Next(9)}-ü").ToArray()));
        columns.Add(Columns.Float32(Enumerable.Range(0, rows).Select(_ => random.Next(6) == 0 ? null : (float?)random.NextSingle()).ToArray()));
        columns.Add(Columns.Bool(Enumerable.Range(0, rows).Select(_ => random.Next(6) == 0 ? null : (bool?)(random.Next(2) == 0)).ToArray()));
        columns.Add(Columns.Timestamp(ts));
        var table = new Table(view.Schema, columns);
        var featureNames = features.Select(f => f.Name).Where(_ => random.Next(4) != 0).ToArray();
        return new ViewCase(view, table, featureNames.Length == 0 ? [features[0].Name] : featureNames, null);
    }

    private static Column KeyColumn(Random random, Field key, int rows, bool nulls) => key.Type switch
    {
        DataType.Int64 => Columns.Int64(Enumerable.Range(0, rows).Select(_ => nulls && random.Next(10) == 0 ? null : (long?)random.Next(6)).ToArray()),
        DataType.Int32 => Columns.Int32(Enumerable.Range(0, rows).Select(_ => nulls && random.Next(10) == 0 ? null : (int?)random.Next(3)).ToArray()),
        _ => Columns.String(Enumerable.Range(0, rows).Select(_ => nulls && random.Next(10) == 0 ? null : $"c{random.Next(4)}").ToArray()),
    };

    /// <summary>Entity rows with every key column the views use, some null keys and timestamps, times on the same hourly grid.</summary>
    private static Table RandomEntities(Random random, IReadOnlyList<ViewCase> cases, int rows)
    {
        var keys = cases.SelectMany(c => c.View.JoinKeys).DistinctBy(k => k.Name).ToArray();
        var columns = keys.Select(k => (k.Name, KeyColumn(random, k, rows, nulls: true))).ToList();
        columns.Add(("ts", Columns.Timestamp(Enumerable.Range(0, rows).Select(_ => random.Next(15) == 0 ? null : (long?)(T0 + (random.Next(-5, 24 * 5) * Hour) + (random.Next(4) == 0 ? 1 : 0))).ToArray())));
        columns.Add(("label", Columns.Float64(Enumerable.Range(0, rows).Select(i => (double?)i).ToArray())));
        return Table.From(columns.ToArray());
    }

    /// <summary>Appends rows in a few shuffled batches (so later batches bring older rows) and returns them in stored order.</summary>
    protected async Task<Table> AppendInBatchesAsync(Random random, FeatureViewLayout view, Table rows)
    {
        var batches = SplitRandomly(random, rows);
        foreach (var batch in batches)
        {
            await Store.AppendAsync(view, batch);
        }

        return batches.Count == 0 ? rows : Table.Concat(batches);
    }

    private static List<Table> SplitRandomly(Random random, Table rows)
    {
        var order = Enumerable.Range(0, rows.RowCount).OrderBy(_ => random.Next()).ToArray();
        var batches = new List<Table>();
        for (var start = 0; start < order.Length;)
        {
            var count = Math.Min(order.Length - start, random.Next(1, Math.Max(2, order.Length / 2)));
            batches.Add(rows.Take(order.AsSpan(start, count)));
            start += count;
        }

        return batches;
    }

    private async Task<int> CountAsync(FeatureViewLayout view)
    {
        var count = 0;
        await foreach (var batch in Store.ReadAsync(view, long.MinValue, long.MaxValue, 1000))
        {
            count += batch.RowCount;
        }

        return count;
    }

    private static List<string> Sorted(Table table)
    {
        var rows = new List<string>();
        for (var r = 0; r < table.RowCount; r++)
        {
            rows.Add(string.Join("|", table.Columns.Select(c => Convert.ToString(c.GetValue(r), System.Globalization.CultureInfo.InvariantCulture) ?? "null")));
        }

        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    private static long Min(Column<long> c) => Enumerable.Range(0, c.Length).Min(i => c[i]);

    private static long Max(Column<long> c) => Enumerable.Range(0, c.Length).Max(i => c[i]);
}
