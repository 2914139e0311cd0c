using System.Security.Cryptography;
using Strata.Data.Profiling;

namespace Strata.Tests.Data.Profiling;

public sealed class ProfilerTests
{
    private static readonly double RankError = KllSketch.NormalizedRankError(KllSketch.DefaultK, pmf: true);

    // Small slices so that even modest test tables are profiled in many slices and merged.
    private static readonly ProfileOptions Sliced = new() { SliceRows = 1024 };

    private static readonly string[] NumericColumns = ["i32", "i64", "f32", "f64", "ts"];

    [Fact]
    public void Profile_reports_counts_nulls_extremes_moments_and_frequencies_of_each_type()
    {
        var table = Table.From(
            ("n", Columns.Int64(4, null, 1, 3, 2)),
            ("x", Columns.Float64(0.5, double.NaN, null, 2.5, double.PositiveInfinity)),
            ("ok", Columns.Bool(true, false, null, true, true)),
            ("s", Columns.String("bb", null, "a", "bb", "ccc")));

        var profile = Profiler.Profile(table);

        Assert.Equal(5, profile.RowCount);
        var n = Assert.IsType<NumericColumnProfile>(profile["n"]);
        Assert.Equal((5L, 1L, 4L), (n.Count, n.NullCount, n.ValidCount));
        Assert.Equal((1.0, 4.0), (n.Min, n.Max));
        Assert.Equal((1L, 4L), (n.IntegerMin, n.IntegerMax));
        Assert.Equal(2.5, n.Mean);
        Assert.Equal(5.0 / 3, n.Variance!.Value, 12);
        Assert.Equal(2, n.Quantile(0.5));
        Assert.Equal(4, n.DistinctEstimate);
        Assert.True(n.IsDistinctExact);

        var x = Assert.IsType<NumericColumnProfile>(profile["x"]);
        Assert.Equal((1L, 1L), (x.NanCount, x.PositiveInfinityCount));
        Assert.Equal(1.5, x.Mean);
        Assert.Equal((0.5, double.PositiveInfinity), (x.Min, x.Max));
        Assert.Null(x.IntegerMin);
        Assert.Equal(3, x.DistinctEstimate);

        var ok = Assert.IsType<BoolColumnProfile>(profile["ok"]);
        Assert.Equal((3L, 1L, 1L), (ok.TrueCount, ok.FalseCount, ok.NullCount));
        Assert.Equal(2, ok.DistinctEstimate);

        var s = Assert.IsType<StringColumnProfile>(profile["s"]);
        Assert.Equal([new FrequentItem("bb", 2, 2), new FrequentItem("a", 1, 1), new FrequentItem("ccc", 1, 1)], s.TopValues());
        Assert.True(s.FrequenciesAreExact);
        Assert.Equal((1L, 3L, 2.0), (s.MinLength, s.MaxLength, s.MeanLength));
        Assert.Equal(3, s.DistinctEstimate);
        Assert.Equal(0.5, s.Frequency("bb"));
    }

    [Fact]
    public void Merged_profile_agrees_with_profile_of_union_within_the_rank_error()
    {
        Property.ForSeeds(Enumerable.Range(1, 4), seed =>
        {
            var random = new Random(seed);
            var table = ProfileTestData.Mixed(20_000 + random.Next(20_000), seed, distinctStrings: seed % 2 == 0 ? 40 : 5_000);
            var cut1 = random.Next(table.RowCount);
            var cut2 = cut1 + random.Next(table.RowCount - cut1);
            var merged = Profiler.Profile(table.Slice(0, cut1), Sliced)
                .Merge(Profiler.Profile(table.Slice(cut1, cut2 - cut1), Sliced))
                .Merge(Profiler.Profile(table.Slice(cut2, table.RowCount - cut2), Sliced));
            var union = Profiler.Profile(table, Sliced);

            Assert.Equal(union.RowCount, merged.RowCount);
            foreach (var profile in new[] { merged, union })
            {
                AssertAgreesWithExactReference(profile, table);
            }

            foreach (var name in NumericColumns)
            {
                var a = (NumericColumnProfile)merged[name];
                var b = (NumericColumnProfile)union[name];
                for (var q = 0.05; q < 1; q += 0.05)
                {
                    // Both are within ε of the truth, so within 2ε of each other.
                    Assert.InRange(b.Rank(a.Quantile(q)!.Value)!.Value, q - (2 * RankError), q + (2 * RankError) + (1.0 / b.ValidCount));
                }
            }
        });
    }

