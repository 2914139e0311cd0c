using Strata.Data.Profiling;

namespace Strata.Monitoring.Drift;

/// <summary>
/// The distribution of each feature of a <see cref="DriftLayout"/> over some rows (a reference, or a window of served
/// data): exact counts on the layout's fixed edges plus moments for numeric features, exact counts per value for
/// categorical ones. Its size depends on the layout, not on the rows, and profiles of the same layout merge by addition,
/// so hourly windows add up to days without going back to the rows.
/// </summary>
public sealed partial class DriftProfile
{
    /// <summary>
    /// Distinct values kept per categorical feature; later new values are counted together as <see cref="OtherValue"/>
    /// (a feature with that many values is an identifier, not a category).
    /// </summary>
    public const int MaxCategories = 10_000;

    /// <summary>The bucket for categorical values beyond <see cref="MaxCategories"/>.</summary>
    public const string OtherValue = "\u0000other";

    internal DriftProfile(DriftLayout layout, long rowCount, FeatureDistribution[] features)
    {
        Layout = layout;
        RowCount = rowCount;
        Distributions = features;
    }

    /// <summary>The layout the profile was built on.</summary>
    public DriftLayout Layout { get; }

    /// <summary>Rows counted.</summary>
    public long RowCount { get; private set; }

    internal FeatureDistribution[] Distributions { get; }

    /// <summary>The distribution of one feature.</summary>
    /// <exception cref="StrataException">No such feature (<see cref="ErrorCodes.NotFound"/>).</exception>
    public FeatureDistribution this[string feature] =>
        Layout.IndexOf(feature) is var i and >= 0 ? Distributions[i] : throw new StrataException(ErrorCodes.NotFound, $"the drift profile has no feature '{feature}'");

    /// <summary>An empty profile of <paramref name="layout"/>.</summary>
    public static DriftProfile Empty(DriftLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return new DriftProfile(layout, 0, [.. layout.Features.Select(FeatureDistribution.Create)]);
    }

    /// <summary>The profile of this profile's rows and <paramref name="other"/>'s (same layout); neither changes.</summary>
    /// <exception cref="StrataException">Different layouts (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public DriftProfile Merge(DriftProfile other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var merged = Clone();
        merged.MergeInPlace(other);
        return merged;
    }

    /// <summary>
    /// The profile of some of the features only (same edges and counts), e.g. the served inputs out of a reference that
    /// also holds the label.
    /// </summary>
    /// <exception cref="StrataException">A feature the profile does not hold (<see cref="ErrorCodes.NotFound"/>).</exception>
    public DriftProfile Select(IEnumerable<string> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var indexes = features.Select(f => Layout.IndexOf(f) is var i and >= 0
            ? i
            : throw new StrataException(
                ErrorCodes.NotFound, $"feature '{f}' is not in the reference (features: {string.Join(", ", Layout.Features.Select(x => x.Name))})")).ToArray();
        return new DriftProfile(new DriftLayout([.. indexes.Select(i => Layout.Features[i])]), RowCount, [.. indexes.Select(i => Distributions[i].Clone())]);
    }

    internal DriftProfile Clone() => new(Layout, RowCount, [.. Distributions.Select(d => d.Clone())]);

    internal void MergeInPlace(DriftProfile other)
    {
        if (!SameLayout(Layout, other.Layout))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "cannot merge drift profiles built on different layouts (features or bin edges differ)");
        }

        for (var i = 0; i < Distributions.Length; i++)
        {
            Distributions[i].Merge(other.Distributions[i]);
        }

        RowCount = checked(RowCount + other.RowCount);
    }

    internal void AddRows(long rows) => RowCount = checked(RowCount + rows);

    internal static bool SameLayout(DriftLayout a, DriftLayout b) =>
        ReferenceEquals(a, b)
        || (a.Features.Count == b.Features.Count
            && a.Features.Zip(b.Features).All(p => p.First.Name == p.Second.Name && p.First.Kind == p.Second.Kind
                && p.First.Edges.SequenceEqual(p.Second.Edges)));
}

/// <summary>One feature's distribution in a <see cref="DriftProfile"/>.</summary>
public abstract class FeatureDistribution
{
    private protected FeatureDistribution(string name) => Name = name;

    /// <summary>The feature.</summary>
    public string Name { get; }

    /// <summary>Null rows.</summary>
    public long NullCount { get; internal set; }

    /// <summary>Rows with a value (NaN excluded).</summary>
    public abstract long ValidCount { get; }

    internal static FeatureDistribution Create(DriftFeature feature) => feature.Kind switch
    {
        DriftFeatureKind.Numeric => new NumericDistribution(feature.Name, new FixedBinHistogram(feature.Edges), new Moments()),
        _ => new CategoricalDistribution(feature.Name),
    };

    internal abstract void Merge(FeatureDistribution other);

    internal abstract FeatureDistribution Clone();
}

/// <summary>A numeric feature's exact counts on the layout's edges, and its moments.</summary>
public sealed class NumericDistribution : FeatureDistribution
{
    internal NumericDistribution(string name, FixedBinHistogram histogram, Moments moments)
        : base(name)
    {
        Histogram = histogram;
        MomentsState = moments;
    }

    /// <summary>Counts per bin on the layout's edges.</summary>
    public FixedBinHistogram Histogram { get; }

    /// <summary>Mean of the finite values (NaN when none).</summary>
    public double Mean => MomentsState.Mean;

    /// <summary>Population standard deviation of the finite values (NumPy's <c>std</c>; NaN when none).</summary>
    public double PopulationStandardDeviation => Math.Sqrt(MomentsState.PopulationVariance);

    /// <inheritdoc />
    public override long ValidCount => Histogram.Total;

    internal Moments MomentsState { get; }

    internal override void Merge(FeatureDistribution other)
    {
        var o = (NumericDistribution)other;
        Histogram.Merge(o.Histogram);
        MomentsState.Merge(o.MomentsState);
        NullCount = checked(NullCount + o.NullCount);
    }

    internal override FeatureDistribution Clone() => new NumericDistribution(Name, Histogram.Clone(), MomentsState.Clone()) { NullCount = NullCount };
}

/// <summary>A categorical feature's exact count per value (at most <see cref="DriftProfile.MaxCategories"/> values, then "other").</summary>
public sealed class CategoricalDistribution : FeatureDistribution
{
    private readonly Dictionary<string, long> _counts;
    private long _valid;

    internal CategoricalDistribution(string name, Dictionary<string, long>? counts = null)
        : base(name) => _counts = counts ?? new Dictionary<string, long>(StringComparer.Ordinal);

    /// <summary>Count per value.</summary>
    public IReadOnlyDictionary<string, long> Counts => _counts;

    /// <inheritdoc />
    public override long ValidCount => _valid;

    internal void Add(string value, long count)
    {
        if (!_counts.ContainsKey(value) && _counts.Count >= DriftProfile.MaxCategories)
        {
            value = DriftProfile.OtherValue;
        }

        _counts[value] = checked(_counts.GetValueOrDefault(value) + count);
        _valid = checked(_valid + count);
    }

    internal override void Merge(FeatureDistribution other)
    {
        foreach (var (value, count) in ((CategoricalDistribution)other)._counts)
        {
            Add(value, count);
        }

        NullCount = checked(NullCount + other.NullCount);
    }

    internal override FeatureDistribution Clone()
    {
        var copy = new CategoricalDistribution(Name, new Dictionary<string, long>(_counts, StringComparer.Ordinal)) { NullCount = NullCount };
        copy._valid = _valid;
        return copy;
    }
}
