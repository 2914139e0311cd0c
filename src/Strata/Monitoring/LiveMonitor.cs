using Strata.Monitoring.Drift;
using Strata.Monitoring.Quality;
using Strata.Monitoring.Skew;
using Strata.Stores;

namespace Strata.Monitoring;

/// <summary>What one <see cref="LiveMonitor.TickAsync"/> did.</summary>
/// <param name="ClosedUntil">Windows ending at or before this time (UTC microseconds) are now evaluated.</param>
/// <param name="Rows">Served rows read from the log.</param>
/// <param name="Late">Rows of windows already evaluated (logged out of order), left out.</param>
/// <param name="Unreferenced">Rows of model versions that have no reference profile, left out.</param>
/// <param name="Results">The results stored.</param>
public sealed record LiveMonitorTick(long ClosedUntil, long Rows, long Late, long Unreferenced, IReadOnlyList<MonitorResult> Results)
{
    /// <summary>Windows ending at or before this time (UTC microseconds) have their quality evaluated.</summary>
    public long QualityUntil { get; init; }

    /// <summary>Labels read for the windows whose quality this tick evaluated.</summary>
    public long Labels { get; init; }

    /// <summary>Labels that arrived after their window's quality was evaluated (counted once, reported, never folded in).</summary>
    public long LateLabels { get; init; }

    /// <summary>The alerts the results fired (written to the outbox with them).</summary>
    public IReadOnlyList<AlertEvent> Alerts { get; init; } = [];

    /// <summary>
    /// Segments of the log this tick found deleted by the log's retention before the monitor read them (counted once:
    /// the stored position moves past them); the results of the windows it evaluated say so in their details.
    /// </summary>
    public PredictionLogMissed Missed { get; init; } = PredictionLogMissed.None;
}

/// <summary>
/// Runs a declared monitor on its endpoint's prediction log without anyone asking: each tick reads the records of the
/// windows that have closed (up to now minus a grace for segments still open), profiles them per window and model version,
/// compares each with that version's reference profile, and evaluates the quality of the windows whose labels had time to
/// arrive (window end plus the spec's label delay). It stores the results, the log position, the quality position and
/// the alerts they fire (the outbox) in one transaction, so a restart neither loses nor double-counts a window nor an alert.
/// </summary>
/// <remarks>
/// Only closed windows are read, so nothing but the current tick's windows is held in memory and nothing needs saving
/// between ticks but the positions. A record that turns up after its window was evaluated (logged out of order) is late
/// and counted, never folded into a second, partial result for that window. Likewise a label that arrives after its
/// window's quality was evaluated: labels carry a commit-ordered sequence, the evaluation remembers the newest it saw,
/// and later ones for evaluated windows are counted as late exactly once. Segments the log's retention deleted before
/// the monitor read them (it lagged, or was down) are counted once (<see cref="LiveMonitorTick.Missed"/>) and named in
/// the details of every result the tick's read evaluated (<see cref="MissedKey"/>): a segment's name does not tell
/// which windows its records were in, so none of those windows can be trusted to be whole.
/// </remarks>
public sealed class LiveMonitor
{
    private readonly string _project;
    private readonly MonitorSpec _spec;
    private readonly string _logFolder;
    private readonly IMetadataStore _metadata;
    private readonly Func<int?, CancellationToken, Task<DriftProfile?>> _references;
    private readonly AlertOutbox? _alerts;
    private readonly Func<CancellationToken, Task>? _closeOpenSegment;
    private readonly SkewBaseline? _skew;

