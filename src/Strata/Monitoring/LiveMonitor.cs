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
public sealed record LiveMonitorTick(long ClosedUntil, long Rows, long Late, long Unreferenced, IReadOnlyList<MonitorResult> Results);

/// <summary>
/// Runs a declared monitor on its endpoint's prediction log without anyone asking: each tick reads the records of the
/// windows that have closed (up to now minus a grace for segments still open), profiles them per window and model version,
/// compares each with that version's reference profile, and stores the results together with the log position in one
/// transaction, so a restart neither loses nor double-counts a window. Then it evaluates the alert rules.
/// </summary>
/// <remarks>
/// Only closed windows are read, so nothing but the current tick's windows is held in memory and nothing needs saving
/// between ticks but the position. A record that turns up after its window was evaluated (logged out of order) is late
/// and counted, never folded into a second, partial result for that window.
/// </remarks>
public sealed class LiveMonitor
{
    private readonly string _project;
    private readonly MonitorSpec _spec;
    private readonly string _logFolder;
    private readonly IMetadataStore _metadata;
    private readonly Func<int?, CancellationToken, Task<DriftProfile?>> _references;
    private readonly AlertDispatcher? _alerts;
    private readonly Func<CancellationToken, Task>? _closeOpenSegment;
    private readonly SkewBaseline? _skew;

    /// <summary>
    /// Creates a monitor over the log folder <paramref name="logFolder"/>. <paramref name="references"/> returns the
    /// reference profile stored with a version of the spec's model (null: none), or for a null version the newest one.
    /// <paramref name="closeOpenSegment"/> (the serving runtime's log flush) runs before a due window is read, so its
    /// records still in the segment being written become readable. <paramref name="skew"/> is what a skew check compares
    /// with (required when the spec checks skew).
    /// </summary>
    public LiveMonitor(
        string project, MonitorSpec spec, string logFolder, IMetadataStore metadata, Func<int?, CancellationToken, Task<DriftProfile?>> references,
        AlertDispatcher? alerts, Func<CancellationToken, Task>? closeOpenSegment = null, SkewBaseline? skew = null)
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

    /// <summary>The monitor.</summary>
    public MonitorSpec Spec => _spec;

    /// <summary>The project of its endpoint.</summary>
    public string Project => _project;

    /// <summary>
    /// Evaluates the windows that closed by <paramref name="now"/> minus <paramref name="grace"/> (UTC microseconds) and
    /// not yet evaluated; a no-op when none did.
    /// </summary>
    /// <exception cref="StrataException">The spec does not fit the reference (a monitored feature it lacks).</exception>
    public async Task<LiveMonitorTick> TickAsync(long now, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        var window = _spec.WindowMicros;
        var state = await _metadata.MonitorState.GetFeedStateAsync(_project, _spec.Endpoint, _spec.Name, cancellationToken).ConfigureAwait(false)
            ?? new MonitorFeedState(null, 0, 0);
        var until = WindowedQuality.FloorDiv(now - (grace.Ticks / 10), window) * window;
        if (until <= state.ClosedUntil)
        {
            return new LiveMonitorTick(state.ClosedUntil, 0, 0, 0, []);
        }

        if (_closeOpenSegment is not null)
        {
            await _closeOpenSegment(cancellationToken).ConfigureAwait(false);
        }

        var newest = await _references(null, cancellationToken).ConfigureAwait(false);
        var feed = new PredictionLogFeed(_logFolder, _spec.Endpoint, _spec.PredictionColumn, newest?.Layout, new PredictionLogPosition(state.Segment, state.Records));
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
                    runners[version] = runner = reference is null ? null : new MonitorRunner(_project, _spec, reference, _metadata.Monitoring, _alerts, _skew);
                }

                if (runner is null)
                {
                    unreferenced += list.Count;
                    continue;
                }

                runner.Add(list.Count == batch.RowCount ? batch : batch.Take(list.ToArray()));
            }
        }

        var results = new List<MonitorResult>();
        foreach (var runner in runners.Values.OfType<MonitorRunner>())
        {
            results.AddRange(await runner.CloseAsync(until, cancellationToken).ConfigureAwait(false));
        }

        var position = feed.Position;
        await _metadata.MonitorState.SaveWindowsAsync(
            _project, _spec.Endpoint, _spec.Name, results, new MonitorFeedState(position.Segment, position.Records, until), new Actor("monitor"), cancellationToken)
            .ConfigureAwait(false);
        if (runners.Values.OfType<MonitorRunner>().FirstOrDefault() is { } any)
        {
            await any.FireAlertsAsync(results, cancellationToken).ConfigureAwait(false);
        }

        return new LiveMonitorTick(until, rows, late, unreferenced, results);
    }
}
