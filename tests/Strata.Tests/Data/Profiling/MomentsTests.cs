using Strata.Data.Profiling;

namespace Strata.Tests.Data.Profiling;

public sealed class MomentsTests
{
    [Fact]
    public void Merged_moments_match_a_two_pass_reference()
    {
        Property.ForSeeds(Enumerable.Range(1, 6), seed =>
        {
            var random = new Random(seed);
            // Offset by 1e9 so that the naive Σx² − n·mean² formula would lose every digit; the two-pass one keeps them.
            var values = Property.Values(random, 50_000, shape: seed % 6).Select(v => v + 1e9).ToArray();
            var merged = new Moments();
            for (var start = 0; start < values.Length;)
            {
                var length = Math.Min(values.Length - start, 1 + random.Next(5_000));
                var part = new Moments();
                if (random.Next(2) == 0)
                {
                    part.Add(values.AsSpan(start, length));
                }
                else
                {
                    foreach (var v in values.AsSpan(start, length))
                    {
                        part.Add(v);
                    }
                }

                merged.Merge(part);
                start += length;
            }

            var mean = CompensatedSum(values) / values.Length;
            var m2 = CompensatedSum(values.Select(v => (v - mean) * (v - mean)));
            Assert.Equal(values.Length, merged.Count);
            Assert.Equal(mean, merged.Mean, mean * 1e-13);
            Assert.True(Math.Abs(m2 / (values.Length - 1) - merged.Variance) <= m2 / values.Length * 1e-7, $"variance {merged.Variance}, two-pass {m2 / (values.Length - 1)}");
            Assert.Equal(values.Min(), merged.Min);
            Assert.Equal(values.Max(), merged.Max);
        });
    }

    [Fact]
    public void NaN_and_infinities_are_counted_and_kept_out_of_the_moments()
    {
        var moments = new Moments();
        moments.Add([1, double.NaN, 3, double.PositiveInfinity, double.NegativeInfinity, double.NegativeInfinity]);

        Assert.Equal(2, moments.Count);
        Assert.Equal(1, moments.NanCount);
        Assert.Equal(1, moments.PositiveInfinityCount);
        Assert.Equal(2, moments.NegativeInfinityCount);
        Assert.Equal(2, moments.Mean);
        Assert.Equal(2, moments.Variance);
        Assert.Equal(1, moments.PopulationVariance);
        Assert.Equal(1, moments.Min);
        Assert.Equal(3, moments.Max);
    }

    [Fact]
    public void Empty_and_single_value_moments_have_no_variance()
    {
        var moments = new Moments();
        Assert.True(double.IsNaN(moments.Mean));
        Assert.True(double.IsNaN(moments.Min));

        moments.Add(5);
        Assert.Equal(5, moments.Mean);
        Assert.True(double.IsNaN(moments.Variance));
        Assert.Equal(0, moments.PopulationVariance);
    }

    /// <summary>Neumaier's compensated sum: the reference must be more precise than what it checks.</summary>
    private static double CompensatedSum(IEnumerable<double> values)
    {
        double sum = 0, compensation = 0;
        foreach (var v in values)
        {
            var t = sum + v;
            compensation += Math.Abs(sum) >= Math.Abs(v) ? (sum - t) + v : (v - t) + sum;
            sum = t;
        }

        return sum + compensation;
    }
}
