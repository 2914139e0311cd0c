using Strata.Data.Profiling;

namespace Strata.Tests.Data.Profiling;

public sealed class KllSketchTests
{
    private static readonly double AllQueriesError = KllSketch.NormalizedRankError(KllSketch.DefaultK, pmf: true);

    [Fact]
    public void Stated_rank_errors_for_k_200_are_those_of_DataSketches()
    {
        Assert.Equal(0.0133, KllSketch.NormalizedRankError(200, pmf: false), 4);
        Assert.Equal(0.0165, KllSketch.NormalizedRankError(200, pmf: true), 4);
    }

    [Theory]
    [InlineData(1_000)]
    [InlineData(100_000)]
    public void Quantiles_are_within_the_stated_rank_error_of_a_sorted_reference(int n)
    {
        Property.ForSeeds(Enumerable.Range(1, 6), seed =>
        {
            var random = new Random(seed);
            var values = Property.Values(random, n, shape: seed % 6);
            var sketch = new KllSketch(seed: (ulong)seed);
            foreach (var chunk in values.Chunk(1 + random.Next(3000)))
            {
                sketch.Update(chunk);
            }

            AssertQuantilesWithin(sketch, values, AllQueriesError);
        });
    }

    [Fact]
    public void One_at_a_time_updates_are_within_the_stated_rank_error()
    {
        Property.ForSeeds(Enumerable.Range(10, 3), seed =>
        {
            var random = new Random(seed);
            var values = Property.Values(random, 50_000, shape: seed % 3);
            var sketch = new KllSketch(seed: (ulong)seed);
            foreach (var v in values)
            {
                sketch.Update(v);
            }

            AssertQuantilesWithin(sketch, values, AllQueriesError);
            AssertRanksWithin(sketch, values, AllQueriesError);
        });
    }

    [Fact]
    public void Merged_sketch_agrees_with_the_union_within_the_rank_error()
    {
        Property.ForSeeds(Enumerable.Range(20, 5), seed =>
        {
            var random = new Random(seed);
            var values = Property.Values(random, 200_000, shape: seed % 6);
            var merged = new KllSketch(seed: (ulong)seed);
            var union = new KllSketch(seed: (ulong)seed);
            union.Update(values);
            for (var start = 0; start < values.Length;)
            {
                var length = Math.Min(values.Length - start, 1 + random.Next(40_000));
                var part = new KllSketch(seed: (ulong)(seed * 1000 + start));
                part.Update(values.AsSpan(start, length));
                merged.Merge(part);
                start += length;
            }

            Assert.Equal(values.Length, merged.N);
            AssertQuantilesWithin(merged, values, AllQueriesError);
            AssertRanksWithin(merged, values, AllQueriesError);
            AssertRanksWithin(union, values, AllQueriesError);
        });
    }

    [Fact]
    public void Sketch_is_exact_until_it_first_compacts()
    {
        var values = Enumerable.Range(1, KllSketch.DefaultK).Select(i => (double)i).Reverse().ToArray();
        var sketch = new KllSketch();
        sketch.Update(values);

        Assert.False(sketch.IsEstimationMode);
        Assert.Equal(100, sketch.Quantile(0.5));
        Assert.Equal(0.25, sketch.Rank(50));
        Assert.Equal(1, sketch.Quantile(0));
        Assert.Equal(200, sketch.Quantile(1));
    }

    [Fact]
    public void Short_runs_give_the_same_sketch_as_one_at_a_time_updates()
    {
        var random = new Random(7);
        var values = Property.Values(random, 30_000, shape: 0);
        var oneByOne = new KllSketch(seed: 3);
        var runs = new KllSketch(seed: 3);
        foreach (var v in values)
        {
            oneByOne.Update(v);
        }

        foreach (var chunk in values.Chunk(KllSketch.BulkRun - 1))
        {
            runs.Update(chunk);
        }

        AssertSameState(oneByOne, runs);
    }

    [Fact]
    public void Same_updates_and_seed_give_a_bit_identical_sketch_and_another_seed_does_not()
    {
        var values = Property.Values(new Random(11), 100_000, shape: 1);
        KllSketch Build(ulong seed)
        {
            var sketch = new KllSketch(seed: seed);
            foreach (var chunk in values.Chunk(999))
            {
                sketch.Update(chunk);
            }

            return sketch;
        }

        AssertSameState(Build(5), Build(5));
        Assert.NotEqual(Build(5).ExportState().Items, Build(6).ExportState().Items);
    }

