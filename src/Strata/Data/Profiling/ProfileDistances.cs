namespace Strata.Data.Profiling;

/// <summary>
/// Distances between a reference profile and a current profile of the same column, computed from the sketches alone,
/// for data validation (skew) and monitoring (drift).
/// </summary>
public static class ProfileDistances
{
    /// <summary>Default number of common bins for <see cref="JensenShannon"/> and <see cref="CommonBins"/>.</summary>
    public const int DefaultBins = 10;

    /// <summary>
    /// The Jensen–Shannon distance (the square root of the base-2 JS divergence, so within [0, 1], as SciPy's
    /// <c>jensenshannon(p, q, base=2)</c>) between two numeric or timestamp columns, over <paramref name="bins"/>
    /// equal-width bins spanning the union of their finite ranges (see <see cref="CommonBins"/>). 0 when neither has
    /// values, 1 when only one has.
    /// </summary>
    /// <remarks>
    /// Each bin probability comes from a KLL CDF, so it is within ±2ε of the true one (ε = <see cref="NumericColumnProfile.HistogramRankError"/>);
    /// distances below about √(bins)·ε are noise.
    /// </remarks>
    /// <exception cref="StrataException">A column is not numeric or timestamp, or is PII (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public static double JensenShannon(ColumnProfile reference, ColumnProfile current, int bins = DefaultBins)
    {
        var (a, b) = NumericPair(reference, current);
        if (!a.HasValues || !b.HasValues)
        {
            return a.HasValues == b.HasValues ? 0 : 1;
        }

        var binned = CommonBins(a, b, bins);
        var divergence = 0.0;
        for (var i = 0; i < binned.Reference.Count; i++)
        {
            var p = binned.Reference[i];
            var q = binned.Current[i];
            var m = (p + q) / 2;
            if (p > 0)
            {
                divergence += 0.5 * p * Math.Log2(p / m);
            }

            if (q > 0)
            {
                divergence += 0.5 * q * Math.Log2(q / m);
            }
        }

        return Math.Sqrt(Math.Clamp(divergence, 0, 1));
    }

