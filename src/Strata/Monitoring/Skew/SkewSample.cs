using System.Globalization;
using System.Text.Json;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Serving;

namespace Strata.Monitoring.Skew;

/// <summary>
/// The served rows one skew comparison reads (at most a bound, for memory): each row's entity keys, serving time and
/// served values of the compared features, gathered from prediction-log records or from a monitor's served-record
/// batches, then compared in one point-in-time join against the offline store.
/// </summary>
internal sealed class SkewSample
{
    // NOTE: a feature the row did not carry at all (or carried masked) is not compared; a served null is.
    private static readonly object NotServed = new();

    private readonly FeatureReference[] _features;
    private readonly Field[] _keys;
    private readonly ColumnBuilder[] _builders;
    private readonly ColumnBuilder _times = ColumnBuilder.Create(DataType.Timestamp);
    private readonly List<object?[]> _served = [];
    private readonly int _maxRows;
    private string? _lastRequest;

    /// <summary>A sample of <paramref name="features"/> (stored ones: feature or aggregation views) keyed as <paramref name="store"/> keys them.</summary>
    public SkewSample(FeatureStore store, IReadOnlyList<FeatureReference> features, int maxRows)
    {
        _features = [.. features];
        _keys = [.. _features.SelectMany(f => store.JoinKeys(f.View)).DistinctBy(k => k.Name)];
        _builders = [.. _keys.Select(k => ColumnBuilder.Create(k.Type))];
        _maxRows = maxRows;
    }

    /// <summary>Records (requests) read.</summary>
    public int Records { get; private set; }

    /// <summary>Rows read.</summary>
    public int Rows { get; private set; }

    /// <summary>Rows lacking an entity key (not compared).</summary>
    public int RowsWithoutKeys { get; private set; }

    /// <summary>Whether the bound is reached (later rows are not read).</summary>
    public bool Full => Rows >= _maxRows;