    /// <summary>
    /// Creates a monitor over the log folder <paramref name="logFolder"/>. <paramref name="references"/> returns the
    /// reference profile stored with a version of the spec's model (null: none), or for a null version the newest one.
    /// Fired alerts go to the store's outbox; <paramref name="alerts"/> (when given) is woken to deliver them after the
    /// commit. <paramref name="closeOpenSegment"/> (the serving runtime's log flush) runs before a due window is read, so
    /// its records still in the segment being written become readable. <paramref name="skew"/> is what a skew check
    /// compares with (required when the spec checks skew).
    /// </summary>
    public LiveMonitor(
        string project, MonitorSpec spec, string logFolder, IMetadataStore metadata, Func<int?, CancellationToken, Task<DriftProfile?>> references,
        AlertOutbox? alerts, Func<CancellationToken, Task>? closeOpenSegment = null, SkewBaseline? skew = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrEmpty(logFolder);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(references);
        Names.Check("project", project);
        spec.Validate();
        _project = project;
        _spec = spec;
        _logFolder = logFolder;
        _metadata = metadata;
        _references = references;
        _alerts = alerts;
        _closeOpenSegment = closeOpenSegment;
        _skew = skew;
    }

    /// <summary>
    /// The member of a result's details (a JSON object) that says what its read found deleted unread:
    /// <c>{"segments": 3, "bytes": 1536, "message": "3 segments (1,536 bytes) of predictions were deleted by retention before this monitor read them"}</c>.
    /// </summary>
    public const string MissedKey = "missed_predictions";

    /// <summary>The monitor.</summary>
    public MonitorSpec Spec => _spec;

    /// <summary>The project of its endpoint.</summary>
    public string Project => _project;

    /// <summary>
    /// Evaluates the windows that closed by <paramref name="now"/> minus <paramref name="grace"/> (UTC microseconds) and
    /// not yet evaluated, and the quality of those that closed by then minus the label delay; a no-op when none did.
    /// </summary>
    /// <exception cref="StrataException">The spec does not fit the reference (a monitored feature it lacks).</exception>
    public async Task<LiveMonitorTick> TickAsync(long now, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        var window = _spec.WindowMicros;
        var state = await _metadata.MonitorState.GetFeedStateAsync(_project, _spec.Endpoint, _spec.Name, cancellationToken).ConfigureAwait(false)
            ?? new MonitorFeedState(null, 0, 0);
        // Drift and skew read the served rows of closed windows (the log pass); quality waits for its labels.
        var readsLog = _spec.Checks.Any(c => c is MonitorChecks.DataDrift or MonitorChecks.PredictionDrift or MonitorChecks.Skew);
        var until = WindowedQuality.FloorDiv(now - (grace.Ticks / 10), window) * window;
        var qualityUntil = WindowedQuality.FloorDiv(now - ((grace + _spec.EffectiveLabelDelay).Ticks / 10), window) * window;
        var driftDue = readsLog && until > state.ClosedUntil;
        var qualityDue = _spec.Checks.Contains(MonitorChecks.Quality) && qualityUntil > state.QualityUntil;
        if (!driftDue && !qualityDue)
        {
            return new LiveMonitorTick(state.ClosedUntil, 0, 0, 0, []) { QualityUntil = state.QualityUntil };
        }

        var results = new List<MonitorResult>();
        var next = state;
        var drift = new DriftPass(0, 0, 0, PredictionLogMissed.None);
        if (driftDue)
        {
            (drift, var position) = await DriftAsync(state, until, results, cancellationToken).ConfigureAwait(false);
            next = position.Into(next) with { ClosedUntil = until };
        }

        var quality = new QualityPass(state.QualityUntil, state.LabelSequence, 0, 0);
        if (qualityDue)
        {
            quality = await QualityAsync(state, qualityUntil, results, cancellationToken).ConfigureAwait(false);
            next = next with { QualityUntil = quality.Until, LabelSequence = quality.Sequence, LateLabels = state.LateLabels + quality.Late };
        }

        var fired = await AlertsAsync(results, cancellationToken).ConfigureAwait(false);
        await _metadata.MonitorState.SaveWindowsAsync(
            _project, _spec.Endpoint, _spec.Name, results, next, [.. fired.SelectMany(a => AlertOutbox.Entries(_project, _spec, a))], new Actor("monitor"), cancellationToken)
            .ConfigureAwait(false);
        if (fired.Count > 0)
        {
            _alerts?.Wake();
        }

        return new LiveMonitorTick(next.ClosedUntil, drift.Rows, drift.Late, drift.Unreferenced, results)
        {
            QualityUntil = next.QualityUntil, Labels = quality.Labels, LateLabels = quality.Late, Alerts = fired, Missed = drift.Missed,
        };
    }

