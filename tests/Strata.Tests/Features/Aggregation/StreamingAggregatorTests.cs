using Strata.Features;
using Strata.Features.Aggregation;
using Strata.Features.Definitions;
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

    private static readonly FeatureViewLayout Online = new(
        "clicks",
        Events.JoinKeys,
        "ts",
        All.Select(a => new Field(a.Name, a.Function switch
        {
            AggregationFunction.Count => DataType.Int64,
            AggregationFunction.Last => Events.Features[Events.FeatureIndex(a.Column!)].Type,
            _ => DataType.Float64,
        })).ToArray(),
        "created");

    [Fact]
    public void Streaming_values_equal_batch_values_bit_for_bit_after_every_push()
    {
        for (var seed = 0; seed < 30; seed++)
        {
            var random = new Random(seed);
            var aggregator = new StreamingAggregator(Events, All, Online);
            var pushed = new List<Table>();
            var all = WindowedAggregationTests.RandomEvents(random, 400, exactSums: false);
            // Time mostly moves forward, with late events: sort by a jittered time.
            var order = Enumerable.Range(0, all.RowCount).OrderBy(r => ((Column<long>)all["ts"]).Values[r] + random.Next(-25, 25)).ToArray();
            all = all.Take(order);
            for (var at = 0; at < all.RowCount;)
            {
                var size = Math.Min(random.Next(1, 30), all.RowCount - at);
                var batch = all.Slice(at, size);
                at += size;
                pushed.Add(batch);

                var served = aggregator.Apply(batch);

                var expected = WindowedAggregation.AsOf(Table.Concat(pushed), Events, All, served.Select("user", "shard", "ts"), "ts");
                for (var a = 0; a < All.Length; a++)
                {
                    for (var i = 0; i < served.RowCount; i++)
                    {
                        var want = expected[a].GetValue(i);
                        var got = served[All[a].Name].GetValue(i);
                        Assert.True(WindowedAggregationTests.Same(want, got), $"seed {seed}, push {pushed.Count}, {All[a].Name}, row {i}: batch {want}, streaming {got}");
                    }
                }
            }
        }
    }

    [Fact]
    public void Restore_rebuilds_the_state_from_history()
    {
        var random = new Random(7);
        var history = WindowedAggregationTests.RandomEvents(random, 200, exactSums: false);
        var next = WindowedAggregationTests.RandomEvents(random, 50, exactSums: false);
        var live = new StreamingAggregator(Events, All, Online);
        live.Apply(history.Slice(0, 120));
        live.Apply(history.Slice(120, 80));
        var restored = new StreamingAggregator(Events, All, Online);
        restored.Restore([history.Slice(0, 120), history.Slice(120, 80)]);

        var a = live.Apply(next);
        var b = restored.Apply(next);

        Assert.Equal(live.EntityCount, restored.EntityCount);
        for (var c = 0; c < a.ColumnCount; c++)
        {
            for (var r = 0; r < a.RowCount; r++)
            {
                Assert.True(WindowedAggregationTests.Same(a[c].GetValue(r), b[c].GetValue(r)));
            }
        }
    }

    [Fact]
    public void One_row_per_touched_entity_as_of_its_newest_event()
    {
        var aggregator = new StreamingAggregator(Events, All, Online);
        var batch = Table.From(
            ("user", Columns.String("a", "b", "a")),
            ("shard", Columns.Int64(1, 1, 1)),
            ("ts", Columns.Timestamp(10, 3, 8)),
            ("created", Columns.Timestamp(0, 0, 0)),
            ("amount", Columns.Float64(1.5, 2, 4)),
            ("qty", Columns.Int32(1, 2, 3)),
            ("tag", Columns.String("p", "q", "r")));

        var served = aggregator.Apply(batch);

        Assert.Equal(Online.Schema, served.Schema);
        Assert.Equal(["a", "b"], [served["user"].GetValue(0), served["user"].GetValue(1)]);
        Assert.Equal([10L, 3L], ((Column<long>)served["ts"]).Values.ToArray());
        Assert.Equal(5.5, served["sum_10"].GetValue(0));
        Assert.Equal("p", served["last_tag"].GetValue(0));
    }

    [Fact]
    public void Concurrent_pushes_lose_no_events()
    {
        var aggregator = new StreamingAggregator(Events, [new("n", AggregationFunction.Count, null, TimeSpan.FromDays(1))], new FeatureViewLayout("clicks", Events.JoinKeys, "ts", [new Field("n", DataType.Int64)], "created"));
        Parallel.For(0, 200, i => aggregator.Apply(Table.From(
            ("user", Columns.String("a")),
            ("shard", Columns.Int64(1)),
            ("ts", Columns.Timestamp(i)),
            ("created", Columns.Timestamp(0)),
            ("amount", Columns.Float64(1)),
            ("qty", Columns.Int32(1)),
            ("tag", Columns.String("x")))));

        var last = aggregator.Apply(Table.From(
            ("user", Columns.String("a")), ("shard", Columns.Int64(1)), ("ts", Columns.Timestamp(0)), ("created", Columns.Timestamp(0)),
            ("amount", Columns.Float64(1)), ("qty", Columns.Int32(1)), ("tag", Columns.String("x"))));

        Assert.Equal(201L, last["n"].GetValue(0));
    }
}