    [Fact]
    public void Profile_is_bit_identical_whatever_the_thread_count()
    {
        var table = ProfileTestData.Mixed(30_000, seed: 42, distinctStrings: 3_000);
        int[] threadCounts = [1, 2, 4];
        var hashes = threadCounts
            .Select(threads => Profiler.Profile(table, Sliced with { MaxDegreeOfParallelism = threads }))
            .Select(profile => Convert.ToHexString(SHA256.HashData(profile.ToUtf8Json())))
            .ToArray();

        Assert.Equal(hashes[0], hashes[1]);
        Assert.Equal(hashes[0], hashes[2]);
    }

    [Fact]
    public void Streaming_builder_is_bit_identical_whatever_the_thread_count_and_agrees_with_the_data()
    {
        var table = ProfileTestData.Mixed(25_000, seed: 7);
        string Run(int threads)
        {
            var builder = new ProfileBuilder(table.Schema, Sliced with { MaxDegreeOfParallelism = threads });
            var random = new Random(1);
            for (var start = 0; start < table.RowCount;)
            {
                var length = Math.Min(table.RowCount - start, 1 + random.Next(6_000));
                builder.Add(table.Slice(start, length));
                start += length;
            }

            Assert.Equal(table.RowCount, builder.RowCount);
            var profile = builder.Build();
            AssertAgreesWithExactReference(profile, table);
            return profile.ToJson();
        }

        Assert.Equal(Run(1), Run(3));
    }

    [Fact]
    public void Built_profile_is_a_snapshot_that_later_batches_do_not_change()
    {
        var table = ProfileTestData.Mixed(5_000, seed: 3);
        var builder = new ProfileBuilder(table.Schema);
        builder.Add(table.Slice(0, 2_000));
        var first = builder.Build();
        var json = first.ToJson();

        builder.Add(table.Slice(2_000, 3_000));

        Assert.Equal(json, first.ToJson());
        Assert.Equal(5_000, builder.Build().RowCount);
    }

    [Fact]
    public void Empty_table_and_all_null_columns_have_counts_but_no_values()
    {
        var schema = new Schema(new Field("n", DataType.Float64), new Field("s", DataType.String), new Field("b", DataType.Bool));
        var empty = Profiler.Profile(Table.Empty(schema));
        var nulls = Profiler.Profile(Table.From(
            ("n", Columns.Float64(null, null)), ("s", Columns.String(null, null)), ("b", Columns.Bool(null, null))));

        Assert.Equal(0, empty.RowCount);
        foreach (var profile in new[] { empty, nulls })
        {
            var n = (NumericColumnProfile)profile["n"];
            Assert.False(n.HasValues);
            Assert.Null(n.Mean);
            Assert.Null(n.Min);
            Assert.Null(n.Quantile(0.5));
            Assert.Null(n.Histogram());
            Assert.Equal(0, n.DistinctEstimate);
            var s = (StringColumnProfile)profile["s"];
            Assert.Empty(s.TopValues()!);
            Assert.Null(s.MinLength);
            Assert.Equal(0, s.DistinctEstimate);
            Assert.Equal(0, ((BoolColumnProfile)profile["b"]).DistinctEstimate);
            Assert.Equal(profile.RowCount, profile["s"].NullCount);
        }

        var merged = empty.Merge(nulls).Merge(empty);
        Assert.Equal(2, merged.RowCount);
        Assert.Equal(2, merged["n"].NullCount);
    }

