using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Monitoring.Drift;
using Strata.Monitoring.Quality;
using Strata.Monitoring.Skew;
using Strata.Stores;

namespace Strata.Monitoring;

/// <summary>
/// Runs one monitor: builds a drift profile per tumbling window and model version, incrementally, from batches of served
/// records; evaluates closed windows against the reference; stores the results; and fires the alert rules.
/// </summary>
/// <remarks>
/// A served-record batch is a table with <c>timestamp</c> (timestamp), <c>model_version</c> (int), optionally
/// <c>endpoint</c> (string; rows of other endpoints are skipped) and <c>request_id</c>, the input features, and the
/// prediction column. The adapter from the serving stratum's prediction log plugs in here as an
/// <see cref="IAsyncEnumerable{T}"/> of such batches. Memory is one drift profile per open window, whatever the traffic.
/// </remarks>
public sealed class MonitorRunner
{
    /// <summary>Column of the serving time.</summary>
    public const string TimestampColumn = "timestamp";

    /// <summary>Column of the model version that served the row.</summary>
    public const string VersionColumn = "model_version";

    /// <summary>Column of the endpoint.</summary>
    public const string EndpointColumn = "endpoint";

    private readonly string _project;
    private readonly MonitorSpec _spec;
    private readonly DriftProfile _reference;
    private readonly DriftProfile? _predictionReference;
    private readonly IMonitorResultStore _store;
    private readonly AlertDispatcher? _alerts;
    private readonly SortedDictionary<(long Start, int Version), DriftProfileBuilder> _windows = [];
    private readonly SortedDictionary<(long Start, int Version), DriftProfileBuilder> _predictionWindows = [];
    private readonly SortedDictionary<long, List<LabeledPrediction>> _labels = [];
    private readonly SkewBaseline? _skew;
    private readonly SortedDictionary<(long Start, int Version), SkewSample> _skewWindows = [];

    /// <summary>
    /// Creates a runner. <paramref name="reference"/> is the model version's reference drift profile (training data, with
    /// the prediction column when prediction drift is checked). <paramref name="skew"/> is what the skew check compares
    /// with (see <see cref="SkewBaseline.Create"/>), required when the spec checks skew.
    /// </summary>
    /// <exception cref="StrataException">A monitored feature the reference lacks (<see cref="ErrorCodes.NotFound"/>), an
    /// invalid spec, or a skew check without <paramref name="skew"/> (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public MonitorRunner(string project, MonitorSpec spec, DriftProfile reference, IMonitorResultStore store, AlertDispatcher? alerts = null, SkewBaseline? skew = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(store);
        Names.Check("project", project);
        spec.Validate();
        _project = project;
        _spec = spec;
        _store = store;
        _alerts = alerts;
        if (spec.Checks.Contains(MonitorChecks.Skew))
        {
            _skew = skew ?? throw new StrataException(
                ErrorCodes.ArgumentInvalid, $"monitor '{spec.Name}' checks skew, but no feature store and feature service were given to compare served values with");
        }

        var features = spec.Features.Count > 0
            ? spec.Features
            : [.. reference.Layout.Features.Select(f => f.Name).Where(n => n != spec.PredictionColumn)];
        _reference = reference.Select(features);
        foreach (var name in spec.Drift.Features.Keys)
        {
            if (_reference.Layout.IndexOf(name) < 0 && name != spec.PredictionColumn)
            {
                throw new StrataException(ErrorCodes.NotFound, $"monitor '{spec.Name}' sets options for feature '{name}', which it does not monitor");
            }
        }

