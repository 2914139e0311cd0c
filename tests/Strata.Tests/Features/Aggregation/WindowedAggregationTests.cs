using Strata.Features;
using Strata.Features.Aggregation;
using Strata.Features.Definitions;

namespace Strata.Tests.Features.Aggregation;

public sealed class WindowedAggregationTests
{
    private static readonly FeatureViewLayout Layout = new(
        "clicks",
        [new Field("user", DataType.String), new Field("shard", DataType.Int64)],
        "ts",
        [new Field("amount", DataType.Float64), new Field("qty", DataType.Int32), new Field("tag", DataType.String)],
        "created");

    private static readonly AggregationDefinition[] All =
    [
        new("n_10", AggregationFunction.Count, null, Micros(10)),
        new("sum_10", AggregationFunction.Sum, "amount", Micros(10)),
        new("mean_30", AggregationFunction.Mean, "amount", Micros(30)),
        new("min_5", AggregationFunction.Min, "amount", Micros(5)),
        new("max_30", AggregationFunction.Max, "qty", Micros(30)),
        new("last_tag", AggregationFunction.Last, "tag", Micros(10)),
        new("last_amount", AggregationFunction.Last, "amount", Micros(30)),
        new("sum_qty", AggregationFunction.Sum, "qty", Micros(60)),
    ];

    [Fact]
    public void Window_excludes_its_start_and_includes_its_end()
    {
        var events = Events(("a", 1, 0, 0, 1.0, 1, "x"), ("a", 1, 10, 0, 2.0, 2, "y"), ("a", 1, 20, 0, 4.0, 3, "z"));
        var entities = Entities(("a", 1, 20), ("a", 1, 19), ("a", 1, 30), ("a", 1, 31), ("a", 1, -1));
        AggregationDefinition[] aggs = [new("n", AggregationFunction.Count, null, Micros(10)), new("s", AggregationFunction.Sum, "amount", Micros(10))];

        var result = WindowedAggregation.AsOf(events, Layout, aggs, entities, "ts");

        // t=20: (10, 20] holds only the event at 20; t=19: (9, 19] the one at 10; t=30: (20, 30] nothing.
        Assert.Equal([1L, 1L, 0L, 0L, 0L], Longs(result["n"]));
        Assert.Equal([4.0, 2.0, 0.0, 0.0, 0.0], Doubles(result["s"]));
    }

    [Fact]
    public void Empty_windows_count_and_sum_zero_and_the_rest_are_null()
    {
        var events = Events(("a", 1, 100, 0, 1.0, 1, "x"));
        var entities = Entities(("a", 1, 50), ("b", 1, 100));

        var result = WindowedAggregation.AsOf(events, Layout, All, entities, "ts");

        for (var row = 0; row < 2; row++)
        {
            Assert.Equal(0L, result["n_10"].GetValue(row));
            Assert.Equal(0.0, result["sum_10"].GetValue(row));
            Assert.Equal(0.0, result["sum_qty"].GetValue(row));
            foreach (var name in new[] { "mean_30", "min_5", "max_30", "last_tag", "last_amount" })
            {
                Assert.True(result[name].IsNull(row), name);
            }
        }
    }

    [Fact]
    public void Null_inputs_are_skipped_but_counted_as_events()
    {
        var events = Table.From(
            ("user", Columns.String("a", "a", "a")),
            ("shard", Columns.Int64(1, 1, 1)),
            ("ts", Columns.Timestamp(1, 2, 3)),
            ("created", Columns.Timestamp(0, 0, 0)),
            ("amount", Columns.Float64(2.0, null, null)),
            ("qty", Columns.Int32(null, null, null)),
            ("tag", Columns.String("x", null, null)));
        var entities = Entities(("a", 1, 3));

        var result = WindowedAggregation.AsOf(events, Layout, All, entities, "ts");

        Assert.Equal(3L, result["n_10"].GetValue(0));
        Assert.Equal(2.0, result["sum_10"].GetValue(0));
        Assert.Equal(2.0, result["mean_30"].GetValue(0));
        Assert.Equal(2.0, result["min_5"].GetValue(0));
        Assert.True(result["max_30"].IsNull(0));
        Assert.Equal(0.0, result["sum_qty"].GetValue(0));
        Assert.Equal("x", result["last_tag"].GetValue(0));
        Assert.Equal(2.0, result["last_amount"].GetValue(0));
    }

