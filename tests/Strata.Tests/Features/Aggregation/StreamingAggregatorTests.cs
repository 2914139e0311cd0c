using Strata.Features;
using Strata.Features.Aggregation;
using Strata.Features.Definitions;
using Strata.Features.OnlineStore;
using Strata.Features.Streaming;

namespace Strata.Tests.Features.Aggregation;

public sealed class StreamingAggregatorTests
{
    private static readonly FeatureViewLayout Events = new(
        "clicks",
        [new Field("user", DataType.String), new Field("shard", DataType.Int64)],
        "ts",
        [new Field("amount", DataType.Float64), new Field("qty", DataType.Int32), new Field("tag", DataType.String)],
        "created");

    private static readonly AggregationDefinition[] All =
    [
        new("n_10", AggregationFunction.Count, null, WindowedAggregationTests.Micros(10)),
        new("sum_10", AggregationFunction.Sum, "amount", WindowedAggregationTests.Micros(10)),
        new("mean_30", AggregationFunction.Mean, "amount", WindowedAggregationTests.Micros(30)),
        new("min_5", AggregationFunction.Min, "amount", WindowedAggregationTests.Micros(5)),
        new("max_30", AggregationFunction.Max, "qty", WindowedAggregationTests.Micros(30)),
        new("last_tag", AggregationFunction.Last, "tag", WindowedAggregationTests.Micros(10)),
        new("last_amount", AggregationFunction.Last, "amount", WindowedAggregationTests.Micros(30)),
        new("sum_qty", AggregationFunction.Sum, "qty", WindowedAggregationTests.Micros(60)),
    ];

    private static readonly int[] Everything = [.. Enumerable.Range(0, All.Length)];

    [Fact]
    public void Reads_equal_batch_values_as_of_the_read_time_bit_for_bit_after_every_push()
    {
        for (var seed = 0; seed < 30; seed++)
        {
            var random = new Random(seed);
            var aggregator = new StreamingAggregator(Events, All);
            var store = new FakeStore(aggregator);
            var pushed = new List<Table>();
            var all = WindowedAggregationTests.RandomEvents(random, 400, exactSums: false);
            // Time mostly moves forward, with late events: sort by a jittered time.
            var order = Enumerable.Range(0, all.RowCount).OrderBy(r => ((Column<long>)all["ts"]).Values[r] + random.Next(-25, 25)).ToArray();
            all = all.Take(order);
            long now = 0;
            for (var at = 0; at < all.RowCount;)
            {
                var size = Math.Min(random.Next(1, 30), all.RowCount - at);
                var batch = all.Slice(at, size);
                at += size;
                pushed.Add(batch);
                now = Math.Max(now, ((Column<long>)batch["ts"]).Values.ToArray().Max() + random.Next(-5, 5)); // the push's clock

                var written = store.Push(batch, now);

                // Every entity, read at the push time and at random instants after it (windows empty out as they go by).
                foreach (var t in new[] { now, now + random.Next(1, 10), now + random.Next(10, 70) })
                {
                    var entities = Table.From(
                        ("user", Columns.String([.. store.Keys.Select(k => k.User)])),
                        ("shard", Columns.Int64([.. store.Keys.Select(k => (long?)k.Shard)])),
                        ("ts", Columns.Timestamp([.. store.Keys.Select(_ => (long?)t)])));
                    var expected = WindowedAggregation.AsOf(Table.Concat(pushed), Events, All, entities, "ts");
                    for (var e = 0; e < entities.RowCount; e++)
                    {
                        var served = store.Read(store.Keys[e], t, Everything);
                        for (var a = 0; a < All.Length; a++)
                        {
                            var want = expected[a].GetValue(e);
                            Assert.True(served[a].Status == (want is null ? FeatureStatus.NullValue : FeatureStatus.Present), $"seed {seed}, push {pushed.Count}, t {t}, {All[a].Name}, {store.Keys[e]}: status {served[a].Status}, batch {want}");
                            Assert.True(WindowedAggregationTests.Same(want, served[a].Value), $"seed {seed}, push {pushed.Count}, t {t}, {All[a].Name}, {store.Keys[e]}: batch {want}, streaming {served[a].Value}");
                        }
                    }
                }

                var touched = Enumerable.Range(0, batch.RowCount).Select(r => (batch["user"].GetValue(r), batch["shard"].GetValue(r))).Distinct().Count();
                Assert.Equal(touched, written.RowCount); // one row per entity the push touched
            }
        }
    }

