namespace Strata.Monitoring.Drift;

/// <summary>A test statistic and, for the hypothesis tests (KS, chi-square), its p-value.</summary>
/// <param name="Statistic">The statistic or distance.</param>
/// <param name="PValue">The p-value; null for distances (PSI, Wasserstein, Jensen–Shannon).</param>
public readonly record struct DriftStatistic(double Statistic, double? PValue);

/// <summary>
/// The drift statistics computed exactly on arrays, defined as SciPy and Evidently define them; the reference the
/// profile-based <see cref="DriftDetector"/> is checked against, and the path for small samples.
/// </summary>
public static class DriftStatistics
{
    /// <summary>
    /// Two-sample Kolmogorov–Smirnov test (SciPy's <c>ks_2samp</c>, two-sided, <c>method='auto'</c>): the largest CDF
    /// difference, and an exact p-value up to 10,000 values per sample, an asymptotic one above. NaN values are ignored.
    /// </summary>
    public static DriftStatistic KolmogorovSmirnov(ReadOnlySpan<double> reference, ReadOnlySpan<double> current)
    {
        var a = SortedFinite(reference);
        var b = SortedFinite(current);
        if (a.Length == 0 || b.Length == 0)
        {
            return new DriftStatistic(a.Length == b.Length ? 0 : 1, 1);
        }

        double d = 0;
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            var x = Math.Min(a[i], b[j]);
            while (i < a.Length && a[i] == x)
            {
                i++;
            }

            while (j < b.Length && b[j] == x)
            {
                j++;
            }

            d = Math.Max(d, Math.Abs(((double)i / a.Length) - ((double)j / b.Length)));
        }