    [Fact]
    public void NaN_and_infinities_are_counted_and_ordered_but_kept_out_of_the_moments()
    {
        var values = new[] { double.NegativeInfinity, 1, 2, double.NaN, 3, double.PositiveInfinity, double.NaN };
        var table = Table.From(("x", Columns.Float64(values.Select(v => (double?)v).ToArray())), ("y", Columns.Float32(1, float.NaN, float.NegativeInfinity, 4, 5, 6, 7)));

        var x = (NumericColumnProfile)Profiler.Profile(table)["x"];
        var y = (NumericColumnProfile)Profiler.Profile(table)["y"];

        Assert.Equal((2L, 1L, 1L), (x.NanCount, x.PositiveInfinityCount, x.NegativeInfinityCount));
        Assert.Equal(2, x.Mean);
        Assert.Equal(1, x.Variance);
        Assert.Equal((double.NegativeInfinity, double.PositiveInfinity), (x.Min, x.Max));
        Assert.Equal(2, x.Quantile(0.5));
        Assert.Equal(5, x.DistinctEstimate);
        var histogram = x.Histogram(2)!;
        Assert.Equal([new HistogramBin(1, 2, 3), new HistogramBin(2, 3, 2)], histogram);
        Assert.Equal((1L, 0L, 1L), (y.NanCount, y.PositiveInfinityCount, y.NegativeInfinityCount));
        Assert.Equal(4.6, y.Mean!.Value, 12);
    }

    [Fact]
    public void Timestamp_profile_keeps_exact_microsecond_extremes()
    {
        // Beyond 2^53 µs a double cannot hold every microsecond; the integer extremes stay exact.
        var late = Timestamp.MaxValue - 1;
        var table = Table.From(("t", Columns.Timestamp(Timestamp.MinValue + 1, 0, late)));

        var t = (NumericColumnProfile)Profiler.Profile(table)["t"];

        Assert.Equal(DataType.Timestamp, t.Type);
        Assert.Equal((Timestamp.MinValue + 1, late), (t.IntegerMin, t.IntegerMax));
        Assert.NotEqual(late, (long)t.Max!.Value);
    }