    [Fact]
    public void Last_breaks_time_ties_by_created_time_then_input_order()
    {
        var events = Events(("a", 1, 5, 9, 1.0, 1, "newer-created"), ("a", 1, 5, 3, 2.0, 2, "older"), ("b", 1, 5, 3, 1.0, 1, "first"), ("b", 1, 5, 3, 2.0, 2, "second"));
        var entities = Entities(("a", 1, 5), ("b", 1, 5));

        var result = WindowedAggregation.AsOf(events, Layout, All, entities, "ts");

        Assert.Equal(["newer-created", "second"], [result["last_tag"].GetValue(0), result["last_tag"].GetValue(1)]);
    }

    [Fact]
    public void Null_keys_never_aggregate_and_null_entity_rows_get_nulls()
    {
        var events = Table.From(
            ("user", Columns.String("a", null)),
            ("shard", Columns.Int64(1, 1)),
            ("ts", Columns.Timestamp(1, 1)),
            ("created", Columns.Timestamp(0, 0)),
            ("amount", Columns.Float64(1.0, 5.0)),
            ("qty", Columns.Int32(1, 1)),
            ("tag", Columns.String("x", "y")));
        var entities = Table.From(("user", Columns.String("a", null, "a")), ("shard", Columns.Int64(1, 1, 1)), ("ts", Columns.Timestamp(1, 1, null)));

        var result = WindowedAggregation.AsOf(events, Layout, All, entities, "ts");

        Assert.Equal(1L, result["n_10"].GetValue(0));
        Assert.Equal(1.0, result["sum_10"].GetValue(0));
        Assert.All(result.Columns, c => Assert.True(c.IsNull(1) && c.IsNull(2)));
    }

    [Fact]
    public void Int32_keys_and_renamed_entity_keys_work()
    {
        var layout = new FeatureViewLayout("v", [new Field("id", DataType.Int32)], "ts", [new Field("x", DataType.Float64)]);
        var events = Table.From(("id", Columns.Int32(7, 7, 8)), ("ts", Columns.Timestamp(1, 2, 2)), ("x", Columns.Float64(1, 2, 4)));
        var entities = Table.From(("customer", Columns.Int32(7, 8, 9)), ("at", Columns.Timestamp(2, 2, 2)));
        AggregationDefinition[] aggs = [new("s", AggregationFunction.Sum, "x", Micros(100))];

        var result = WindowedAggregation.AsOf(events, layout, aggs, entities, "at", ["customer"]);

        Assert.Equal([3.0, 4.0, 0.0], Doubles(result["s"]));
    }