    [Fact]
    public void Windows_merged_push_by_push_equal_the_windows_built_from_all_events()
    {
        var random = new Random(7);
        var history = WindowedAggregationTests.RandomEvents(random, 300, exactSums: false);
        var aggregator = new StreamingAggregator(Events, All);
        var store = new FakeStore(aggregator);
        store.Push(history.Slice(0, 120), 100);
        store.Push(history.Slice(120, 80), 100);
        store.Push(history.Slice(200, 100), 100);

        var built = aggregator.Build(history, long.MinValue, 100);

        Assert.Equal(store.Keys.Count, built.RowCount);
        for (var r = 0; r < built.RowCount; r++)
        {
            var key = (((StringColumn)built["user"])[r]!, built.GetColumn<long>("shard")[r]);
            Assert.Equal(store.Row(key), (built.GetColumn<long>("ts")[r], built.GetColumn<long>("created")[r], ((StringColumn)built[aggregator.WindowColumn])[r]));
        }
    }

    [Fact]
    public void A_window_counts_an_event_until_the_window_has_passed_it()
    {
        var aggregator = new StreamingAggregator(Events, All);
        var store = new FakeStore(aggregator);
        store.Push(Clicks(("a", 100, 2.5)), 100);
        int[] asked = [aggregator.IndexOf("n_10"), aggregator.IndexOf("sum_10"), aggregator.IndexOf("mean_30")];

        var inside = store.Read(("a", 1), 109, asked);
        var after = store.Read(("a", 1), 110, asked);
        var mean = store.Read(("a", 1), 129, asked);

        Assert.Equal(new object?[] { 1L, 2.5, 2.5 }, inside.Select(v => v.Value));
        Assert.Equal(new object?[] { 0L, 0.0, 2.5 }, after.Select(v => v.Value)); // (t − 10, t] no longer holds 100
        Assert.Equal([FeatureStatus.Present, FeatureStatus.Present, FeatureStatus.Present], after.Select(v => v.Status));
        Assert.Equal(FeatureStatus.NullValue, store.Read(("a", 1), 130, asked)[2].Status);
        Assert.Equal(2.5, mean[2].Value);
        Assert.All(after, v => Assert.Equal(100, v.EventTimestamp)); // the row's newest event
    }

    [Fact]
    public void An_entity_keeps_only_the_events_of_its_widest_window_before_the_push()
    {
        var aggregator = new StreamingAggregator(Events, All);
        var store = new FakeStore(aggregator);
        for (var t = 0L; t < 2_000; t++)
        {
            store.Push(Clicks(("a", t, 1)), t);
        }

        var kept = store.Row(("a", 1)).Window.Length;
        store.Push(Clicks(("a", 2_000, 1), ("a", 1_900, 1)), 2_000); // a late event beyond the widest window (60 µs)

        Assert.Equal(kept, store.Row(("a", 1)).Window.Length);
        Assert.Equal(60.0, store.Read(("a", 1), 2_000, [aggregator.IndexOf("sum_qty")])[0].Value);
        Assert.InRange(kept, 1, 10_000); // 60 events and their suffix tables; 2,000 events would take over 100 KB
    }

    [Fact]
    public void Missing_and_expired_windows_give_their_status_to_every_aggregation_with_its_type()
    {
        var aggregator = new StreamingAggregator(Events, All);
        var missing = new FeatureValue[All.Length];
        var expired = new FeatureValue[All.Length];

        aggregator.Evaluate(default, 0, Everything, missing);
        aggregator.Evaluate(new FeatureValue(FeatureStatus.OutsideMaxAge, DataType.String, 42, 0, null), 0, Everything, expired);

        Assert.All(missing, v => Assert.Equal(FeatureStatus.NotFound, v.Status));
        Assert.All(expired, v => Assert.Equal((FeatureStatus.OutsideMaxAge, 42L), (v.Status, v.EventTimestamp)));
        Assert.Equal([DataType.Int64, DataType.Float64, DataType.Float64, DataType.Float64, DataType.Float64, DataType.String, DataType.Float64, DataType.Float64], expired.Select(v => v.Type));
    }

