namespace Strata.Data.Profiling;

/// <summary>
/// Profile of an int32, int64, float32, float64 or timestamp column (timestamps as UTC microseconds). Moments cover the
/// finite values; NaN is counted and otherwise ignored; ±∞ are ordered values for the minimum, maximum, quantiles and
/// histogram. Quantiles and histograms come from a KLL sketch: a quantile's rank is within ±<see cref="QuantileRankError"/>
/// of the requested one, and every histogram bin edge's rank within ±<see cref="HistogramRankError"/>, at 99% confidence.
/// Value statistics are null for a PII column and for a column without values.
/// </summary>
public sealed class NumericColumnProfile : ColumnProfile
{
    private readonly NumericState _state;

    internal NumericColumnProfile(string name, DataType type, bool isPii, NumericState state)
        : base(name, type, isPii) => _state = state;

    /// <summary>NaN values (always 0 for integer and timestamp columns); null for PII.</summary>
    public long? NanCount => _state.Moments?.NanCount;

    /// <summary>+∞ values; null for PII.</summary>
    public long? PositiveInfinityCount => _state.Moments?.PositiveInfinityCount;

    /// <summary>−∞ values; null for PII.</summary>
    public long? NegativeInfinityCount => _state.Moments?.NegativeInfinityCount;

    /// <summary>The smallest non-NaN value (possibly −∞).</summary>
    public double? Min => HasValues ? _state.Kll!.Min : null;

    /// <summary>The largest non-NaN value (possibly +∞).</summary>
    public double? Max => HasValues ? _state.Kll!.Max : null;

    /// <summary>The exact smallest value of an integer or timestamp column (doubles lose precision beyond 2^53).</summary>
    public long? IntegerMin => HasValues && _state.IsInteger ? _state.IntegerMin : null;

    /// <summary>The exact largest value of an integer or timestamp column.</summary>
    public long? IntegerMax => HasValues && _state.IsInteger ? _state.IntegerMax : null;

    /// <summary>Mean of the finite values.</summary>
    public double? Mean => _state.Moments is { Count: > 0 } m ? m.Mean : null;

    /// <summary>Sample variance of the finite values (divisor n − 1, as pandas); null for fewer than two.</summary>
    public double? Variance => _state.Moments is { Count: > 1 } m ? m.Variance : null;

    /// <summary>Sample standard deviation of the finite values (as pandas' <c>std()</c>); null for fewer than two.</summary>
    public double? StandardDeviation => _state.Moments is { Count: > 1 } m ? m.StandardDeviation : null;

    /// <summary>The mergeable moments (a copy); null for PII.</summary>
    public Moments? Moments => _state.Moments?.Clone();

    /// <summary>True when the profile holds a value distribution (not PII, and some non-NaN value was seen).</summary>
    public bool HasValues => _state.Kll is { IsEmpty: false };

    /// <summary>Rank error of a single quantile or rank query at 99% confidence (0.0133 for k = 200); 0 while exact.</summary>
    public double QuantileRankError => _state.Kll is { IsEstimationMode: true } kll ? kll.NormalizedRankError(pmf: false) : 0;

    /// <summary>Rank error of all bin edges of a histogram at once at 99% confidence (0.0165 for k = 200); 0 while exact.</summary>
    public double HistogramRankError => _state.Kll is { IsEstimationMode: true } kll ? kll.NormalizedRankError(pmf: true) : 0;

    /// <inheritdoc />
    public override double DistinctEstimate => IsDistinctExact ? _state.Kll!.CountDistinctRetained() : _state.Hll.Estimate();

    /// <inheritdoc />
    public override bool IsDistinctExact => _state.Kll is { IsEstimationMode: false };

    /// <inheritdoc />
    public override double DistinctStandardError => IsDistinctExact ? 0 : _state.Hll.StandardError;

    internal override ColumnState State => _state;

    internal NumericState NumericState => _state;

    internal KllSketch? Sketch => _state.Kll;

    /// <summary>The estimated <paramref name="q"/>-quantile (q = 0 and 1 give the exact minimum and maximum).</summary>
    public double? Quantile(double q) => HasValues ? _state.Kll!.Quantile(q) : null;

    /// <summary>The estimated fraction of non-NaN values ≤ <paramref name="value"/>.</summary>
    public double? Rank(double value) => HasValues ? _state.Kll!.Rank(value) : null;

    /// <summary>
    /// An equal-width histogram over the finite range [min, max] of the values, derived from the quantile sketch (so it
    /// merges with the profile); −∞ falls into the first bin and +∞ into the last. One bin when all values are equal.
    /// </summary>
    public IReadOnlyList<HistogramBin>? Histogram(int bins = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        if (!HasValues)
        {
            return null;
        }

        var kll = _state.Kll!;
        var (lo, hi) = FiniteRange();
        if (!(hi > lo))
        {
            return [new HistogramBin(kll.Min, kll.Max, kll.N)];
        }

        var result = new HistogramBin[bins];
        var previousEdge = lo;
        var previousCount = 0L;
        for (var i = 0; i < bins; i++)
        {
            var edge = i == bins - 1 ? hi : Lerp(lo, hi, (double)(i + 1) / bins);
            var atMost = i == bins - 1 ? kll.N : kll.CountAtMost(edge);
            result[i] = new HistogramBin(previousEdge, edge, atMost - previousCount);
            previousEdge = edge;
            previousCount = atMost;
        }

        return result;
    }

    /// <summary>The finite range of the values: the moments' min and max (the KLL extremes when no value is finite).</summary>
    internal (double Lo, double Hi) FiniteRange()
    {
        var moments = _state.Moments!;
        return moments.Count > 0 ? (moments.Min, moments.Max) : (_state.Kll!.Min, _state.Kll!.Max);
    }

    /// <summary>A point between lo and hi (callers pin the last edge to hi); ranges wider than double.MaxValue do not overflow.</summary>
    internal static double Lerp(double lo, double hi, double t)
    {
        var width = hi - lo;
        return double.IsFinite(width) ? lo + (width * t) : (lo * (1 - t)) + (hi * t);
    }
}
