using System.Text.Json;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Stores;

namespace Strata.Monitoring.Skew;

/// <summary>
/// What a monitor's skew check compares served values with: the project's feature store (its offline store, embedded or
/// PostgreSQL) and the features of the endpoint's feature service. Checked once, when the monitor is set up.
/// </summary>
public sealed class SkewBaseline
{
    private SkewBaseline(FeatureStore store, FeatureReference[] compared, FeatureReference[] onDemand, string service)
    {
        Store = store;
        Compared = compared;
        OnDemand = onDemand;
        Service = service;
    }

    /// <summary>The feature store whose offline store holds the values a training set would have read.</summary>
    public FeatureStore Store { get; }

    /// <summary>The stored features compared.</summary>
    public IReadOnlyList<FeatureReference> Compared { get; }

    /// <summary>The service's on-demand features, not compared (computed alike online and offline from the compared ones).</summary>
    public IReadOnlyList<FeatureReference> OnDemand { get; }

    /// <summary>The feature service.</summary>
    public string Service { get; }

    /// <summary>
    /// The baseline of <paramref name="spec"/>'s skew check: the features of its <c>skew.service</c>, else of
    /// <paramref name="endpointService"/> (the service the endpoint enriches from).
    /// </summary>
    /// <exception cref="StrataException">No feature service (<see cref="ErrorCodes.ArgumentInvalid"/>); an unknown service
    /// (<see cref="ErrorCodes.NotFound"/>); a per-feature threshold for a feature the service does not compare, or a service
    /// of on-demand features only (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public static SkewBaseline Create(FeatureStore store, MonitorSpec spec, string? endpointService)
    {
        ArgumentNullException.ThrowIfNull(store);
        var service = ServiceOf(spec, endpointService);
        var (compared, onDemand) = TrainingServingSkew.Split(store, store.Resolve(null, service));
        if (compared.Length == 0)
        {
            throw new StrataException(
                ErrorCodes.ArgumentInvalid, $"monitor '{spec.Name}': feature service '{service}' has only on-demand features, so there are no stored values to compare");
        }

        foreach (var name in spec.Skew.Thresholds.Keys)
        {
            if (!compared.Any(f => f.Feature == name || f.ToString() == name))
            {
                throw new StrataException(
                    ErrorCodes.ArgumentInvalid,
                    $"field 'skew.features.{name}': monitor '{spec.Name}' sets a skew threshold for feature '{name}', which feature service '{service}' does not compare (features: {string.Join(", ", compared.Select(f => f.ToString()))})");
            }
        }

        return new SkewBaseline(store, compared, onDemand, service);
    }

    /// <summary>The feature service a skew check compares: the spec's <c>skew.service</c>, else the endpoint's.</summary>
    /// <exception cref="StrataException">Neither is set (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public static string ServiceOf(MonitorSpec spec, string? endpointService)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.SkewService ?? endpointService ?? throw new StrataException(
            ErrorCodes.ArgumentInvalid,
            $"monitor '{spec.Name}' checks skew, but endpoint '{spec.Endpoint}' has no feature service to compare with: enrich the endpoint from a feature service or set skew.service");
    }

    internal SkewSample NewSample(SkewOptions options) => new(Store, Compared, options.MaxRows);
}

/// <summary>Turns skew comparisons into monitor results and reads them back.</summary>
public static class SkewResults
{
    /// <summary>The status as stored and printed: skewed, no_skew, insufficient_data.</summary>
    public static string StatusName(SkewStatus status) => status switch
    {
        SkewStatus.Skewed => "skewed",
        SkewStatus.NoSkew => "no_skew",
        _ => "insufficient_data",
    };

    /// <summary>
    /// The score stored with a skew result: the largest mismatch share among the features that could be decided; null
    /// when none could (insufficient data).
    /// </summary>
    public static double? Score(SkewResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var decided = result.Features.Where(f => f.Status != SkewStatus.InsufficientData).ToList();
        return decided.Count == 0 ? null : decided.Max(f => f.MismatchShare);
    }

    /// <summary>The per-feature comparison as the JSON stored with a result.</summary>
    public static string Details(SkewResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var details = new SkewDetails
        {
            Records = result.Records,
            Rows = result.Rows,
            RowsWithoutKeys = result.RowsWithoutKeys,
            NotCompared = [.. result.NotCompared],
            Skewed = [.. result.Features.Where(f => f.Status == SkewStatus.Skewed).Select(f => f.Feature)],
            Features = [.. result.Features.Select(f => new FeatureSkewDetails
            {
                Feature = f.Feature,
                RowsCompared = f.RowsCompared,
                Mismatched = f.Mismatched,
                Unmatched = f.Unmatched,
                MismatchShare = f.MismatchShare,
                MeanAbsoluteDifference = f.MeanAbsoluteDifference,
                Threshold = f.Threshold,
                Status = StatusName(f.Status),
            })],
        };
        return JsonSerializer.Serialize(details, MonitorJson.Default.SkewDetails);
    }

    /// <summary>Reads the JSON written by <see cref="Details"/>; null when absent or not skew details.</summary>
    internal static SkewDetails? ReadDetails(string? json) => MonitorJson.TryRead(json, MonitorJson.Default.SkewDetails);

    /// <summary>One window's skew result.</summary>
    internal static MonitorResult Result(MonitorSpec spec, int version, long start, SkewResult skew) => new(
        spec.Name, spec.Endpoint, spec.Model, version, start, start + spec.WindowMicros, MonitorChecks.Skew, StatusName(skew.Status),
        skew.Status == SkewStatus.InsufficientData ? null : Score(skew), skew.Rows, Details(skew));
}

/// <summary>The JSON stored with a skew result.</summary>
internal sealed class SkewDetails
{
    public int Records { get; init; }

    public int Rows { get; init; }

    public int RowsWithoutKeys { get; init; }

    public List<string> NotCompared { get; init; } = [];

    public List<string> Skewed { get; init; } = [];

    public List<FeatureSkewDetails> Features { get; init; } = [];
}

/// <summary>One feature in <see cref="SkewDetails"/>.</summary>
internal sealed class FeatureSkewDetails
{
    public string Feature { get; init; } = "";

    public int RowsCompared { get; init; }

    public int Mismatched { get; init; }

    public int Unmatched { get; init; }

    public double MismatchShare { get; init; }

    public double? MeanAbsoluteDifference { get; init; }

    public double Threshold { get; init; }

    public string Status { get; init; } = "";
}
