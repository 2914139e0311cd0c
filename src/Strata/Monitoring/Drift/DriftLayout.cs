using Strata.Data.Profiling;

namespace Strata.Monitoring.Drift;

/// <summary>How a feature's distribution is kept for drift: binned on fixed edges (numeric) or counted per value (categorical).</summary>
public enum DriftFeatureKind
{
    /// <summary>Int32, Int64, Float32, Float64 or Timestamp (as UTC microseconds): exact counts on fixed edges.</summary>
    Numeric,

    /// <summary>String or Bool: exact counts per value.</summary>
    Categorical,
}

/// <summary>One feature of a <see cref="DriftLayout"/>.</summary>
/// <param name="Name">Column name.</param>
/// <param name="Kind">Numeric or categorical.</param>
/// <param name="Edges">The numeric feature's interior bin edges (reference quantiles); empty for categorical.</param>
public sealed record DriftFeature(string Name, DriftFeatureKind Kind, IReadOnlyList<double> Edges);

/// <summary>
/// The features a drift profile keeps and, for numeric ones, the bin edges: taken once from the reference's quantile
/// sketch, then shared by the reference and every window so their counts compare (and merge) exactly.
/// </summary>
public sealed class DriftLayout
{
    /// <summary>Default number of fine bins per numeric feature (reference quantiles at every 0.1%).</summary>
    public const int DefaultFineBins = 1000;

    /// <summary>The most features a layout may hold.</summary>
    public const int MaxFeatures = 10_000;

    private readonly Dictionary<string, int> _index;

    /// <summary>Creates a layout of <paramref name="features"/> (distinct names).</summary>
    /// <exception cref="StrataException">Duplicate names, too many features (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public DriftLayout(IReadOnlyList<DriftFeature> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Count > MaxFeatures)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"a drift layout takes at most {MaxFeatures} features, not {features.Count}");
        }

        Features = [.. features];
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Features.Count; i++)
        {
            if (!_index.TryAdd(Features[i].Name, i))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature '{Features[i].Name}' appears twice in the drift layout");
            }
        }
    }

    /// <summary>The features in order.</summary>
    public IReadOnlyList<DriftFeature> Features { get; }

    /// <summary>The position of a feature, or −1.</summary>
    public int IndexOf(string name) => _index.TryGetValue(name, out var i) ? i : -1;

    /// <summary>
    /// A layout for the columns of a reference profile (all columns, or <paramref name="features"/>): numeric edges at
    /// the reference's quantiles i/<paramref name="fineBins"/> (duplicates dropped, so a discrete feature gets a bin per
    /// value); string and bool columns are categorical. PII columns cannot be monitored.
    /// </summary>
    /// <exception cref="StrataException">An unknown feature (<see cref="ErrorCodes.NotFound"/>), a PII feature
    /// (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public static DriftLayout FromProfile(TableProfile reference, IEnumerable<string>? features = null, int fineBins = DefaultFineBins)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentOutOfRangeException.ThrowIfLessThan(fineBins, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fineBins, FixedBinHistogram.MaxEdges - 1);
        var names = features?.ToList() ?? [.. reference.Columns.Select(c => c.Name)];
        var result = new List<DriftFeature>(names.Count);
        foreach (var name in names)
        {
            if (!reference.TryGetColumn(name, out var column))
            {
                throw new StrataException(
                    ErrorCodes.NotFound,
                    $"feature '{name}' is not in the reference (columns: {string.Join(", ", reference.Columns.Select(c => c.Name))})");
            }

            if (column.IsPii)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature '{name}' is PII: its reference holds no values to monitor drift against");
            }

            result.Add(column switch
            {
                NumericColumnProfile numeric => new DriftFeature(name, DriftFeatureKind.Numeric, QuantileEdges(numeric, fineBins)),
                _ => new DriftFeature(name, DriftFeatureKind.Categorical, []),
            });
        }

        return new DriftLayout(result);
    }

    private static double[] QuantileEdges(NumericColumnProfile column, int bins) => column.HasValues ? QuantileEdges(column.Sketch!, bins) : [];

    /// <summary>Distinct finite quantiles i/<paramref name="bins"/> of a sketch.</summary>
    internal static double[] QuantileEdges(KllSketch sketch, int bins)
    {
        if (sketch.IsEmpty)
        {
            return [];
        }

        var fractions = new double[bins + 1];
        for (var i = 0; i <= bins; i++)
        {
            fractions[i] = (double)i / bins;
        }

        var quantiles = sketch.Quantiles(fractions);
        var edges = new List<double>(quantiles.Length);
        foreach (var q in quantiles)
        {
            if (double.IsFinite(q) && (edges.Count == 0 || q > edges[^1]))
            {
                edges.Add(q);
            }
        }

        return [.. edges];
    }
}
