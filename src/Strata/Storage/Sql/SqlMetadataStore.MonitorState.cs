using Strata.Stores;

namespace Strata.Storage.Sql;

// Monitors declared through the API, the server's feed positions and the served-request index (migration 7).
internal sealed partial class SqlMetadataStore
{
    private const int MaxMonitorDefinition = 1 << 20;
    private const int MaxIndexedPerSave = 100_000;
    private const int MaxLookups = 10_000;

    async Task<MonitorFeedState?> IMonitorStateStore.GetFeedStateAsync(string project, string endpoint, string monitor, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        var row = await ReadAsync(db => db.First<FeedRow>(
            "SELECT segment AS Segment, records AS Records, closed_until AS ClosedUntil, quality_until AS QualityUntil, label_sequence AS LabelSequence, " +
            "late_labels AS LateLabels, segment_floor AS SegmentFloor, read_segments AS ReadSegments FROM monitor_feeds WHERE project = @project AND endpoint = @endpoint AND monitor = @monitor",
            new { project, endpoint, monitor }), cancellationToken).ConfigureAwait(false);
        return row is null ? null : new MonitorFeedState(
            row.Segment, row.Records, row.ClosedUntil, row.QualityUntil, row.LabelSequence, row.LateLabels, row.SegmentFloor, row.ReadSegments);
    }

    Task IMonitorStateStore.SaveWindowsAsync(
        string project, string endpoint, string monitor, IReadOnlyList<MonitorResult> results, MonitorFeedState state, Actor actor, CancellationToken cancellationToken) =>
        ((IMonitorStateStore)this).SaveWindowsAsync(project, endpoint, monitor, results, state, [], actor, cancellationToken);

    async Task IMonitorStateStore.SaveWindowsAsync(
        string project, string endpoint, string monitor, IReadOnlyList<MonitorResult> results, MonitorFeedState state, IReadOnlyList<OutboxAlert> alerts, Actor actor,
        CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        Names.Check("monitor", monitor);
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(alerts);
        CheckResults(results);
        CheckAlerts(alerts);

        // NOTE: results, position and the alerts they fire commit together: a crash before the commit re-reads the same
        // records and closes the same windows again; after it, the records are never read again and the alerts are in the
        // outbox, delivered after a restart if not before.
        await WriteIfChangedAsync(actor, "monitor.results", project, $"{endpoint}/{monitor}", async db =>
        {
            await InsertResultsAsync(db, project, results).ConfigureAwait(false);
            await SaveFeedAsync(db, project, endpoint, monitor, state).ConfigureAwait(false);
            await InsertAlertsAsync(db, alerts).ConfigureAwait(false);
            return (true, $"results={results.Count} alerts={alerts.Count} closed_until={state.ClosedUntil} quality_until={state.QualityUntil}", true);
        }, cancellationToken, audit: results.Count > 0 || alerts.Count > 0).ConfigureAwait(false);
    }

