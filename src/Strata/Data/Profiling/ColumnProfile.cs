namespace Strata.Data.Profiling;

/// <summary>
/// The profile of one column: counts and a distinct estimate for every type, plus type-specific statistics in
/// <see cref="NumericColumnProfile"/> (numeric and timestamp), <see cref="BoolColumnProfile"/> and
/// <see cref="StringColumnProfile"/>. Profiles are immutable and mergeable: <c>a.Merge(b)</c> describes the rows of both
/// within each sketch's stated error. A profile of a PII column (<see cref="Field.IsPii"/>) holds no raw values: only
/// counts, nulls, a distinct estimate and, for strings, value lengths.
/// </summary>
/// <remarks>
/// The distinct estimate of a PII column is kept as HyperLogLog registers so that it merges. Registers hold no values,
/// but they are derived from value hashes under a public seed: for a column with few distinct values, someone who can
/// guess candidate values could test them against the registers. Treat saved profiles of PII data as sensitive.
/// </remarks>
public abstract class ColumnProfile
{
    private protected ColumnProfile(string name, DataType type, bool isPii)
    {
        Name = name;
        Type = type;
        IsPii = isPii;
    }

    /// <summary>The column's name.</summary>
    public string Name { get; }

    /// <summary>The column's type.</summary>
    public DataType Type { get; }

    /// <summary>True when the column is personal data, so the profile keeps no raw values.</summary>
    public bool IsPii { get; }

    /// <summary>Rows profiled, nulls included.</summary>
    public long Count => State.Count;

    /// <summary>Null rows.</summary>
    public long NullCount => State.NullCount;

    /// <summary>Rows holding a value.</summary>
    public long ValidCount => State.Count - State.NullCount;

    /// <summary>
    /// The number of distinct non-null values (NaN excluded): exact when <see cref="IsDistinctExact"/>, otherwise a
    /// HyperLogLog estimate with relative standard error <see cref="DistinctStandardError"/>.
    /// </summary>
    public abstract double DistinctEstimate { get; }

    /// <summary>True when <see cref="DistinctEstimate"/> is an exact count.</summary>
    public abstract bool IsDistinctExact { get; }

    /// <summary>Relative standard error of <see cref="DistinctEstimate"/> (0 when exact).</summary>
    public abstract double DistinctStandardError { get; }

    internal abstract ColumnState State { get; }

    /// <summary>
    /// The profile of this column's rows followed by <paramref name="other"/>'s. The result is PII if either is (and then
    /// drops raw values).
    /// </summary>
    /// <exception cref="StrataException">Different names or types (<see cref="ErrorCodes.SchemaInvalid"/>), or sketches
    /// made with different options (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public ColumnProfile Merge(ColumnProfile other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Name != Name || other.Type != Type)
        {
            throw new StrataException(
                ErrorCodes.SchemaInvalid,
                $"cannot merge the profile of column '{other.Name}' ({other.Type.Name()}) into that of '{Name}' ({Type.Name()})");
        }

        var pii = IsPii || other.IsPii;
        var state = State.Clone();
        var otherState = other.State;
        if (pii && otherState.HoldsValues)
        {
            otherState = otherState.Clone();
            otherState.DropValues();
        }

        if (pii)
        {
            state.DropValues();
        }

        state.Merge(otherState, Name);
        return Create(Name, Type, pii, state);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}: {Type.Name()}{(IsPii ? " (pii)" : "")}, {Count} rows, {NullCount} null, ~{Math.Round(DistinctEstimate)} distinct";

    /// <summary>Wraps a state (which the profile then owns) in the profile type of its kind.</summary>
    internal static ColumnProfile Create(string name, DataType type, bool pii, ColumnState state) => state switch
    {
        NumericState numeric => new NumericColumnProfile(name, type, pii, numeric),
        BoolState bools => new BoolColumnProfile(name, pii, bools),
        StringState strings => new StringColumnProfile(name, pii, strings),
        _ => throw new ArgumentException($"unknown column state {state.GetType().Name}", nameof(state)),
    };
}

/// <summary>One bin of a histogram: the values in <c>(Lower, Upper]</c> (the first bin also holds <c>Lower</c>).</summary>
/// <param name="Lower">Lower edge.</param>
/// <param name="Upper">Upper edge.</param>
/// <param name="Count">Estimated number of values in the bin.</param>
public readonly record struct HistogramBin(double Lower, double Upper, long Count);