    /// <summary>Reads the log up to <paramref name="until"/> and adds the drift results of the windows it closes.</summary>
    private async Task<(DriftPass Pass, PredictionLogPosition Position)> DriftAsync(MonitorFeedState state, long until, List<MonitorResult> results, CancellationToken cancellationToken)
    {
        if (_closeOpenSegment is not null)
        {
            await _closeOpenSegment(cancellationToken).ConfigureAwait(false);
        }

        var newest = await _references(null, cancellationToken).ConfigureAwait(false);
        var feed = new PredictionLogFeed(_logFolder, _spec.Endpoint, _spec.PredictionColumn, newest?.Layout, PredictionLogPosition.Of(state));
        var runners = new Dictionary<int, MonitorRunner?>();
        long rows = 0, late = 0, unreferenced = 0;
        await foreach (var batch in feed.ReadAsync(PredictionLogFeed.DefaultBatchRows, until, cancellationToken).ConfigureAwait(false))
        {
            rows += batch.RowCount;
            var times = (Column<long>)batch[MonitorRunner.TimestampColumn];
            var versions = (Column<int>)batch[MonitorRunner.VersionColumn];
            var byVersion = new Dictionary<int, List<int>>();
            for (var i = 0; i < batch.RowCount; i++)
            {
                if (times[i] < state.ClosedUntil)
                {
                    late++;
                    continue;
                }

                var version = versions.IsNull(i) ? 0 : versions[i];
                if (!byVersion.TryGetValue(version, out var list))
                {
                    byVersion[version] = list = [];
                }

                list.Add(i);
            }

            foreach (var (version, list) in byVersion)
            {
                if (!runners.TryGetValue(version, out var runner))
                {
                    var reference = MonitorRunner.ReferenceOrNone(_spec, await _references(version, cancellationToken).ConfigureAwait(false));
                    runners[version] = runner = reference is null ? null : new MonitorRunner(_project, _spec, reference, _metadata.Monitoring, skew: _skew);
                }

                if (runner is null)
                {
                    unreferenced += list.Count;
                    continue;
                }

                runner.Add(list.Count == batch.RowCount ? batch : batch.Take(list.ToArray()));
            }
        }

        foreach (var runner in runners.Values.OfType<MonitorRunner>())
        {
            var closed = await runner.CloseAsync(until, cancellationToken).ConfigureAwait(false);
            results.AddRange(feed.Missed.Segments > 0 ? closed.Select(r => WithMissed(r, feed.Missed)) : closed);
        }

        return (new DriftPass(rows, late, unreferenced, feed.Missed), feed.Position);
    }

    /// <summary><paramref name="result"/> with <see cref="MissedKey"/> in its details (kept as they are when they are not a JSON object).</summary>
    internal static MonitorResult WithMissed(MonitorResult result, PredictionLogMissed missed)
    {
        System.Text.Json.Nodes.JsonObject details;
        try
        {
            details = result.Details is null ? [] : System.Text.Json.Nodes.JsonNode.Parse(result.Details) as System.Text.Json.Nodes.JsonObject ?? throw new FormatException();
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException)
        {
            return result;
        }

        details[MissedKey] = new System.Text.Json.Nodes.JsonObject
        {
            ["segments"] = missed.Segments,
            ["bytes"] = missed.Bytes,
            ["message"] = missed.ToString(),
        };
        return result with { Details = details.ToJsonString() };
    }

