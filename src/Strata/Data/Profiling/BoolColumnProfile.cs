namespace Strata.Data.Profiling;

/// <summary>Profile of a bool column: exact true and false counts (null for PII) and an exact distinct count.</summary>
public sealed class BoolColumnProfile : ColumnProfile
{
    private readonly BoolState _state;

    internal BoolColumnProfile(string name, bool isPii, BoolState state)
        : base(name, DataType.Bool, isPii) => _state = state;

    /// <summary>Rows holding true; null for PII.</summary>
    public long? TrueCount => _state.HoldsValues ? _state.TrueCount : null;

    /// <summary>Rows holding false; null for PII.</summary>
    public long? FalseCount => _state.HoldsValues ? _state.FalseCount : null;

    /// <inheritdoc />
    public override double DistinctEstimate => _state.DistinctCount;

    /// <inheritdoc />
    public override bool IsDistinctExact => true;

    /// <inheritdoc />
    public override double DistinctStandardError => 0;

    internal override ColumnState State => _state;

    internal BoolState BoolState => _state;
}
