namespace Strata.Data.Profiling;

/// <summary>How <see cref="Profiler"/> and <see cref="ProfileBuilder"/> profile a table.</summary>
public sealed record ProfileOptions
{
    /// <summary>The defaults.</summary>
    public static ProfileOptions Default { get; } = new();

    /// <summary>
    /// KLL accuracy parameter for quantiles and histograms (default 200: ±1.33% rank error for one query, ±1.65% for a
    /// whole histogram, at 99% confidence). Profiles merge only with profiles of the same value.
    /// </summary>
    public int QuantileK { get; init; } = KllSketch.DefaultK;

    /// <summary>HyperLogLog precision for distinct counts (default 12: 1.63% standard error).</summary>
    public int DistinctPrecision { get; init; } = HyperLogLog.DefaultPrecision;

    /// <summary>Capacity of the frequent-values summary of string columns (default 1024; exact up to 2048 distinct values).</summary>
    public int FrequentValuesCapacity { get; init; } = FrequentItems.DefaultCapacity;

    /// <summary>Threads to use; -1 (the default) uses every core. The result does not depend on it.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>
    /// Rows per independently profiled slice (default 65,536). Slices are merged in row order, so the profile is the same
    /// whatever the thread count; a different slice size gives a different (equally accurate) profile.
    /// </summary>
    public int SliceRows { get; init; } = 1 << 16;

    /// <summary>Seed of the quantile sketches' compaction coins.</summary>
    public ulong Seed { get; init; } = KllSketch.DefaultSeed;

    internal int EffectiveParallelism => MaxDegreeOfParallelism == -1 ? Environment.ProcessorCount : MaxDegreeOfParallelism;

    /// <summary>Throws when a value is out of range.</summary>
    internal void Validate()
    {
        if (QuantileK is < KllSketch.MinK or > KllSketch.MaxK)
        {
            throw Invalid(nameof(QuantileK), $"must be within [{KllSketch.MinK}, {KllSketch.MaxK}]");
        }

        if (DistinctPrecision is < HyperLogLog.MinPrecision or > HyperLogLog.MaxPrecision)
        {
            throw Invalid(nameof(DistinctPrecision), $"must be within [{HyperLogLog.MinPrecision}, {HyperLogLog.MaxPrecision}]");
        }

        if (FrequentValuesCapacity is < 1 or > FrequentItems.MaxCapacity)
        {
            throw Invalid(nameof(FrequentValuesCapacity), $"must be within [1, {FrequentItems.MaxCapacity}]");
        }

        if (MaxDegreeOfParallelism is 0 or < -1)
        {
            throw Invalid(nameof(MaxDegreeOfParallelism), "must be -1 (all cores) or positive");
        }

        if (SliceRows < 1024)
        {
            throw Invalid(nameof(SliceRows), "must be at least 1024");
        }
    }

    private static StrataException Invalid(string name, string message) => new(ErrorCodes.ArgumentInvalid, $"profile option {name} {message}");
}
