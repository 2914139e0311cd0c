using System.Runtime.CompilerServices;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Serving;

namespace Strata.Monitoring.Skew;

/// <summary>What a skew check decided for a feature (or for all of them).</summary>
public enum SkewStatus
{
    /// <summary>Served and offline values agree within the threshold.</summary>
    NoSkew,
    /// <summary>More served values differ from the offline store's than the threshold allows.</summary>
    Skewed,
    /// <summary>Too few comparable rows (no entity keys, no served value, no offline value) to decide: never read as "no skew".</summary>
    InsufficientData,
}

/// <summary>Tolerances and thresholds of a skew check; every threshold can be set per feature.</summary>
public sealed record SkewOptions
{
    /// <summary>The share of mismatched rows above which a feature is skewed (default 1%).</summary>
    public double MaxMismatchShare { get; init; } = 0.01;

    /// <summary>Per-feature overrides of <see cref="MaxMismatchShare"/>, by feature name.</summary>
    public IReadOnlyDictionary<string, double> Thresholds { get; init; } = new Dictionary<string, double>();

    /// <summary>Numbers differing by at most this share of the larger magnitude are equal.</summary>
    public double RelativeTolerance { get; init; } = 1e-6;

    /// <summary>Numbers differing by at most this much are equal.</summary>
    public double AbsoluteTolerance { get; init; } = 1e-9;

    /// <summary>Fewer compared rows (matched in the offline store) than this is "insufficient data".</summary>
    public int MinRows { get; init; } = 1;

    /// <summary>Rows read at most (a bound on memory); later rows are not compared.</summary>
    public int MaxRows { get; init; } = 200_000;

    /// <summary>The mismatch share that makes <paramref name="feature"/> skewed: its own (by name or view:feature), else the default.</summary>
    public double ThresholdOf(FeatureReference feature) => Thresholds.TryGetValue(feature.Feature, out var own) || Thresholds.TryGetValue(feature.ToString(), out own) ? own : MaxMismatchShare;

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.ArgumentInvalid"/>, naming the setting and its value.</exception>
    public void Validate()
    {
        static StrataException Invalid(string field, object value, string rule) =>
            new(ErrorCodes.ArgumentInvalid, $"field 'skew.{field}': {Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)} {rule}");
        if (!(MaxMismatchShare is >= 0 and <= 1))
        {
            throw Invalid("threshold", MaxMismatchShare, "must be a share between 0 and 1");
        }

        foreach (var (name, value) in Thresholds)
        {
            if (!(value is >= 0 and <= 1))
            {
                throw Invalid($"features.{name}", value, "must be a share between 0 and 1");
            }
        }

        if (!(RelativeTolerance is >= 0 and < 1) || !(AbsoluteTolerance >= 0 && double.IsFinite(AbsoluteTolerance)))
        {
            throw Invalid("tolerance", $"{RelativeTolerance} / {AbsoluteTolerance}", "must be a relative tolerance in [0, 1) and a finite absolute tolerance ≥ 0");
        }

        if (MinRows is < 1 or > MaxRowsLimit)
        {
            throw Invalid("min_rows", MinRows, $"must be within [1, {MaxRowsLimit}]");
        }

        if (MaxRows < MinRows || MaxRows > MaxRowsLimit)
        {
            throw Invalid("max_rows", MaxRows, $"must be within [min_rows, {MaxRowsLimit}]");
        }
    }

    /// <summary>The largest sample a skew check may hold (rows per comparison).</summary>
    public const int MaxRowsLimit = 1_000_000;
}

/// <summary>How one feature's served values compare with the offline store's at the same entities and times.</summary>
/// <param name="Feature">The feature (<c>view:feature</c>).</param>
/// <param name="RowsCompared">Rows with entity keys, a served value and an offline value (or null on both sides).</param>
/// <param name="Mismatched">Rows whose values differ (a null against a value counts).</param>
/// <param name="MismatchShare">Mismatched / compared (0 when none compared).</param>
/// <param name="MeanAbsoluteDifference">Mean |served − offline| over rows where both are numbers (null if none).</param>
/// <param name="Threshold">The mismatch share that decides <see cref="SkewStatus.Skewed"/>.</param>
/// <param name="Status">The decision.</param>
public sealed record FeatureSkew(string Feature, int RowsCompared, int Mismatched, double MismatchShare, double? MeanAbsoluteDifference, double Threshold, SkewStatus Status)
{
    /// <summary>Rows whose served value the offline store had no value for at that entity and time (not compared).</summary>
    public int Unmatched { get; init; }
}

