namespace Strata.Data.Profiling;

/// <summary>
/// The mergeable state behind a <see cref="ColumnProfile"/>: the builder fills one per column slice and merges them in
/// row order; a profile wraps one and never changes it.
/// </summary>
internal abstract class ColumnState
{
    /// <summary>Rows seen, nulls included.</summary>
    public long Count { get; protected set; }

    /// <summary>Null rows seen.</summary>
    public long NullCount { get; protected set; }

    /// <summary>False once raw values have been dropped (a PII column keeps only counts and a distinct estimate).</summary>
    public abstract bool HoldsValues { get; }

    /// <summary>Adds the rows of a column (of the state's kind).</summary>
    public abstract void Add(Column column);

    /// <summary>Merges another state of the same kind and parameters; <paramref name="column"/> names the column in errors.</summary>
    public abstract void Merge(ColumnState other, string column);

    /// <summary>A deep copy.</summary>
    public abstract ColumnState Clone();

    /// <summary>Forgets everything derived from raw values (for PII): extremes, moments, quantiles, frequent values.</summary>
    public abstract void DropValues();

    /// <summary>A fresh state for a column of <paramref name="type"/>.</summary>
    public static ColumnState Create(DataType type, bool pii, ProfileOptions options, ulong seed) => type switch
    {
        DataType.Bool => new BoolState(pii),
        DataType.String => new StringState(pii, options.DistinctPrecision, options.FrequentValuesCapacity),
        _ => new NumericState(type, pii, options.QuantileK, options.DistinctPrecision, seed),
    };

    /// <summary>Adds the counts of another state.</summary>
    protected void MergeCounts(ColumnState other)
    {
        Count = checked(Count + other.Count);
        NullCount = checked(NullCount + other.NullCount);
    }

    /// <summary>Sets the counts (when loading).</summary>
    internal void SetCounts(long count, long nullCount)
    {
        Count = count;
        NullCount = nullCount;
    }

    /// <summary>Adds the row and null counts of a column.</summary>
    protected void CountRows(Column column)
    {
        Count += column.Length;
        NullCount += column.NullCount;
    }

    /// <summary>The error for merging states whose sketches were made with different options.</summary>
    protected static StrataException Incompatible(string column, string option, object mine, object theirs) =>
        new(ErrorCodes.ArgumentInvalid, $"cannot merge profiles of column '{column}': one was made with {option} = {theirs}, the other with {mine}");
}