    async Task IMonitorStateStore.PutMonitorAsync(string project, StoredMonitor monitor, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        ArgumentNullException.ThrowIfNull(monitor);
        Names.Check("endpoint", monitor.Endpoint);
        Names.Check("monitor", monitor.Name);
        CheckText("definition", monitor.Definition, MaxMonitorDefinition);
        await WriteAsync(actor, "monitor.put", project, $"{monitor.Endpoint}/{monitor.Name}", async db =>
        {
            await db.Execute(
                "INSERT INTO monitor_specs (project, endpoint, name, definition, updated_at, updated_by) VALUES (@project, @Endpoint, @Name, @Definition, @now, @principal) " +
                "ON CONFLICT (project, endpoint, name) DO UPDATE SET definition = @Definition, updated_at = @now, updated_by = @principal",
                new { project, monitor.Endpoint, monitor.Name, monitor.Definition, now = Now(), principal = actor.Principal }).ConfigureAwait(false);
            return (true, (string?)null);
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<IReadOnlyList<(string Project, StoredMonitor Monitor)>> IMonitorStateStore.ListMonitorsAsync(string? project, string? endpoint, CancellationToken cancellationToken)
    {
        if (project is not null)
        {
            Names.Check("project", project);
        }

        var rows = await ReadAsync(db => db.Query<SpecRow>(
            "SELECT project AS Project, endpoint AS Endpoint, name AS Name, definition AS Definition, updated_at AS UpdatedAt, updated_by AS UpdatedBy " +
            "FROM monitor_specs WHERE (@project IS NULL OR project = @project) AND (@endpoint IS NULL OR endpoint = @endpoint) ORDER BY project, endpoint, name",
            new { project, endpoint }), cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => (r.Project, new StoredMonitor(r.Endpoint, r.Name, r.Definition, r.UpdatedAt, r.UpdatedBy)))];
    }

    async Task<bool> IMonitorStateStore.DeleteMonitorAsync(string project, string endpoint, string name, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        Names.Check("monitor", name);
        return await WriteIfChangedAsync(actor, "monitor.delete", project, $"{endpoint}/{name}", async db =>
        {
            var deleted = await db.Execute(
                "DELETE FROM monitor_specs WHERE project = @project AND endpoint = @endpoint AND name = @name", new { project, endpoint, name }).ConfigureAwait(false);
            if (deleted > 0)
            {
                await db.Execute(
                    "DELETE FROM monitor_feeds WHERE project = @project AND endpoint = @endpoint AND monitor = @name", new { project, endpoint, name }).ConfigureAwait(false);
            }

            return (deleted > 0, (string?)null, deleted > 0);
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task IMonitorStateStore.IndexPredictionsAsync(
        string project, string endpoint, IReadOnlyList<IndexedPrediction> predictions, MonitorFeedState state, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(state);
        if (predictions.Count > MaxIndexedPerSave)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"at most {MaxIndexedPerSave} indexed predictions per save, not {predictions.Count}");
        }

        await WriteIfChangedAsync(Actor.Local, "monitor.index", project, endpoint, async db =>
        {
            await db.InsertRowsAsync(
                "prediction_index", ["project", "endpoint", "request_id", "time", "model_version", "score", "classes"],
                [.. predictions.Select(p => new object?[] { project, endpoint, p.RequestId, p.Time, p.ModelVersion, p.Score, p.Classes })],
                "ON CONFLICT (project, endpoint, request_id) DO NOTHING").ConfigureAwait(false);
            await SaveFeedAsync(db, project, endpoint, Strata.Monitoring.FeedbackLabels.IndexFeed, state).ConfigureAwait(false);
            return (true, (string?)null, true);
        }, cancellationToken, audit: false).ConfigureAwait(false);
    }

    async Task<IReadOnlyDictionary<string, IndexedPrediction>> IMonitorStateStore.FindPredictionsAsync(
        string project, string endpoint, IReadOnlyCollection<string> requestIds, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        ArgumentNullException.ThrowIfNull(requestIds);
        if (requestIds.Count > MaxLookups)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"at most {MaxLookups} request ids per lookup, not {requestIds.Count}");
        }

        var result = new Dictionary<string, IndexedPrediction>(StringComparer.Ordinal);
        foreach (var chunk in requestIds.Distinct(StringComparer.Ordinal).Chunk(500))
        {
            var rows = await ReadAsync(db => db.Query<IndexRow>(
                "SELECT request_id AS RequestId, time AS Time, model_version AS ModelVersion, score AS Score, classes AS Classes FROM prediction_index " +
                $"WHERE project = @project AND endpoint = @endpoint AND {db.In("request_id", "ids")}",
                new { project, endpoint, ids = chunk }), cancellationToken).ConfigureAwait(false);
            foreach (var r in rows)
            {
                result[r.RequestId] = new IndexedPrediction(r.RequestId, r.Time, (int)r.ModelVersion, r.Score, r.Classes);
            }
        }

        return result;
    }

    private async Task SaveFeedAsync(Db db, string project, string endpoint, string monitor, MonitorFeedState state) =>
        await db.Execute(
            "INSERT INTO monitor_feeds (project, endpoint, monitor, segment, records, closed_until, quality_until, label_sequence, late_labels, " +
            "segment_floor, read_segments, updated_at) " +
            "VALUES (@project, @endpoint, @monitor, @Segment, @Records, @ClosedUntil, @QualityUntil, @LabelSequence, @LateLabels, @SegmentFloor, @ReadSegments, @now) " +
            "ON CONFLICT (project, endpoint, monitor) DO UPDATE SET segment = @Segment, records = @Records, closed_until = @ClosedUntil, " +
            "quality_until = @QualityUntil, label_sequence = @LabelSequence, late_labels = @LateLabels, segment_floor = @SegmentFloor, " +
            "read_segments = @ReadSegments, updated_at = @now",
            new
            {
                project, endpoint, monitor, state.Segment, state.Records, state.ClosedUntil, state.QualityUntil, state.LabelSequence, state.LateLabels,
                state.SegmentFloor, state.ReadSegments, now = Now(),
            })
            .ConfigureAwait(false);

    private sealed record FeedRow
    {
        public string? Segment { get; init; }

        public long Records { get; init; }

        public long ClosedUntil { get; init; }

        public long QualityUntil { get; init; }

        public long LabelSequence { get; init; }

        public long LateLabels { get; init; }

        public string? SegmentFloor { get; init; }

        public string? ReadSegments { get; init; }
    }

    private sealed record SpecRow
    {
        public string Project { get; init; } = "";

        public string Endpoint { get; init; } = "";

        public string Name { get; init; } = "";

        public string Definition { get; init; } = "";

        public long UpdatedAt { get; init; }

        public string UpdatedBy { get; init; } = "";
    }

    private sealed record IndexRow
    {
        public string RequestId { get; init; } = "";

        public long Time { get; init; }

        public long ModelVersion { get; init; }

        public double? Score { get; init; }

        public string? Classes { get; init; }
    }
}
