using Xunit.Sdk;

namespace Strata.Tests.Data.Profiling;

/// <summary>Runs a property for fixed seeds and names the failing seed, so a failure reproduces exactly.</summary>
internal static class Property
{
    public static void ForSeeds(IEnumerable<int> seeds, Action<int> property)
    {
        foreach (var seed in seeds)
        {
            try
            {
                property(seed);
            }
            catch (Exception e)
            {
                throw new XunitException($"seed {seed}: {e.Message}", e);
            }
        }
    }

    /// <summary>Exact normalized ranks of <paramref name="x"/> in sorted data: the fraction below it and the fraction at or below it.</summary>
    public static (double Below, double AtOrBelow) ExactRank(double[] sorted, double x)
    {
        var below = LowerBound(sorted, x);
        var atOrBelow = below;
        while (atOrBelow < sorted.Length && sorted[atOrBelow] <= x)
        {
            atOrBelow++;
        }

        return ((double)below / sorted.Length, (double)atOrBelow / sorted.Length);
    }

    private static int LowerBound(double[] sorted, double x)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < x)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>Values from one of several shapes: uniform, normal, heavy-tailed, few distinct, sorted and reversed runs.</summary>
    public static double[] Values(Random random, int n, int shape) => shape switch
    {
        0 => Enumerable.Range(0, n).Select(_ => random.NextDouble()).ToArray(),
        1 => Enumerable.Range(0, n).Select(_ => Normal(random)).ToArray(),
        2 => Enumerable.Range(0, n).Select(_ => Math.Exp(3 * Normal(random))).ToArray(),
        3 => Enumerable.Range(0, n).Select(_ => (double)random.Next(0, 20)).ToArray(),
        4 => Enumerable.Range(0, n).Select(i => (double)i).ToArray(),
        _ => Enumerable.Range(0, n).Select(i => (double)(n - i) * 1e6).ToArray(),
    };

    public static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