        return new DriftStatistic(d, DriftMath.KsPValue(d, a.Length, b.Length));
    }

    /// <summary>The first Wasserstein distance between the two empirical distributions (SciPy's <c>wasserstein_distance</c>).</summary>
    public static double Wasserstein(ReadOnlySpan<double> reference, ReadOnlySpan<double> current)
    {
        var a = SortedFinite(reference);
        var b = SortedFinite(current);
        if (a.Length == 0 || b.Length == 0)
        {
            return a.Length == b.Length ? 0 : double.PositiveInfinity;
        }

        double total = 0;
        int i = 0, j = 0;
        var x = Math.Min(a[0], b[0]);
        while (i < a.Length || j < b.Length)
        {
            var next = Math.Min(i < a.Length ? a[i] : double.PositiveInfinity, j < b.Length ? b[j] : double.PositiveInfinity);
            total += Math.Abs(((double)i / a.Length) - ((double)j / b.Length)) * (next - x);
            while (i < a.Length && a[i] == next)
            {
                i++;
            }

            while (j < b.Length && b[j] == next)
            {
                j++;
            }

            x = next;
        }

        return total;
    }

    /// <summary>
    /// Evidently's normalized Wasserstein distance: the Wasserstein distance divided by the reference's population
    /// standard deviation (NumPy's <c>std</c>, at least 0.001).
    /// </summary>
    public static double NormalizedWasserstein(ReadOnlySpan<double> reference, ReadOnlySpan<double> current)
    {
        var a = SortedFinite(reference);
        var mean = 0.0;
        foreach (var v in a)
        {
            mean += v;
        }

        mean /= Math.Max(1, a.Length);
        var m2 = 0.0;
        foreach (var v in a)
        {
            m2 += (v - mean) * (v - mean);
        }

        return Wasserstein(reference, current) / NormalizingDeviation(a.Length == 0 ? 0 : Math.Sqrt(m2 / a.Length));
    }

    /// <summary>
    /// The shares of values per bin for interior <paramref name="edges"/> (ascending): bin 0 is (−∞, e₀), bin i is
    /// [eᵢ₋₁, eᵢ), the last is [eₖ₋₁, ∞), as NumPy's <c>searchsorted(edges, x, side="right")</c>. NaN is ignored.
    /// </summary>
    public static double[] BinShares(ReadOnlySpan<double> values, ReadOnlySpan<double> edges)
    {
        var counts = new double[edges.Length + 1];
        var n = 0;
        foreach (var v in values)
        {
            if (double.IsNaN(v))
            {
                continue;
            }

            var index = edges.BinarySearch(v);
            var bin = index >= 0 ? index + 1 : ~index;
            while (index >= 0 && bin < edges.Length && edges[bin] == v)
            {
                bin++;
            }

            counts[bin]++;
            n++;
        }

        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = n == 0 ? 0 : counts[i] / n;
        }

        return counts;
    }

    /// <summary>
    /// Population stability index Σ (rᵢ − cᵢ)·ln(rᵢ/cᵢ) over the shares of common bins, after Evidently's zero handling
    /// (see <see cref="FillZeros"/>).
    /// </summary>
    public static double Psi(ReadOnlySpan<double> referenceShares, ReadOnlySpan<double> currentShares)
    {
        CheckSameLength(referenceShares, currentShares);
        var r = FillZeros(referenceShares);
        var c = FillZeros(currentShares);
        var psi = 0.0;
        for (var i = 0; i < r.Length; i++)
        {
            psi += (r[i] - c[i]) * Math.Log(r[i] / c[i]);
        }

        return psi;
    }

    /// <summary>
    /// Jensen–Shannon distance with the natural logarithm (SciPy's <c>jensenshannon(p, q)</c>, as Evidently calls it; at
    /// most √ln 2 ≈ 0.833), over the shares of common bins after Evidently's zero handling. Each side is renormalized.
    /// </summary>
    public static double JensenShannon(ReadOnlySpan<double> referenceShares, ReadOnlySpan<double> currentShares)
    {
        CheckSameLength(referenceShares, currentShares);
        var p = FillZeros(referenceShares);
        var q = FillZeros(currentShares);
        var sp = 0.0;
        var sq = 0.0;
        for (var i = 0; i < p.Length; i++)
        {
            sp += p[i];
            sq += q[i];
        }

        var divergence = 0.0;
        for (var i = 0; i < p.Length; i++)
        {
            var a = p[i] / sp;
            var b = q[i] / sq;
            var m = (a + b) / 2;
            divergence += (0.5 * a * Math.Log(a / m)) + (0.5 * b * Math.Log(b / m));
        }

        return Math.Sqrt(Math.Max(0, divergence));
    }

    /// <summary>
    /// Pearson's chi-square goodness-of-fit of the current counts against the reference counts scaled to the current total
    /// (Evidently's test; SciPy's <c>chisquare(f_obs, f_exp)</c>), with categories − 1 degrees of freedom. A category the
    /// reference never saw gives an infinite statistic and p-value 0.
    /// </summary>
    public static DriftStatistic ChiSquare(ReadOnlySpan<double> referenceCounts, ReadOnlySpan<double> currentCounts)
    {
        CheckSameLength(referenceCounts, currentCounts);
        double nr = 0, nc = 0;
        for (var i = 0; i < referenceCounts.Length; i++)
        {
            nr += referenceCounts[i];
            nc += currentCounts[i];
        }

        if (referenceCounts.Length < 2 || nr == 0 || nc == 0)
        {
            return new DriftStatistic(0, 1);
        }

        var statistic = 0.0;
        for (var i = 0; i < referenceCounts.Length; i++)
        {
            var expected = referenceCounts[i] * (nc / nr);
            var difference = currentCounts[i] - expected;
            statistic += expected == 0 ? (difference == 0 ? 0 : double.PositiveInfinity) : difference * difference / expected;
        }

        return new DriftStatistic(statistic, DriftMath.ChiSquareSurvival(statistic, referenceCounts.Length - 1));
    }

    /// <summary>
    /// Evidently's zero handling for binned shares: a zero becomes min(non-zero share) / 10⁶ when that minimum is at most
    /// 10⁻⁴, else 10⁻⁴, so that logarithms stay finite.
    /// </summary>
    public static double[] FillZeros(ReadOnlySpan<double> shares)
    {
        var result = shares.ToArray();
        var min = double.PositiveInfinity;
        foreach (var s in result)
        {
            if (s != 0)
            {
                min = Math.Min(min, s);
            }
        }

        var fill = double.IsPositiveInfinity(min) ? 1e-4 : min <= 1e-4 ? min / 1e6 : 1e-4;
        for (var i = 0; i < result.Length; i++)
        {
            if (result[i] == 0)
            {
                result[i] = fill;
            }
        }

        return result;
    }

    internal static double NormalizingDeviation(double standardDeviation) => Math.Max(standardDeviation, 0.001);

    private static double[] SortedFinite(ReadOnlySpan<double> values)
    {
        var result = new double[values.Length];
        var n = 0;
        foreach (var v in values)
        {
            if (!double.IsNaN(v))
            {
                result[n++] = v;
            }
        }

        Array.Resize(ref result, n);
        Array.Sort(result);
        return result;
    }

    private static void CheckSameLength(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"the reference has {a.Length} bins and the current data {b.Length}; they must match");
        }
    }
}