    /// <summary>
    /// Evaluates the quality of the windows in [state's quality position, <paramref name="until"/>) from the labels
    /// stored so far (up to the newest sequence, read first), and counts the labels that arrived since the last
    /// evaluation for windows it had already evaluated as late.
    /// </summary>
    private async Task<QualityPass> QualityAsync(MonitorFeedState state, long until, List<MonitorResult> results, CancellationToken cancellationToken)
    {
        var store = _metadata.MonitorState;
        var window = _spec.WindowMicros;

        // NOTE: the store's writes are serialized, so every label up to this sequence is committed and visible: reading
        // only those makes "seen by this evaluation" exact, and anything after it is counted late next time.
        var sequence = await store.GetLabelSequenceAsync(_project, _spec.Endpoint, cancellationToken).ConfigureAwait(false);
        var late = sequence > state.LabelSequence && state.QualityUntil > 0
            ? await store.CountLabeledAsync(_project, _spec.Endpoint, state.QualityUntil, state.LabelSequence, sequence, cancellationToken).ConfigureAwait(false)
            : 0;
        var from = state.QualityUntil;
        long labels = 0;
        while (from < until)
        {
            var rows = await store.ListLabeledAsync(_project, _spec.Endpoint, from, until, sequence, QualityPageRows, cancellationToken).ConfigureAwait(false);
            var full = rows.Count == QualityPageRows;
            var windows = rows.GroupBy(r => WindowedQuality.FloorDiv(r.Time, window) * window).ToList();

            // A full page may end inside a window: that window is read again from its start next time, unless it is the
            // only one (more labels in one window than a page holds: it is evaluated on the page's labels).
            var complete = full && windows.Count > 1 ? windows.SkipLast(1).ToList() : windows;
            foreach (var group in complete)
            {
                var task = group.First().Classifier ? QualityTask.Binary : QualityTask.Regression;
                var pairs = Pairs(group, task);
                labels += pairs.Count;
                results.AddRange(WindowedQuality.Results(_spec, group.Key, pairs, task));

                // NOTE: the window before is read again (labels up to the same sequence) rather than kept, so the detectors
                // see the same stream whether or not it was evaluated in this tick.
                var previous = await store.ListLabeledAsync(_project, _spec.Endpoint, group.Key - window, group.Key, sequence, QualityPageRows, cancellationToken)
                    .ConfigureAwait(false);
                results.AddRange(WindowedQuality.ChangeResults(_spec, group.Key, Pairs(previous, task), pairs, task));
            }

            from = !full ? until : complete.Count < windows.Count ? windows[^1].Key : windows[^1].Key + window;
            if (results.Count >= MaxResultsPerTick)
            {
                break; // NOTE: the rest next tick; the position says where this one stopped.
            }
        }

        return new QualityPass(Math.Min(from, until), sequence, labels, late);
    }

    /// <summary>The (score, label) pairs of labelled requests answered like <paramref name="task"/> says, in serving order.</summary>
    private static List<LabeledPrediction> Pairs(IEnumerable<LabeledRequest> rows, QualityTask task) =>
        [.. rows.Where(r => r.Score is not null && r.Classifier == (task == QualityTask.Binary)).Select(r => new LabeledPrediction(r.Time, r.Score!.Value, r.Label))];

    /// <summary>The alerts the new results fire, read against the monitor's stored history.</summary>
    private async Task<IReadOnlyList<AlertEvent>> AlertsAsync(List<MonitorResult> results, CancellationToken cancellationToken)
    {
        if (results.Count == 0 || _spec.Alerts.Count == 0)
        {
            return [];
        }

        var depth = _spec.Alerts.Max(a => a.ConsecutiveWindows);
        var first = results.Min(r => r.WindowStart);
        var history = await _metadata.Monitoring.ListResultsAsync(
            _project, new MonitorResultQuery(_spec.Endpoint, From: first - (depth * _spec.WindowMicros), Monitor: _spec.Name), cancellationToken).ConfigureAwait(false);
        return AlertDispatcher.Fired(_spec, history, results);
    }

    /// <summary>Labelled requests read per query.</summary>
    private const int QualityPageRows = 200_000;

    /// <summary>Results stored per tick at most (the store takes 10,000 per save); the remaining windows wait for the next tick.</summary>
    private const int MaxResultsPerTick = 5000;

    private readonly record struct DriftPass(long Rows, long Late, long Unreferenced, PredictionLogMissed Missed);

    private readonly record struct QualityPass(long Until, long Sequence, long Labels, long Late);
}