    [Fact]
    public void A_malformed_window_is_refused()
    {
        var aggregator = new StreamingAggregator(Events, All);
        var results = new FeatureValue[1];

        var e = Assert.Throws<StrataException>(() => aggregator.Evaluate(new FeatureValue(FeatureStatus.Present, DataType.String, 1, 0, "AQAAAA=="), 1, [0], results));

        Assert.Equal(ErrorCodes.DataMalformed, e.Code);
    }

    [Fact]
    public void The_window_column_changes_with_what_its_encoding_depends_on()
    {
        var same = new StreamingAggregator(Events, [.. All.Reverse()]);
        var narrower = new StreamingAggregator(Events, [.. All.Where(a => a.Name != "sum_qty")]);
        var fewerInputs = new StreamingAggregator(Events, [.. All.Where(a => a.Column != "tag")]);
        var online = new StreamingAggregator(Events, All).OnlineLayout;

        Assert.Equal(["user", "shard", "ts", "created", online.Features[0].Name], online.Schema.Names);
        Assert.Equal(DataType.String, Assert.Single(online.Features).Type);
        Assert.Equal(online.Features[0].Name, same.WindowColumn);
        Assert.NotEqual(online.Features[0].Name, narrower.WindowColumn);
        Assert.NotEqual(online.Features[0].Name, fewerInputs.WindowColumn);
    }

    private static Table Clicks(params (string User, long Ts, double Amount)[] rows) => Table.From(
        ("user", Columns.String([.. rows.Select(r => r.User)])),
        ("shard", Columns.Int64([.. rows.Select(_ => (long?)1)])),
        ("ts", Columns.Timestamp([.. rows.Select(r => (long?)r.Ts)])),
        ("created", Columns.Timestamp([.. rows.Select(_ => (long?)0)])),
        ("amount", Columns.Float64([.. rows.Select(r => (double?)r.Amount)])),
        ("qty", Columns.Int32([.. rows.Select(_ => (int?)1)])),
        ("tag", Columns.String([.. rows.Select(_ => "x")])));

    /// <summary>
    /// The online store's part, the simple way: the latest row per key (a merge always writes a row at least as new as the
    /// one it read, so it always wins), read with its status and event time.
    /// </summary>
    private sealed class FakeStore(StreamingAggregator aggregator)
    {
        private readonly Dictionary<(string User, long Shard), (long Ts, long Created, string Window)> _rows = [];

        public List<(string User, long Shard)> Keys { get; } = [];

        public Table Push(Table events, long now)
        {
            var batch = aggregator.Prepare(events);
            var keys = batch.Keys.ToArray();
            var stored = new FeatureValue[batch.EntityCount];
            for (var e = 0; e < stored.Length; e++)
            {
                var key = (keys[2 * e].Text!, keys[(2 * e) + 1].Number);
                stored[e] = _rows.TryGetValue(key, out var row) ? new FeatureValue(FeatureStatus.Present, DataType.String, row.Ts, 0, row.Window) : default;
            }

            var written = aggregator.Merge(batch, stored, now);
            for (var r = 0; r < written.RowCount; r++)
            {
                var key = (((StringColumn)written["user"])[r]!, written.GetColumn<long>("shard")[r]);
                if (_rows.TryGetValue(key, out var old))
                {
                    Assert.True(written.GetColumn<long>("ts")[r] >= old.Ts, "a merge wrote an older row than it read");
                }
                else
                {
                    Keys.Add(key);
                }

                _rows[key] = (written.GetColumn<long>("ts")[r], written.GetColumn<long>("created")[r], ((StringColumn)written[aggregator.WindowColumn])[r]!);
            }

            return written;
        }

        public (long Ts, long Created, string Window) Row((string User, long Shard) key) => _rows[key];

        public FeatureValue[] Read((string User, long Shard) key, long now, int[] aggregations)
        {
            var row = _rows[key];
            var results = new FeatureValue[aggregations.Length];
            aggregator.Evaluate(new FeatureValue(FeatureStatus.Present, DataType.String, row.Ts, 0, row.Window), now, aggregations, results);
            return results;
        }
    }
}