    /// <summary>
    /// The probabilities of two numeric or timestamp columns over common bins: <paramref name="bins"/> equal-width bins
    /// between the smallest and largest finite value of either (−∞ counts in the first bin, +∞ in the last; one bin when
    /// both are the same constant), each probability read from the column's quantile sketch. The basis for JS, PSI and
    /// chi-square drift.
    /// </summary>
    /// <exception cref="StrataException">A column is not numeric or timestamp, is PII, or has no values (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public static BinnedDistributions CommonBins(ColumnProfile reference, ColumnProfile current, int bins = DefaultBins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var (a, b) = NumericPair(reference, current);
        if (!a.HasValues || !b.HasValues)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"column '{a.Name}': common bins need values in both profiles");
        }

        var (loA, hiA) = a.FiniteRange();
        var (loB, hiB) = b.FiniteRange();
        var lo = Math.Min(loA, loB);
        var hi = Math.Max(hiA, hiB);
        if (!(hi > lo) || !double.IsFinite(lo) || !double.IsFinite(hi))
        {
            bins = 1;
        }

        var edges = new double[bins + 1];
        edges[0] = lo;
        edges[bins] = hi;
        for (var i = 1; i < bins; i++)
        {
            edges[i] = NumericColumnProfile.Lerp(lo, hi, (double)i / bins);
        }

        return new BinnedDistributions(edges, Probabilities(a.Sketch!, edges), Probabilities(b.Sketch!, edges));
    }

    /// <summary>
    /// The two-sample Kolmogorov–Smirnov statistic (the largest difference of the two CDFs) between two numeric or
    /// timestamp columns, evaluated at every value either sketch retains. Within ±2ε of the exact statistic
    /// (ε = <see cref="NumericColumnProfile.HistogramRankError"/>). 0 when neither has values, 1 when only one has.
    /// </summary>
    /// <exception cref="StrataException">A column is not numeric or timestamp, or is PII (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public static double KolmogorovSmirnov(ColumnProfile reference, ColumnProfile current)
    {
        var (a, b) = NumericPair(reference, current);
        if (!a.HasValues || !b.HasValues)
        {
            return a.HasValues == b.HasValues ? 0 : 1;
        }

        var sa = a.Sketch!;
        var sb = b.Sketch!;
        var max = 0.0;
        foreach (var x in sa.SortedItems().Items.Concat(sb.SortedItems().Items))
        {
            max = Math.Max(max, Math.Abs(((double)sa.CountAtMost(x) / sa.N) - ((double)sb.CountAtMost(x) / sb.N)));
        }

        return max;
    }

    /// <summary>
    /// The L-infinity distance between the value frequencies of two categorical (string or bool) columns: the largest
    /// absolute difference, over every value, of its fraction of the valid rows in each profile (TFDV's infinity norm).
    /// </summary>
    /// <remarks>
    /// Bool frequencies are exact. String frequencies come from the frequent-values summaries: exact while both summaries
    /// are exact. Otherwise a kept value's count is a lower bound (the kept count) and a value a summary did not keep
    /// counts as 0, so each frequency is at most MaximumError / ValidCount below the truth, and the distance returned is
    /// within <c>maxError</c> of the exact one (see <see cref="LInfinity(ColumnProfile, ColumnProfile, out double)"/>).
    /// A column without values has all frequencies 0.
    /// </remarks>
    /// <exception cref="StrataException">The columns are not both string or both bool, or one is PII (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public static double LInfinity(ColumnProfile reference, ColumnProfile current) => LInfinity(reference, current, out _);

    /// <summary>
    /// The L-infinity distance (see <see cref="LInfinity(ColumnProfile, ColumnProfile)"/>) and the largest amount by which
    /// it can differ from the exact distance because a summary is not exact (0 when both are exact).
    /// </summary>
    public static double LInfinity(ColumnProfile reference, ColumnProfile current, out double maxError)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        RejectPii(reference);
        RejectPii(current);
        switch (reference, current)
        {
            case (BoolColumnProfile a, BoolColumnProfile b):
                maxError = 0;
                return Math.Max(
                    Math.Abs(Fraction(a.TrueCount!.Value, a.ValidCount) - Fraction(b.TrueCount!.Value, b.ValidCount)),
                    Math.Abs(Fraction(a.FalseCount!.Value, a.ValidCount) - Fraction(b.FalseCount!.Value, b.ValidCount)));
            case (StringColumnProfile a, StringColumnProfile b):
            {
                var fa = a.Frequent!;
                var fb = b.Frequent!;
                var max = 0.0;
                foreach (var item in fa.Top().Concat(fb.Top()))
                {
                    var difference = Fraction(fa.LowerBound(item.Value), a.ValidCount) - Fraction(fb.LowerBound(item.Value), b.ValidCount);
                    max = Math.Max(max, Math.Abs(difference));
                }

                maxError = Fraction(fa.MaximumError, a.ValidCount) + Fraction(fb.MaximumError, b.ValidCount);
                return max;
            }

            default:
                throw new StrataException(
                    ErrorCodes.ArgumentInvalid,
                    $"L-infinity compares two string or two bool columns, not {reference.Type.Name()} '{reference.Name}' and {current.Type.Name()} '{current.Name}'");
        }
    }

    private static double Fraction(long count, long total) => total == 0 ? 0 : (double)count / total;

    private static double[] Probabilities(KllSketch sketch, double[] edges)
    {
        var bins = edges.Length - 1;
        var result = new double[bins];
        var previous = 0L;
        for (var i = 0; i < bins; i++)
        {
            var atMost = i == bins - 1 ? sketch.N : sketch.CountAtMost(edges[i + 1]);
            result[i] = (double)(atMost - previous) / sketch.N;
            previous = atMost;
        }

        return result;
    }

    private static (NumericColumnProfile A, NumericColumnProfile B) NumericPair(ColumnProfile reference, ColumnProfile current)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        RejectPii(reference);
        RejectPii(current);
        if (reference is not NumericColumnProfile a || current is not NumericColumnProfile b || (a.Type == DataType.Timestamp) != (b.Type == DataType.Timestamp))
        {
            throw new StrataException(
                ErrorCodes.ArgumentInvalid,
                $"this distance compares two numeric or two timestamp columns, not {reference.Type.Name()} '{reference.Name}' and {current.Type.Name()} '{current.Name}'");
        }

        return (a, b);
    }

    private static void RejectPii(ColumnProfile profile)
    {
        if (profile.IsPii)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"column '{profile.Name}' is PII: its profile holds no value distribution to compare");
        }
    }
}

/// <summary>Two distributions over common bins: bin <c>i</c> is <c>(Edges[i], Edges[i+1]]</c> (the first also holds Edges[0]).</summary>
/// <param name="Edges">Bin edges, one more than the bins.</param>
/// <param name="Reference">The reference column's probability per bin (sums to 1).</param>
/// <param name="Current">The current column's probability per bin (sums to 1).</param>
public sealed record BinnedDistributions(IReadOnlyList<double> Edges, IReadOnlyList<double> Reference, IReadOnlyList<double> Current);
