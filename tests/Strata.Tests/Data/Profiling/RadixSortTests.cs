using Strata.Data.Profiling;

namespace Strata.Tests.Data.Profiling;

public sealed class RadixSortTests
{
    [Fact]
    public void Doubles_sort_like_a_comparison_sort()
    {
        Property.ForSeeds(Enumerable.Range(1, 8), seed =>
        {
            var random = new Random(seed);
            var values = Property.Values(random, 100 + random.Next(20_000), shape: seed % 6).Select(v => random.Next(3) == 0 ? -v : v).ToList();
            values.AddRange([0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, -double.Epsilon, double.MaxValue, double.MinValue]);
            var sorted = values.ToArray();

            RadixSort.Sort(sorted);

            Assert.Equal(values.Order(), sorted);
        });
    }

    [Fact]
    public void Longs_sort_like_a_comparison_sort_across_the_whole_range()
    {
        Property.ForSeeds(Enumerable.Range(1, 8), seed =>
        {
            var random = new Random(seed);
            var spread = seed % 2 == 0 ? 2_000 : long.MaxValue;
            var values = Enumerable.Range(0, 100 + random.Next(20_000)).Select(_ => random.NextInt64(-spread, spread)).ToList();
            if (seed == 1)
            {
                values.AddRange([long.MinValue, long.MaxValue, 0, -1]);
            }

            var sorted = values.ToArray();

            RadixSort.Sort(sorted);

            Assert.Equal(values.Order(), sorted);
        });
    }

    [Fact]
    public void Sorted_runs_give_the_sketch_that_unsorted_runs_give()
    {
        var random = new Random(4);
        var a = new KllSketch(seed: 9);
        var b = new KllSketch(seed: 9);
        for (var run = 0; run < 40; run++)
        {
            var values = Enumerable.Range(0, random.Next(KllSketch.BulkRun, 5_000)).Select(_ => (double)random.Next(-500, 500)).ToArray();
            a.Update(values);
            Array.Sort(values);
            b.UpdateSorted(values);
        }

        Assert.Equal(a.ExportState().Items, b.ExportState().Items);
        Assert.Equal(a.ExportState().Levels, b.ExportState().Levels);
    }
}