    [Fact]
    public void Retained_weights_always_add_up_to_n()
    {
        Property.ForSeeds(Enumerable.Range(30, 4), seed =>
        {
            var random = new Random(seed);
            var sketch = new KllSketch(k: 8 + random.Next(300), seed: (ulong)seed);
            for (var step = 0; step < 200; step++)
            {
                if (random.Next(3) == 0)
                {
                    var other = new KllSketch(sketch.K, (ulong)step);
                    other.Update(Property.Values(random, random.Next(5000), shape: random.Next(6)));
                    sketch.Merge(other);
                }
                else
                {
                    sketch.Update(Property.Values(random, random.Next(2000), shape: random.Next(6)));
                }

                var state = sketch.ExportState();
                var weight = 0L;
                for (var h = 0; h + 1 < state.Levels.Length; h++)
                {
                    weight += (long)(state.Levels[h + 1] - state.Levels[h]) << h;
                }

                Assert.Equal(sketch.N, weight);
                Assert.True(state.Items.Length <= KllSketch.TotalCapacity(sketch.K, state.Levels.Length - 1));
            }
        });
    }

    [Fact]
    public void NaN_is_ignored_and_infinities_are_the_extremes()
    {
        var sketch = new KllSketch();
        sketch.Update([1, double.NaN, double.PositiveInfinity, 2, double.NegativeInfinity]);
        sketch.Update(double.NaN);

        Assert.Equal(4, sketch.N);
        Assert.Equal(double.NegativeInfinity, sketch.Min);
        Assert.Equal(double.PositiveInfinity, sketch.Max);
        Assert.Equal(0.5, sketch.Rank(1));
        Assert.Equal(double.PositiveInfinity, sketch.Quantile(1));
    }

    [Fact]
    public void Empty_sketch_answers_NaN_and_an_empty_cdf()
    {
        var sketch = new KllSketch();

        Assert.True(double.IsNaN(sketch.Quantile(0.5)));
        Assert.True(double.IsNaN(sketch.Rank(0)));
        Assert.Empty(sketch.Cdf([1, 2]));
        Assert.True(double.IsNaN(sketch.Min));
    }

    [Fact]
    public void Cdf_and_pmf_agree_with_ranks()
    {
        var sketch = new KllSketch();
        sketch.Update(Property.Values(new Random(3), 10_000, shape: 0));

        var cdf = sketch.Cdf([0.25, 0.5, 0.75]);
        var pmf = sketch.Pmf([0.25, 0.5, 0.75]);

        Assert.Equal(sketch.Rank(0.5), cdf[1]);
        Assert.Equal(1, cdf[^1]);
        Assert.Equal(1, pmf.Sum(), 12);
        Assert.Equal(cdf[1] - cdf[0], pmf[1], 12);
        Assert.Throws<ArgumentException>(() => sketch.Cdf([0.5, 0.25]));
    }

    [Fact]
    public void Merging_sketches_of_different_k_is_an_argument_error()
    {
        var a = new KllSketch(100);
        var b = new KllSketch(200);
        b.Update(1);

        var error = Assert.Throws<StrataException>(() => a.Merge(b));
        Assert.Equal(ErrorCodes.ArgumentInvalid, error.Code);
    }

    [Fact]
    public void Merging_a_sketch_into_itself_doubles_every_count()
    {
        var sketch = new KllSketch();
        sketch.Update(Property.Values(new Random(5), 5_000, shape: 0));
        var median = sketch.Quantile(0.5);

        sketch.Merge(sketch);

        Assert.Equal(10_000, sketch.N);
        Assert.InRange(sketch.Rank(median), 0.5 - AllQueriesError, 0.5 + AllQueriesError);
    }

    internal static void AssertQuantilesWithin(KllSketch sketch, double[] values, double epsilon)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        for (var i = 1; i < 100; i++)
        {
            var q = i / 100.0;
            var (below, atOrBelow) = Property.ExactRank(sorted, sketch.Quantile(q));
            Assert.True(
                q >= below - epsilon && q <= atOrBelow + epsilon,
                $"quantile {q}: returned a value whose exact rank is [{below}, {atOrBelow}], outside ±{epsilon}");
        }

        Assert.Equal(sorted[0], sketch.Quantile(0));
        Assert.Equal(sorted[^1], sketch.Quantile(1));
    }

    internal static void AssertRanksWithin(KllSketch sketch, double[] values, double epsilon)
    {
        var sorted = values.Order().ToArray();
        for (var i = 0; i <= 200; i++)
        {
            var x = sorted[(int)((long)(sorted.Length - 1) * i / 200)];
            var (_, exact) = Property.ExactRank(sorted, x);
            Assert.True(Math.Abs(sketch.Rank(x) - exact) <= epsilon, $"rank of {x}: estimated {sketch.Rank(x)}, exact {exact}");
        }
    }

    private static void AssertSameState(KllSketch a, KllSketch b)
    {
        var sa = a.ExportState();
        var sb = b.ExportState();
        Assert.Equal(sa.N, sb.N);
        Assert.Equal(sa.Levels, sb.Levels);
        Assert.Equal(sa.Items, sb.Items);
        Assert.Equal(sa.Random, sb.Random);
        Assert.Equal(sa.Min, sb.Min);
        Assert.Equal(sa.Max, sb.Max);
    }
}