    /// <summary>Adds a logged record's rows, up to the bound.</summary>
    public void Add(PredictionRecord record)
    {
        if (Full)
        {
            return;
        }

        Records++;
        foreach (var row in record.Rows)
        {
            if (Full)
            {
                return;
            }

            Rows++;
            var keys = new object?[_keys.Length];
            var complete = true;
            for (var k = 0; k < _keys.Length && complete; k++)
            {
                complete = row.Inputs.TryGetValue(_keys[k].Name, out var element)
                    && TryKey(element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var whole) ? whole : Value(element), _keys[k].Type, out keys[k]);
            }

            if (!complete)
            {
                RowsWithoutKeys++;
                continue;
            }

            var served = new object?[_features.Length];
            for (var f = 0; f < _features.Length; f++)
            {
                served[f] = row.Inputs.TryGetValue(_features[f].Feature, out var value) || row.Inputs.TryGetValue(_features[f].ToFullName(), out value)
                    ? Value(value)
                    : NotServed;
            }

            Append(keys, record.Time, served);
        }
    }

    /// <summary>
    /// Adds rows of a served-record batch (the monitor's shape: input fields as columns; a field missing from the batch is
    /// not compared, a null in a present column is a served null), up to the bound.
    /// </summary>
    public void Add(Table batch, IReadOnlyList<int> rows, Column<long> times)
    {
        var keyColumns = _keys.Select(k => batch.Schema.Contains(k.Name) ? batch[k.Name] : null).ToArray();
        var featureColumns = _features.Select(f => batch.Schema.Contains(f.Feature) ? batch[f.Feature] : batch.Schema.Contains(f.ToFullName()) ? batch[f.ToFullName()] : null).ToArray();
        var requests = batch.Schema.Contains(PredictionLogFeed.RequestIdColumn) && batch[PredictionLogFeed.RequestIdColumn].Type == DataType.String
            ? batch.GetStringColumn(PredictionLogFeed.RequestIdColumn)
            : null;
        foreach (var r in rows)
        {
            if (Full)
            {
                return;
            }

            // NOTE: a record's rows are consecutive in a batch, so a change of request id starts the next record.
            var request = requests?[r];
            if (request is null || request != _lastRequest)
            {
                Records++;
                _lastRequest = request;
            }

            Rows++;
            var keys = new object?[_keys.Length];
            var complete = true;
            for (var k = 0; k < _keys.Length && complete; k++)
            {
                complete = keyColumns[k] is { } column && TryKey(column.GetValue(r), _keys[k].Type, out keys[k]);
            }

            if (!complete)
            {
                RowsWithoutKeys++;
                continue;
            }

            var served = new object?[_features.Length];
            for (var f = 0; f < _features.Length; f++)
            {
                served[f] = featureColumns[f] is { } column ? Normalize(column.GetValue(r)) : NotServed;
            }

            Append(keys, times[r], served);
        }
    }

    /// <summary>
    /// Compares every feature's served values with the offline store's at the same entities and times. A served value
    /// the offline store has no value for is unmatched (counted, not compared): with too few compared rows a feature is
    /// insufficient data, never "no skew".
    /// </summary>
    public async Task<IReadOnlyList<FeatureSkew>> CompareAsync(FeatureStore store, SkewOptions options, CancellationToken cancellationToken)
    {
        Table? offline = null;
        if (_served.Count > 0)
        {
            var entities = Table.From([.. _keys.Select((k, i) => (k.Name, _builders[i].Build())), (TimestampColumn, _times.Build())]);
            offline = await store.GetHistoricalFeaturesAsync(entities, TimestampColumn, _features, fullFeatureNames: true, cancellationToken).ConfigureAwait(false);
        }

        return [.. _features.Select((f, i) => Compare(f, i, offline, options))];
    }

    private const string TimestampColumn = "__strata_served_at";

    private void Append(object?[] keys, long time, object?[] served)
    {
        for (var k = 0; k < keys.Length; k++)
        {
            _builders[k].AppendObject(keys[k]);
        }

        _times.AppendObject(time);
        _served.Add(served);
    }

    private FeatureSkew Compare(FeatureReference feature, int index, Table? offline, SkewOptions options)
    {
        var name = feature.ToString();
        var threshold = options.ThresholdOf(feature);
        int compared = 0, mismatched = 0, unmatched = 0, numeric = 0;
        var absolute = 0.0;
        if (offline is not null)
        {
            var column = offline[feature.ToFullName()];
            for (var r = 0; r < _served.Count; r++)
            {
                var served = _served[r][index];
                if (ReferenceEquals(served, NotServed))
                {
                    continue;
                }

                var stored = column.GetValue(r);
                if (stored is null)
                {
                    if (served is null)
                    {
                        compared++;
                    }
                    else
                    {
                        unmatched++;
                    }

                    continue;
                }

                compared++;
                if (served is null)
                {
                    mismatched++;
                }
                else if (served is double a && stored is IConvertible convertible and not string and not bool)
                {
                    var b = convertible.ToDouble(CultureInfo.InvariantCulture);
                    var difference = Math.Abs(a - b);
                    numeric++;
                    absolute += difference;
                    if (difference > options.AbsoluteTolerance && difference > options.RelativeTolerance * Math.Max(Math.Abs(a), Math.Abs(b)))
                    {
                        mismatched++;
                    }
                }
                else if (!string.Equals(Text(served), Convert.ToString(stored, CultureInfo.InvariantCulture), StringComparison.Ordinal))
                {
                    mismatched++;
                }
            }
        }

        var share = compared == 0 ? 0 : mismatched / (double)compared;
        var status = compared < Math.Max(1, options.MinRows) ? SkewStatus.InsufficientData : share > threshold ? SkewStatus.Skewed : SkewStatus.NoSkew;
        return new FeatureSkew(name, compared, mismatched, share, numeric == 0 ? null : absolute / numeric, threshold, status) { Unmatched = unmatched };
    }

    /// <summary>A logged JSON value as a number, text, true/false or null; masked values are not served values.</summary>
    private static object? Value(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => value.GetString() == PredictionLog.Mask ? NotServed : value.GetString(),
        _ => value.GetRawText(),
    };

    /// <summary>A batch cell the same way: numbers as double.</summary>
    private static object? Normalize(object? value) => value switch
    {
        null or string or bool or double => value,
        IConvertible number => number.ToDouble(CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static string? Text(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    /// <summary>An entity key of the view's type: integers from whole numbers, text as is.</summary>
    private static bool TryKey(object? value, DataType type, out object? key)
    {
        key = null;
        switch (type)
        {
            case DataType.Int64 when value is double d && d == Math.Floor(d) && Math.Abs(d) < 9.007199254740992e15:
                key = (long)d;
                return true;
            case DataType.Int64 when value is long l:
                key = l;
                return true;
            case DataType.Int32 when value is double d && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue:
                key = (int)d;
                return true;
            case DataType.Int32 when value is int or long && Convert.ToInt64(value, CultureInfo.InvariantCulture) is >= int.MinValue and <= int.MaxValue:
                key = Convert.ToInt32(value, CultureInfo.InvariantCulture);
                return true;
            case DataType.String when value is string s:
                key = s;
                return true;
            default:
                return false;
        }
    }
}