    [Fact]
    public void Bad_definitions_and_columns_are_reported()
    {
        var events = Events(("a", 1, 1, 0, 1.0, 1, "x"));
        var entities = Entities(("a", 1, 1));

        Assert.Equal(ErrorCodes.DataType, Assert.Throws<StrataException>(() =>
            WindowedAggregation.AsOf(events, Layout, [new("s", AggregationFunction.Sum, "tag", Micros(1))], entities, "ts")).Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() =>
            WindowedAggregation.AsOf(events, Layout, [new("s", AggregationFunction.Sum, "amount", TimeSpan.Zero)], entities, "ts")).Code);
        Assert.Equal(ErrorCodes.NotFound, Assert.Throws<StrataException>(() =>
            WindowedAggregation.AsOf(events, Layout, [new("s", AggregationFunction.Sum, "nope", Micros(1))], entities, "ts")).Code);
        Assert.Equal(ErrorCodes.NotFound, Assert.Throws<StrataException>(() =>
            WindowedAggregation.AsOf(events, Layout, All, entities, "when")).Code);
    }

    [Fact]
    public void Batch_agrees_with_a_naive_scan_on_random_events()
    {
        for (var seed = 0; seed < 40; seed++)
        {
            var random = new Random(seed);
            var events = RandomEvents(random, random.Next(0, 200), exactSums: true);
            var entities = Table.From(
                ("user", RandomStrings(random, 60, withNulls: true)),
                ("shard", Columns.Int64(Enumerable.Range(0, 60).Select(_ => (long?)random.Next(2)).ToArray())),
                ("ts", Columns.Timestamp(Enumerable.Range(0, 60).Select(_ => random.Next(20) == 0 ? null : (long?)random.Next(-5, 110)).ToArray())));

            var result = WindowedAggregation.AsOf(events, Layout, All, entities, "ts");
            var expected = NaiveAggregation.AsOf(events, Layout, All, entities, "ts");

            for (var a = 0; a < All.Length; a++)
            {
                for (var i = 0; i < entities.RowCount; i++)
                {
                    var entityUsable = !entities["ts"].IsNull(i) && !entities["user"].IsNull(i);
                    var want = expected[a][i] ?? (entityUsable && All[a].Function is AggregationFunction.Count ? 0L : null);
                    Assert.True(Same(want, result[a].GetValue(i)), $"seed {seed}, {All[a].Name}, row {i}: expected {want}, got {result[a].GetValue(i)}");
                }
            }
        }
    }

    internal static TimeSpan Micros(long micros) => TimeSpan.FromTicks(micros * 10);

    internal static bool Same(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (double x, double y) => BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y),
        _ => Equals(a, b),
    };

    /// <summary>Random click events over 5 users × 2 shards, times 0..100 with duplicates, some nulls.</summary>
    internal static Table RandomEvents(Random random, int count, bool exactSums)
    {
        double? Amount() => random.Next(8) == 0 ? null : exactSums ? random.Next(-400, 400) / 4.0 : (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 6));
        return Table.From(
            ("user", RandomStrings(random, count, withNulls: false)),
            ("shard", Columns.Int64(Enumerable.Range(0, count).Select(_ => (long?)random.Next(2)).ToArray())),
            ("ts", Columns.Timestamp(Enumerable.Range(0, count).Select(_ => (long?)random.Next(0, 100)).ToArray())),
            ("created", Columns.Timestamp(Enumerable.Range(0, count).Select(_ => (long?)random.Next(0, 3)).ToArray())),
            ("amount", Columns.Float64(Enumerable.Range(0, count).Select(_ => Amount()).ToArray())),
            ("qty", Columns.Int32(Enumerable.Range(0, count).Select(_ => random.Next(6) == 0 ? null : (int?)random.Next(-50, 50)).ToArray())),
            ("tag", RandomStrings(random, count, withNulls: true)));
    }

    private static StringColumn RandomStrings(Random random, int count, bool withNulls) =>
        Columns.String(Enumerable.Range(0, count).Select(_ => withNulls && random.Next(7) == 0 ? null : "u" + random.Next(5).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());

    private static Table Events(params (string User, long Shard, long Ts, long Created, double Amount, int Qty, string Tag)[] rows) => Table.From(
        ("user", Columns.String(rows.Select(r => r.User).ToArray())),
        ("shard", Columns.Int64(rows.Select(r => (long?)r.Shard).ToArray())),
        ("ts", Columns.Timestamp(rows.Select(r => (long?)r.Ts).ToArray())),
        ("created", Columns.Timestamp(rows.Select(r => (long?)r.Created).ToArray())),
        ("amount", Columns.Float64(rows.Select(r => (double?)r.Amount).ToArray())),
        ("qty", Columns.Int32(rows.Select(r => (int?)r.Qty).ToArray())),
        ("tag", Columns.String(rows.Select(r => r.Tag).ToArray())));

    private static Table Entities(params (string User, long Shard, long Ts)[] rows) => Table.From(
        ("user", Columns.String(rows.Select(r => r.User).ToArray())),
        ("shard", Columns.Int64(rows.Select(r => (long?)r.Shard).ToArray())),
        ("ts", Columns.Timestamp(rows.Select(r => (long?)r.Ts).ToArray())));

    private static long[] Longs(Column c) => ((Column<long>)c).Values.ToArray();

    private static double[] Doubles(Column c) => ((Column<double>)c).Values.ToArray();
}