        if (spec.Checks.Contains(MonitorChecks.PredictionDrift))
        {
            _predictionReference = reference.Layout.IndexOf(spec.PredictionColumn) >= 0
                ? reference.Select([spec.PredictionColumn])
                : throw new StrataException(
                    ErrorCodes.NotFound, $"monitor '{spec.Name}' checks prediction drift, but the reference has no '{spec.PredictionColumn}' column");
        }
    }

    /// <summary>The monitor.</summary>
    public MonitorSpec Spec => _spec;

    /// <summary>
    /// <paramref name="reference"/>, or for a monitor whose checks need none (skew, which reads the offline store) an empty
    /// one; null when a drift check needs a reference that is missing.
    /// </summary>
    internal static DriftProfile? ReferenceOrNone(MonitorSpec spec, DriftProfile? reference) =>
        reference ?? (spec.Checks.All(c => c == MonitorChecks.Skew) && spec.Features.Count == 0 && spec.Drift.Features.Count == 0
            ? DriftProfile.Empty(new DriftLayout([]))
            : null);

    /// <summary>The features tested for data drift.</summary>
    public IReadOnlyList<string> Features => [.. _reference.Layout.Features.Select(f => f.Name)];

    /// <summary>Adds a batch of served records to the profiles of their windows.</summary>
    /// <exception cref="StrataException">A required column is missing or has the wrong type (<see cref="ErrorCodes.SchemaInvalid"/>
    /// or <see cref="ErrorCodes.NotFound"/>).</exception>
    public void Add(Table batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.RowCount == 0)
        {
            return;
        }

        var times = Required<long>(batch, TimestampColumn, DataType.Timestamp);
        var versions = Versions(batch);
        var endpoints = batch.Schema.Contains(EndpointColumn) ? batch.GetStringColumn(EndpointColumn) : null;
        var groups = new Dictionary<(long, int), List<int>>();
        for (var i = 0; i < batch.RowCount; i++)
        {
            if (times.IsNull(i) || (endpoints is not null && endpoints[i] != _spec.Endpoint))
            {
                continue;
            }

            var key = (WindowedQuality.FloorDiv(times[i], _spec.WindowMicros) * _spec.WindowMicros, versions[i]);
            if (!groups.TryGetValue(key, out var rows))
            {
                groups[key] = rows = [];
            }

            rows.Add(i);
        }

        foreach (var (key, rows) in groups)
        {
            var part = rows.Count == batch.RowCount ? batch : batch.Take(rows.ToArray());
            Builder(_windows, key, _reference.Layout).Add(part);
            if (_skew is not null)
            {
                if (!_skewWindows.TryGetValue(key, out var sample))
                {
                    _skewWindows[key] = sample = _skew.NewSample(_spec.Skew);
                }

                sample.Add(batch, rows, times);
            }
            if (_predictionReference is not null)
            {
                Builder(_predictionWindows, key, _predictionReference.Layout).Add(part);
            }
        }
    }

    /// <summary>Adds every batch of a stream of served records.</summary>
    public async Task AddAsync(IAsyncEnumerable<Table> batches, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batches);
        await foreach (var batch in batches.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            Add(batch);
        }
    }

    /// <summary>Adds predictions whose labels arrived (feedback), for the quality check.</summary>
    public void AddLabels(IEnumerable<LabeledPrediction> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        foreach (var pair in pairs)
        {
            var start = WindowedQuality.FloorDiv(pair.TimestampMicros, _spec.WindowMicros) * _spec.WindowMicros;
            if (!_labels.TryGetValue(start, out var list))
            {
                _labels[start] = list = [];
            }

            list.Add(pair);
        }
    }

    /// <summary>
    /// The drift profile of every version's served inputs over [<paramref name="from"/>, <paramref name="to"/>), merged
    /// from the window profiles still held (longer spans without going back to the records).
    /// </summary>
    public DriftProfile Profile(long from, long to)
    {
        var result = DriftProfile.Empty(_reference.Layout);
        foreach (var ((start, _), builder) in _windows)
        {
            if (start >= from && start < to)
            {
                result = result.Merge(builder.Build());
            }
        }

        return result;
    }

    /// <summary>
    /// Evaluates the windows that end at or before <paramref name="until"/> (UTC microseconds), stores their results,
    /// forgets their profiles and queues the alerts they fire; returns the results.
    /// </summary>
    public async Task<IReadOnlyList<MonitorResult>> EvaluateAsync(long until, Actor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var results = await CloseAsync(until, cancellationToken).ConfigureAwait(false);
        if (results.Count == 0)
        {
            return results;
        }

        await _store.SaveResultsAsync(_project, results, actor, cancellationToken).ConfigureAwait(false);
        await FireAlertsAsync(results, cancellationToken).ConfigureAwait(false);
        return results;
    }

    /// <summary>
    /// Like <see cref="Close"/>, and also compares the closed windows' served feature values with the offline store (the
    /// skew check, one point-in-time join per window and model version).
    /// </summary>
    public async Task<IReadOnlyList<MonitorResult>> CloseAsync(long until, CancellationToken cancellationToken = default)
    {
        var results = new List<MonitorResult>(Close(until));
        foreach (var key in _skewWindows.Keys.Where(k => k.Start + _spec.WindowMicros <= until).ToList())
        {
            _skewWindows.Remove(key, out var sample);
            var skew = await TrainingServingSkew.ResultAsync(_skew!.Store, sample!, _skew.OnDemand, _spec.Skew, cancellationToken).ConfigureAwait(false);
            results.Add(SkewResults.Result(_spec, key.Version, key.Start, skew));
        }

        return results;
    }

    /// <summary>
    /// Evaluates the windows that end at or before <paramref name="until"/> and forgets their profiles, without storing
    /// anything: for callers that store the results together with other state (the server's feed position). The skew
    /// check needs the offline store, so only <see cref="CloseAsync"/> runs it.
    /// </summary>
    public IReadOnlyList<MonitorResult> Close(long until)
    {
        var results = new List<MonitorResult>();
        var window = _spec.WindowMicros;
        foreach (var key in _windows.Keys.Where(k => k.Start + window <= until).ToList())
        {
            var (start, version) = key;
            var current = _windows[key].Build();
            _windows.Remove(key);
            if (_spec.Checks.Contains(MonitorChecks.DataDrift))
            {
                var drift = DriftDetector.Compare(_reference, current, _spec.Drift with { Features = Only(_spec.Drift.Features, _reference.Layout) });
                results.Add(new MonitorResult(
                    _spec.Name, _spec.Endpoint, _spec.Model, version, start, start + window, MonitorChecks.DataDrift, StatusName(drift.Status),
                    drift.Status == DriftStatus.InsufficientData ? null : drift.DriftShare, current.RowCount, Details(drift, _reference, current)));
            }

            if (_predictionReference is not null && _predictionWindows.Remove(key, out var predictions))
            {
                var prediction = DriftDetector.Compare(
                    _predictionReference, predictions.Build(), _spec.Drift with { Features = Only(_spec.Drift.Features, _predictionReference.Layout) });
                var feature = prediction.Features[0];
                results.Add(new MonitorResult(
                    _spec.Name, _spec.Endpoint, _spec.Model, version, start, start + window, MonitorChecks.PredictionDrift, StatusName(feature.Status),
                    double.IsNaN(feature.Score) ? null : feature.Score, current.RowCount, Details(prediction, _predictionReference, predictions.Build())));
            }
        }

        if (_spec.Checks.Contains(MonitorChecks.Quality))
        {
            foreach (var start in _labels.Keys.Where(s => s + window <= until).ToList())
            {
                var pairs = _labels[start];
                _labels.Remove(start);
                var status = pairs.Count < _spec.Drift.MinimumSampleSize ? "insufficient_data" : "ok";
                foreach (var (metric, value) in WindowedQuality.Metrics(pairs, QualityTask.Binary))
                {
                    results.Add(new MonitorResult(
                        _spec.Name, _spec.Endpoint, _spec.Model, 0, start, start + window, $"{MonitorChecks.Quality}.{metric}", status,
                        status == "ok" ? value : null, pairs.Count, null));
                }
            }
        }

        return results;
    }

    /// <summary>Queues the alerts that stored <paramref name="results"/> of this monitor fire (reading the history before them).</summary>
    public async Task FireAlertsAsync(IReadOnlyList<MonitorResult> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (results.Count > 0 && _alerts is not null && _spec.Alerts.Count > 0)
        {
            var window = _spec.WindowMicros;
            var depth = _spec.Alerts.Max(a => a.ConsecutiveWindows);
            var first = results.Min(r => r.WindowStart);
            var history = await _store.ListResultsAsync(
                _project, new MonitorResultQuery(_spec.Endpoint, From: first - (depth * window), Monitor: _spec.Name), cancellationToken).ConfigureAwait(false);
            foreach (var start in results.Select(r => r.WindowStart).Distinct().Order())
            {
                foreach (var alert in AlertDispatcher.Evaluate(_spec, [.. history.Where(r => r.WindowStart <= start)]))
                {
                    if (alert.WindowStart == start)
                    {
                        _alerts.Enqueue(_project, _spec, alert);
                    }
                }
            }
        }
    }

    /// <summary>The status as stored: drift, no_drift, insufficient_data.</summary>
    public static string StatusName(DriftStatus status) => status switch
    {
        DriftStatus.Drift => "drift",
        DriftStatus.NoDrift => "no_drift",
        _ => "insufficient_data",
    };

    /// <summary>Per-feature results and report histograms of a drift comparison, as the JSON stored with a result.</summary>
    public static string Details(DatasetDrift drift, DriftProfile reference, DriftProfile current)
    {
        ArgumentNullException.ThrowIfNull(drift);
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        var features = new List<FeatureDetails>();
        for (var i = 0; i < drift.Features.Count; i++)
        {
            var f = drift.Features[i];
            var (labels, r, c) = ReportHistogram(reference.Distributions[i], current.Distributions[i]);
            features.Add(new FeatureDetails
            {
                Feature = f.Feature,
                Method = f.Method.ToString(),
                Score = double.IsFinite(f.Score) ? f.Score : null,
                PValue = f.PValue,
                Threshold = f.Threshold,
                Status = StatusName(f.Status),
                ReferenceCount = f.ReferenceCount,
                CurrentCount = f.CurrentCount,
                Bins = labels,
                Reference = r,
                Current = c,
            });
        }

        var details = new DriftDetails { DriftShare = drift.DriftShare, Drifted = drift.DriftedCount, Tested = drift.TestedCount, Features = features };
        return JsonSerializer.Serialize(details, MonitorJson.Default.DriftDetails);
    }

    /// <summary>Reads the JSON written by <see cref="Details"/>.</summary>
    internal static DriftDetails? ReadDetails(string? json) => MonitorJson.TryRead(json, MonitorJson.Default.DriftDetails);

    /// <summary>
    /// About 20 equal-width bins between the reference's extremes for a numeric feature (each fine bin goes where its
    /// middle falls; values outside go to the end bins), or the 20 most frequent reference values for a categorical one.
    /// </summary>
    internal static (List<string> Labels, List<double> Reference, List<double> Current) ReportHistogram(FeatureDistribution reference, FeatureDistribution current)
    {
        const int Bars = 20;
        var labels = new List<string>();
        var r = new List<double>();
        var c = new List<double>();
        if (reference is NumericDistribution rn && current is NumericDistribution cn)
        {
            var edges = rn.Histogram.Edges;
            if (edges.Count < 2)
            {
                return (labels, r, c);
            }

            // NOTE: bars span the reference's 0.5%–99.5% quantile edges, so a long tail does not squeeze the body into one
            // bar; values beyond go to the end bars.
            var tail = edges.Count / 200;
            var lo = edges[tail];
            var width = (edges[edges.Count - 1 - tail] - lo) / Bars;
            if (!(width > 0))
            {
                lo = edges[0];
                width = (edges[^1] - lo) / Bars;
            }

            var rs = new double[Bars];
            var cs = new double[Bars];
            for (var i = 0; i < rn.Histogram.Counts.Count; i++)
            {
                var middle = i == 0 ? lo : i == edges.Count ? edges[^1] : (edges[i - 1] + edges[i]) / 2;
                var bar = Math.Clamp((int)((middle - lo) / width), 0, Bars - 1);
                rs[bar] += rn.ValidCount == 0 ? 0 : (double)rn.Histogram.Counts[i] / rn.ValidCount;
                cs[bar] += cn.ValidCount == 0 ? 0 : (double)cn.Histogram.Counts[i] / cn.ValidCount;
            }

            for (var b = 0; b < Bars; b++)
            {
                labels.Add((lo + (b * width)).ToString("G4", CultureInfo.InvariantCulture));
            }

            return (labels, [.. rs], [.. cs]);
        }

        var rc = (CategoricalDistribution)reference;
        var cc = (CategoricalDistribution)current;
        foreach (var (value, count) in rc.Counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(Bars))
        {
            labels.Add(value == DriftProfile.OtherValue ? "(other)" : value);
            r.Add(rc.ValidCount == 0 ? 0 : (double)count / rc.ValidCount);
            c.Add(cc.ValidCount == 0 ? 0 : (double)cc.Counts.GetValueOrDefault(value) / cc.ValidCount);
        }

        return (labels, r, c);
    }

    private static Dictionary<string, FeatureDriftOptions> Only(IReadOnlyDictionary<string, FeatureDriftOptions> options, DriftLayout layout) =>
        options.Where(p => layout.IndexOf(p.Key) >= 0).ToDictionary(p => p.Key, p => p.Value);

    private static DriftProfileBuilder Builder(SortedDictionary<(long, int), DriftProfileBuilder> windows, (long, int) key, DriftLayout layout)
    {
        if (!windows.TryGetValue(key, out var builder))
        {
            windows[key] = builder = new DriftProfileBuilder(layout);
        }

        return builder;
    }

    private static Column<T> Required<T>(Table batch, string name, DataType type)
        where T : unmanaged
    {
        if (!batch.Schema.Contains(name))
        {
            throw new StrataException(ErrorCodes.NotFound, $"served records need a '{name}' column (columns: {string.Join(", ", batch.Schema.Names)})");
        }

        return batch[name] is Column<T> column && column.Type == type
            ? column
            : throw new StrataException(ErrorCodes.SchemaInvalid, $"served records' '{name}' column must be {type.Name()}, not {batch[name].Type.Name()}");
    }

    private static int[] Versions(Table batch)
    {
        var result = new int[batch.RowCount];
        if (!batch.Schema.Contains(VersionColumn))
        {
            return result;
        }

        switch (batch[VersionColumn])
        {
            case Column<int> c:
                for (var i = 0; i < result.Length; i++)
                {
                    result[i] = c.IsNull(i) ? 0 : c[i];
                }

                break;
            case Column<long> c when c.Type == DataType.Int64:
                for (var i = 0; i < result.Length; i++)
                {
                    result[i] = c.IsNull(i) ? 0 : checked((int)c[i]);
                }

                break;
            default:
                throw new StrataException(ErrorCodes.SchemaInvalid, $"served records' '{VersionColumn}' column must be an integer");
        }

        return result;
    }
}

/// <summary>The JSON stored with a drift result.</summary>
internal sealed class DriftDetails
{
    public double DriftShare { get; init; }

    public int Drifted { get; init; }

    public int Tested { get; init; }

    public List<FeatureDetails> Features { get; init; } = [];
}

/// <summary>One feature in <see cref="DriftDetails"/>.</summary>
internal sealed class FeatureDetails
{
    public string Feature { get; init; } = "";

    public string Method { get; init; } = "";

    public double? Score { get; init; }

    public double? PValue { get; init; }

    public double Threshold { get; init; }

    public string Status { get; init; } = "";

    public long ReferenceCount { get; init; }

    public long CurrentCount { get; init; }

    public List<string> Bins { get; init; } = [];

    public List<double> Reference { get; init; } = [];

    public List<double> Current { get; init; } = [];
}

/// <summary>JSON of monitoring details.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(DriftDetails))]
[JsonSerializable(typeof(SkewDetails))]
internal sealed partial class MonitorJson : JsonSerializerContext
{
    /// <summary>Details stored with a result, or null when absent or not of this shape.</summary>
    public static T? TryRead<T>(string? json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(json, type);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
