using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
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
    /// <summary>Too few comparable rows (no entity keys, no served value) to decide: never read as "no skew".</summary>
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

    /// <summary>Fewer compared rows than this is "insufficient data".</summary>
    public int MinRows { get; init; } = 1;

    /// <summary>Rows read at most (a bound on memory); later rows are not compared.</summary>
    public int MaxRows { get; init; } = 200_000;
}

/// <summary>How one feature's served values compare with the offline store's at the same entities and times.</summary>
/// <param name="Feature">The feature (<c>view:feature</c>).</param>
/// <param name="RowsCompared">Rows with entity keys and a served value.</param>
/// <param name="Mismatched">Rows whose values differ (a null against a value counts).</param>
/// <param name="MismatchShare">Mismatched / compared (0 when none compared).</param>
/// <param name="MeanAbsoluteDifference">Mean |served − offline| over rows where both are numbers (null if none).</param>
/// <param name="Threshold">The mismatch share that decides <see cref="SkewStatus.Skewed"/>.</param>
/// <param name="Status">The decision.</param>
public sealed record FeatureSkew(string Feature, int RowsCompared, int Mismatched, double MismatchShare, double? MeanAbsoluteDifference, double Threshold, SkewStatus Status);

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
        var records = new List<PredictionRecord>();
        await foreach (var record in ReadAsync(predictionLogFolder, endpoint, from, to, cancellationToken).ConfigureAwait(false))
        {
            records.Add(record);
        }

        return await CheckAsync(store, features, records, options, cancellationToken).ConfigureAwait(false);
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

        // On-demand features are computed from stored ones by the same expression online and offline: their inputs are compared.
        var onDemand = features.Where(f => store.Repository.OnDemandViews.Any(v => v.Name == f.View)).ToArray();
        features = features.Except(onDemand).ToArray();

        var keys = features.SelectMany(f => store.JoinKeys(f.View)).DistinctBy(k => k.Name).ToArray();
        var builders = keys.Select(k => ColumnBuilder.Create(k.Type)).ToArray();
        var times = ColumnBuilder.Create(DataType.Timestamp);
        var served = new List<IReadOnlyDictionary<string, JsonElement>>();
        int recordCount = 0, rowCount = 0, withoutKeys = 0;
        foreach (var record in records)
        {
            if (rowCount == options.MaxRows)
            {
                break;
            }

            recordCount++;
            foreach (var row in record.Rows)
            {
                if (rowCount == options.MaxRows)
                {
                    break;
                }

                rowCount++;
                var values = new object?[keys.Length];
                var complete = true;
                for (var k = 0; k < keys.Length && complete; k++)
                {
                    complete = row.Inputs.TryGetValue(keys[k].Name, out var element) && TryKey(element, keys[k].Type, out values[k]);
                }

                if (!complete)
                {
                    withoutKeys++;
                    continue;
                }

                for (var k = 0; k < keys.Length; k++)
                {
                    builders[k].AppendObject(values[k]);
                }

                times.AppendObject(record.Time);
                served.Add(row.Inputs);
            }
        }

        Table? offline = null;
        if (served.Count > 0)
        {
            var entities = Table.From([.. keys.Select((k, i) => (k.Name, builders[i].Build())), (TimestampColumn, times.Build())]);
            offline = await store.GetHistoricalFeaturesAsync(entities, TimestampColumn, features, fullFeatureNames: true, cancellationToken).ConfigureAwait(false);
        }

        var results = features.Select(f => Compare(f, served, offline, options)).ToArray();
        return new SkewResult(recordCount, rowCount, withoutKeys, results) { NotCompared = onDemand.Select(f => f.ToString()).ToArray() };
    }

    private const string TimestampColumn = "__strata_served_at";

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

    private static FeatureSkew Compare(FeatureReference feature, List<IReadOnlyDictionary<string, JsonElement>> served, Table? offline, SkewOptions options)
    {
        var name = feature.ToString();
        var threshold = options.Thresholds.TryGetValue(feature.Feature, out var own) || options.Thresholds.TryGetValue(name, out own) ? own : options.MaxMismatchShare;
        int compared = 0, mismatched = 0, numeric = 0;
        var absolute = 0.0;
        if (offline is not null)
        {
            var column = offline[$"{feature.View}__{feature.Feature}"];
            for (var r = 0; r < served.Count; r++)
            {
                if (!served[r].TryGetValue(feature.Feature, out var value) && !served[r].TryGetValue($"{feature.View}__{feature.Feature}", out value))
                {
                    continue; // not served in this row: nothing to compare
                }

                compared++;
                var stored = column.GetValue(r);
                var servedNull = value.ValueKind == JsonValueKind.Null;
                if (servedNull || stored is null)
                {
                    mismatched += servedNull && stored is null ? 0 : 1;
                    continue;
                }

                if (value.ValueKind == JsonValueKind.Number && stored is IConvertible convertible && stored is not string and not bool)
                {
                    var a = value.GetDouble();
                    var b = convertible.ToDouble(CultureInfo.InvariantCulture);
                    var difference = Math.Abs(a - b);
                    numeric++;
                    absolute += difference;
                    if (difference > options.AbsoluteTolerance && difference > options.RelativeTolerance * Math.Max(Math.Abs(a), Math.Abs(b)))
                    {
                        mismatched++;
                    }
                }
                else if (!string.Equals(Text(value), Convert.ToString(stored, CultureInfo.InvariantCulture), StringComparison.Ordinal))
                {
                    mismatched++;
                }
            }
        }

        var share = compared == 0 ? 0 : mismatched / (double)compared;
        var status = compared < Math.Max(1, options.MinRows) ? SkewStatus.InsufficientData : share > threshold ? SkewStatus.Skewed : SkewStatus.NoSkew;
        return new FeatureSkew(name, compared, mismatched, share, numeric == 0 ? null : absolute / numeric, threshold, status);
    }

    private static string? Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.True => "True",
        JsonValueKind.False => "False",
        _ => value.GetRawText(),
    };

    private static bool TryKey(JsonElement element, DataType type, out object? value)
    {
        value = null;
        switch (type)
        {
            case DataType.Int64 when element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var l):
                value = l;
                return true;
            case DataType.Int32 when element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var i):
                value = i;
                return true;
            case DataType.String when element.ValueKind == JsonValueKind.String:
                value = element.GetString();
                return value is not null;
            default:
                return false;
        }
    }
}