    [Fact]
    public void Histogram_counts_are_within_the_rank_error_of_exact_bins()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 100_000).Select(_ => Property.Normal(random)).ToArray();
        var profile = (NumericColumnProfile)Profiler.Profile(Table.From(("x", Columns.Create<double>(DataType.Float64, values))))["x"];

        var bins = profile.Histogram(20)!;

        Assert.Equal(20, bins.Count);
        Assert.Equal(values.Min(), bins[0].Lower);
        Assert.Equal(values.Max(), bins[^1].Upper);
        Assert.Equal(values.Length, bins.Sum(b => b.Count));
        for (var i = 0; i < bins.Count; i++)
        {
            var bin = bins[i];
            var exact = values.Count(v => (v > bin.Lower || (i == 0 && v == bin.Lower)) && v <= bin.Upper);
            Assert.InRange(bin.Count, exact - (2 * RankError * values.Length), exact + (2 * RankError * values.Length));
        }
    }

    [Fact]
    public void Merging_profiles_of_different_columns_is_a_schema_error()
    {
        var a = Profiler.Profile(Table.From(("x", Columns.Int64(1))));
        var renamed = Profiler.Profile(Table.From(("y", Columns.Int64(1))));
        var retyped = Profiler.Profile(Table.From(("x", Columns.Float64(1))));

        Assert.Equal(ErrorCodes.SchemaInvalid, Assert.Throws<StrataException>(() => a.Merge(renamed)).Code);
        var error = Assert.Throws<StrataException>(() => a.Merge(retyped));
        Assert.Equal(ErrorCodes.SchemaInvalid, error.Code);
        Assert.Contains("x: float64", error.Message, StringComparison.Ordinal);
        Assert.NotEqual(a.SchemaFingerprint, retyped.SchemaFingerprint);
    }

    [Fact]
    public void Merging_profiles_made_with_different_sketch_options_is_an_argument_error()
    {
        var table = Table.From(("x", Columns.Int64(1, 2)), ("s", Columns.String("a", "b")));
        var a = Profiler.Profile(table);
        var b = Profiler.Profile(table, new ProfileOptions { QuantileK = 100 });
        var c = Profiler.Profile(table, new ProfileOptions { DistinctPrecision = 10 });

        var error = Assert.Throws<StrataException>(() => a.Merge(b));
        Assert.Equal(ErrorCodes.ArgumentInvalid, error.Code);
        Assert.Contains("QuantileK", error.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => a.Merge(c)).Code);
    }

    [Fact]
    public void Builder_rejects_a_batch_with_another_layout_and_bad_options()
    {
        var builder = new ProfileBuilder(new Schema(new Field("x", DataType.Int64)));

        Assert.Equal(ErrorCodes.SchemaInvalid, Assert.Throws<StrataException>(() => builder.Add(Table.From(("x", Columns.Int32(1))))).Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => new ProfileBuilder(builder.Schema, new ProfileOptions { QuantileK = 2 })).Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => new ProfileBuilder(builder.Schema, new ProfileOptions { MaxDegreeOfParallelism = 0 })).Code);
    }

    [Fact]
    public void Missing_column_is_not_found()
    {
        var profile = Profiler.Profile(Table.From(("x", Columns.Int64(1))));

        Assert.Equal(ErrorCodes.NotFound, Assert.Throws<StrataException>(() => profile["y"]).Code);
        Assert.False(profile.TryGetColumn("y", out _));
    }

    /// <summary>Checks every column of a profile against exact statistics of the table, within each sketch's bound.</summary>
    internal static void AssertAgreesWithExactReference(TableProfile profile, Table table)
    {
        Assert.Equal(table.RowCount, profile.RowCount);
        for (var c = 0; c < table.ColumnCount; c++)
        {
            var column = table[c];
            var p = profile[table.Schema[c].Name];
            Assert.Equal(column.Length, p.Count);
            Assert.Equal(column.NullCount, p.NullCount);
            switch (p)
            {
                case NumericColumnProfile numeric:
                    AssertNumeric(numeric, ProfileTestData.Doubles(column));
                    break;
                case BoolColumnProfile bools:
                    var trues = Enumerable.Range(0, column.Length).Count(i => !column.IsNull(i) && ((Column<bool>)column)[i]);
                    Assert.Equal(trues, bools.TrueCount);
                    Assert.Equal(column.Length - column.NullCount - trues, bools.FalseCount);
                    break;
                case StringColumnProfile strings:
                    AssertStrings(strings, (StringColumn)column);
                    break;
            }
        }
    }

    private static void AssertNumeric(NumericColumnProfile p, double[] values)
    {
        var notNaN = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        var finite = notNaN.Where(double.IsFinite).ToArray();
        Assert.Equal(values.Length - notNaN.Length, p.NanCount);
        Assert.Equal(notNaN.Count(double.IsPositiveInfinity), p.PositiveInfinityCount);
        Assert.Equal(notNaN[0], p.Min);
        Assert.Equal(notNaN[^1], p.Max);
        var mean = finite.Average();
        Assert.Equal(mean, p.Mean!.Value, Math.Abs(mean) * 1e-9 + 1e-9);
        var variance = finite.Sum(v => (v - mean) * (v - mean)) / (finite.Length - 1);
        Assert.Equal(variance, p.Variance!.Value, variance * 1e-9);
        for (var i = 1; i < 100; i++)
        {
            var q = i / 100.0;
            var (below, atOrBelow) = Property.ExactRank(notNaN, p.Quantile(q)!.Value);
            Assert.True(q >= below - RankError && q <= atOrBelow + RankError, $"{p.Name} quantile {q}: exact rank [{below}, {atOrBelow}]");
        }

        var distinct = notNaN.Distinct().Count();
        var tolerance = p.IsDistinctExact ? 0 : Math.Max(1, 4 * p.DistinctStandardError * distinct);
        Assert.InRange(p.DistinctEstimate, distinct - tolerance, distinct + tolerance);
    }

    private static void AssertStrings(StringColumnProfile p, StringColumn column)
    {
        var exact = ProfileTestData.Frequencies(column);
        var lengths = Enumerable.Range(0, column.Length).Where(i => !column.IsNull(i)).Select(i => column[i]!.EnumerateRunes().Count()).ToArray();
        Assert.Equal(lengths.Min(), p.MinLength);
        Assert.Equal(lengths.Max(), p.MaxLength);
        Assert.Equal(lengths.Average(), p.MeanLength!.Value, 12);
        var error = p.FrequencyMaximumError!.Value;
        Assert.True(error <= p.ValidCount / (FrequentItems.DefaultCapacity + 1));
        Assert.Equal(error == 0, p.FrequenciesAreExact);
        foreach (var item in p.TopValues(int.MaxValue)!)
        {
            Assert.InRange(exact[item.Value], item.Count, item.UpperBound);
        }

        var tolerance = p.IsDistinctExact ? 0 : Math.Max(1, 4 * p.DistinctStandardError * exact.Count);
        Assert.InRange(p.DistinctEstimate, exact.Count - tolerance, exact.Count + tolerance);
    }
}