/// <summary>A training–serving skew check's result, in the shape monitor results and reports store.</summary>
/// <param name="Records">Prediction-log records read.</param>
/// <param name="Rows">Input rows read.</param>
/// <param name="RowsWithoutKeys">Rows lacking an entity key (not compared).</param>
/// <param name="Features">Per feature, in the order asked.</param>
public sealed record SkewResult(int Records, int Rows, int RowsWithoutKeys, IReadOnlyList<FeatureSkew> Features)
{
    /// <summary>Asked features not compared: on-demand ones (computed alike online and offline from stored inputs).</summary>
    public IReadOnlyList<string> NotCompared { get; init; } = [];

    /// <summary>Skewed if any feature is; insufficient data if no feature could be decided.</summary>
    public SkewStatus Status => Features.Any(f => f.Status == SkewStatus.Skewed) ? SkewStatus.Skewed
        : Features.Count == 0 || Features.All(f => f.Status == SkewStatus.InsufficientData) ? SkewStatus.InsufficientData
        : SkewStatus.NoSkew;
}

/// <summary>
/// Training–serving skew: the feature values an endpoint was served (its prediction log's inputs) against the offline
/// store's point-in-time values for the same entities at the same times, which is what a training set would have held.
/// </summary>
public static class TrainingServingSkew
{
    /// <summary>Checks the records of one endpoint in the prediction log folder answered in [from, to) (UTC microseconds).</summary>
    public static async Task<SkewResult> CheckAsync(
        FeatureStore store, IReadOnlyList<FeatureReference> features, string predictionLogFolder, string endpoint,
        long from = 0, long to = long.MaxValue, SkewOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(endpoint);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(features);
        options ??= new SkewOptions();
        var (compared, onDemand) = Split(store, features);
        var sample = new SkewSample(store, compared, options.MaxRows);
        await foreach (var record in ReadAsync(predictionLogFolder, endpoint, from, to, cancellationToken).ConfigureAwait(false))
        {
            if (sample.Full)
            {
                break;
            }

            sample.Add(record);
        }

        return await ResultAsync(store, sample, onDemand, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Checks prediction-log records whose rows hold the entity keys and the served feature values.</summary>
    /// <exception cref="StrataException">A feature the store does not define (not found).</exception>
    public static async Task<SkewResult> CheckAsync(
        FeatureStore store, IReadOnlyList<FeatureReference> features, IEnumerable<PredictionRecord> records,
        SkewOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(records);
        options ??= new SkewOptions();
        var (compared, onDemand) = Split(store, features);
        var sample = new SkewSample(store, compared, options.MaxRows);
        foreach (var record in records)
        {
            if (sample.Full)
            {
                break;
            }

            sample.Add(record);
        }

        return await ResultAsync(store, sample, onDemand, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The features a skew check compares and those it leaves out: on-demand features are computed from stored ones by
    /// the same expression online and offline, so their inputs are compared instead.
    /// </summary>
    internal static (FeatureReference[] Compared, FeatureReference[] OnDemand) Split(FeatureStore store, IReadOnlyList<FeatureReference> features)
    {
        var onDemand = features.Where(f => store.Repository.OnDemandViews.Any(v => v.Name == f.View)).ToArray();
        return (features.Except(onDemand).ToArray(), onDemand);
    }

    /// <summary>The sample's comparison as a result.</summary>
    internal static async Task<SkewResult> ResultAsync(FeatureStore store, SkewSample sample, IReadOnlyList<FeatureReference> onDemand, SkewOptions options, CancellationToken cancellationToken)
    {
        var features = await sample.CompareAsync(store, options, cancellationToken).ConfigureAwait(false);
        return new SkewResult(sample.Records, sample.Rows, sample.RowsWithoutKeys, features) { NotCompared = onDemand.Select(f => f.ToString()).ToArray() };
    }

    private static async IAsyncEnumerable<PredictionRecord> ReadAsync(string folder, string endpoint, long from, long to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var record in PredictionLogReader.ReadAsync(folder, from, cancellationToken).ConfigureAwait(false))
        {
            if (record.Endpoint == endpoint && record.Time >= from && record.Time < to)
            {
                yield return record;
            }
        }
    }
}
