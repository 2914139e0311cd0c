namespace Strata.Data.Profiling;

/// <summary>
/// Profile of a string column: the most frequent values with counts (from a mergeable frequent-items summary; null for
/// PII), a distinct count (exact while the summary is exact, else HyperLogLog), and value lengths in Unicode code points.
/// </summary>
public sealed class StringColumnProfile : ColumnProfile
{
    private readonly StringState _state;

    internal StringColumnProfile(string name, bool isPii, StringState state)
        : base(name, DataType.String, isPii) => _state = state;

    /// <summary>
    /// True while the frequent values are every value with its exact count; otherwise each count is a lower bound that
    /// is at most <see cref="FrequencyMaximumError"/> below the true count. Null for PII.
    /// </summary>
    public bool? FrequenciesAreExact => _state.Frequent?.IsExact;

    /// <summary>The largest amount by which a frequent value's count may fall short (≤ valid rows / (capacity + 1)); null for PII.</summary>
    public long? FrequencyMaximumError => _state.Frequent?.MaximumError;

    /// <summary>Length of the shortest value in code points; null when there are no values.</summary>
    public long? MinLength => ValidCount > 0 ? _state.MinLength : null;

    /// <summary>Length of the longest value in code points; null when there are no values.</summary>
    public long? MaxLength => ValidCount > 0 ? _state.MaxLength : null;

    /// <summary>Mean value length in code points; null when there are no values.</summary>
    public double? MeanLength => ValidCount > 0 ? (double)_state.LengthSum / ValidCount : null;

    /// <inheritdoc />
    public override double DistinctEstimate => IsDistinctExact ? _state.Frequent!.TrackedCount : _state.Hll.Estimate();

    /// <inheritdoc />
    public override bool IsDistinctExact => _state.Frequent is { IsExact: true };

    /// <inheritdoc />
    public override double DistinctStandardError => IsDistinctExact ? 0 : _state.Hll.StandardError;

    internal override ColumnState State => _state;

    internal StringState StringState => _state;

    internal FrequentItems? Frequent => _state.Frequent;

    /// <summary>The <paramref name="k"/> most frequent values by descending count (ties in ordinal order); null for PII.</summary>
    public IReadOnlyList<FrequentItem>? TopValues(int k = 10) => _state.Frequent?.Top(k);

    /// <summary>
    /// The estimated fraction of valid rows holding <paramref name="value"/> (a lower bound when the frequencies are not
    /// exact); null for PII.
    /// </summary>
    public double? Frequency(string value) =>
        _state.Frequent is { } frequent ? (ValidCount == 0 ? 0 : (double)frequent.LowerBound(value) / ValidCount) : null;
}
