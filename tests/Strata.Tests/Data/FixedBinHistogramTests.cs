using Strata.Data.Profiling;

namespace Strata.Tests.Data;

public sealed class FixedBinHistogramTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Counts_match_a_naive_search_over_every_edge_for_random_values_and_edges(int seed)
    {
        var random = new Random(seed);
        var edges = Enumerable.Range(0, 1 + random.Next(300)).Select(_ => Math.Round(random.NextDouble() * 10, random.Next(1, 4)) - 5).Distinct().Order().ToArray();
        var values = Enumerable.Range(0, 20_000)
            .Select(i => i % 997 == 0 ? double.NaN : i % 5 == 0 ? edges[random.Next(edges.Length)] : (random.NextDouble() * 14) - 7).ToArray();
        var histogram = new FixedBinHistogram(edges);
        var oneByOne = new FixedBinHistogram(edges);

        histogram.Add(values.AsSpan(0, 7000));
        histogram.Add(values.AsSpan(7000));
        foreach (var v in values)
        {
            oneByOne.Add(v);
        }

        var expected = new long[edges.Length + 1];
        foreach (var v in values.Where(v => !double.IsNaN(v)))
        {
            expected[edges.Count(e => e <= v)]++;
        }

        Assert.True(expected.SequenceEqual(histogram.Counts), $"seed {seed}");
        Assert.Equal(histogram.Counts, oneByOne.Counts);
        Assert.Equal(values.Count(double.IsNaN), histogram.NanCount);
        Assert.Equal(values.Where(v => !double.IsNaN(v) && v < edges[0]).Sum(), histogram.Sums[0], 1e-9);
    }

    [Fact]
    public void Histograms_on_different_edges_do_not_merge_and_bad_edges_are_rejected()
    {
        var a = new FixedBinHistogram([0, 1, 2]);

        var merge = Assert.Throws<StrataException>(() => a.Merge(new FixedBinHistogram([0, 1, 3])));
        var unordered = Assert.Throws<StrataException>(() => new FixedBinHistogram([0, 2, 1]));
        var infinite = Assert.Throws<StrataException>(() => new FixedBinHistogram([0, double.PositiveInfinity]));

        Assert.Equal(ErrorCodes.ArgumentInvalid, merge.Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, unordered.Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, infinite.Code);
    }
}
