using Strata.Stores;

namespace Strata.Storage.Sql;

// Monitoring results per endpoint and window (migration 5); feedback labels (migration 6).
internal sealed partial class SqlMetadataStore
{
    private const int MaxMonitorDetails = 4 << 20;
    private const int MaxMonitorResultsPerSave = 10_000;
    private const int MaxLabelsPerSave = 10_000;
    private const int MaxRequestIdLength = 200;

    async Task IMonitorResultStore.SaveResultsAsync(string project, IReadOnlyList<MonitorResult> results, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        ArgumentNullException.ThrowIfNull(results);
        if (results.Count == 0)
        {
            return;
        }

        CheckResults(results);
        var first = results[0];
        await WriteAsync(actor, "monitor.results", project, $"{first.Endpoint}/{first.Monitor}", async db =>
        {
            await InsertResultsAsync(db, project, results).ConfigureAwait(false);
            return (true, $"results={results.Count}");
        }, cancellationToken).ConfigureAwait(false);
    }

    private static void CheckResults(IReadOnlyList<MonitorResult> results)
    {
        if (results.Count > MaxMonitorResultsPerSave)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"at most {MaxMonitorResultsPerSave} monitor results per save, not {results.Count}");
        }

        foreach (var r in results)
        {
            Names.Check("monitor", r.Monitor);
            Names.Check("endpoint", r.Endpoint);
            Names.Check("model", r.Model);
            Names.Check("check", r.Check, NameKind.Key);
            Names.Check("status", r.Status, NameKind.Key);
            CheckText("details", r.Details, MaxMonitorDetails);
            if (r.WindowEnd <= r.WindowStart || r.ModelVersion < 0 || r.Rows < 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"monitor result for window {r.WindowStart}..{r.WindowEnd}: the window must be non-empty, version and rows ≥ 0");
            }
        }
    }

    private async Task InsertResultsAsync(Db db, string project, IReadOnlyList<MonitorResult> results)
    {
        var now = Now();
        foreach (var r in results)
        {
            await db.Execute(
                "INSERT INTO monitor_results (project, monitor, endpoint, model, model_version, window_start, window_end, check_name, status, score, row_count, details, created_at) " +
                "VALUES (@project, @Monitor, @Endpoint, @Model, @ModelVersion, @WindowStart, @WindowEnd, @Check, @Status, @Score, @Rows, @Details, @now) " +
                "ON CONFLICT (project, monitor, endpoint, model_version, window_start, check_name) DO UPDATE SET " +
                "model = @Model, window_end = @WindowEnd, status = @Status, score = @Score, row_count = @Rows, details = @Details, created_at = @now",
                new { project, r.Monitor, r.Endpoint, r.Model, r.ModelVersion, r.WindowStart, r.WindowEnd, r.Check, r.Status, r.Score, r.Rows, r.Details, now }).ConfigureAwait(false);
        }
    }

    async Task<IReadOnlyList<MonitorResult>> IMonitorResultStore.ListResultsAsync(string project, MonitorResultQuery query, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        ArgumentNullException.ThrowIfNull(query);
        Names.Check("endpoint", query.Endpoint);
        if (query.Limit is < 1 or > MonitorResultQuery.MaxLimit)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'limit' ({query.Limit}) must be within [1, {MonitorResultQuery.MaxLimit}]");
        }

        var rows = await ReadAsync(db => db.Query<MonitorRow>(
            "SELECT monitor AS Monitor, endpoint AS Endpoint, model AS Model, model_version AS ModelVersion, window_start AS WindowStart, " +
            "window_end AS WindowEnd, check_name AS CheckName, status AS Status, score AS Score, row_count AS RowCount, details AS Details, created_at AS CreatedAt " +
            "FROM monitor_results WHERE project = @project AND endpoint = @Endpoint " +
            "AND (@From IS NULL OR window_start >= @From) AND (@To IS NULL OR window_start < @To) " +
            "AND (@Monitor IS NULL OR monitor = @Monitor) " +
            "AND (@Check IS NULL OR check_name = @Check OR (@Check = 'quality' AND check_name LIKE 'quality.%')) " +
            "ORDER BY window_start DESC, monitor, check_name, model_version LIMIT @Limit",
            new { project, query.Endpoint, query.From, query.To, query.Monitor, query.Check, query.Limit }), cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToResult()).OrderBy(r => r.WindowStart).ThenBy(r => r.Monitor, StringComparer.Ordinal)
            .ThenBy(r => r.Check, StringComparer.Ordinal).ThenBy(r => r.ModelVersion)];
    }

    async Task IMonitorResultStore.SaveLabelsAsync(string project, string endpoint, IReadOnlyList<FeedbackLabel> labels, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count == 0)
        {
            return;
        }

        if (labels.Count > MaxLabelsPerSave)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"at most {MaxLabelsPerSave} labels per save, not {labels.Count}");
        }

        for (var i = 0; i < labels.Count; i++)
        {
            if (string.IsNullOrEmpty(labels[i].RequestId) || labels[i].RequestId.Length > MaxRequestIdLength)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'labels[{i}].request_id' must be 1 to {MaxRequestIdLength} characters");
            }

            if (!double.IsFinite(labels[i].Label))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'labels[{i}].label' must be a finite number");
            }
        }

        await WriteAsync(actor, "monitor.feedback", project, endpoint, async db =>
        {
            var now = Now();

            // NOTE: writes are serialized by the store's write lock, so sequences commit in order: a reader that saw sequence
            // S has seen every label up to S (the live quality check counts later ones as late by it).
            var sequence = await db.NextAsync("monitor_labels").ConfigureAwait(false);
            foreach (var label in labels)
            {
                await db.Execute(
                    "INSERT INTO monitor_labels (project, endpoint, request_id, label, received_at, received_by, sequence) " +
                    "VALUES (@project, @endpoint, @RequestId, @Label, @now, @principal, @sequence) " +
                    "ON CONFLICT (project, endpoint, request_id) DO UPDATE SET label = @Label, received_at = @now, received_by = @principal, sequence = @sequence",
                    new { project, endpoint, label.RequestId, label.Label, now, principal = actor.Principal, sequence }).ConfigureAwait(false);
            }

            return (true, $"labels={labels.Count}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<IReadOnlyList<FeedbackLabel>> IMonitorResultStore.ListLabelsAsync(string project, string endpoint, long since, int limit, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        if (limit is < 1 or > 100_000)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"limit {limit} must be within [1, 100000]");
        }

        var rows = await ReadAsync(db => db.Query<LabelRow>(
            "SELECT request_id AS RequestId, label AS Label, received_at AS ReceivedAt FROM monitor_labels " +
            "WHERE project = @project AND endpoint = @endpoint AND received_at >= @since ORDER BY received_at, request_id LIMIT @limit",
            new { project, endpoint, since, limit }), cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => new FeedbackLabel(r.RequestId, r.Label, r.ReceivedAt))];
    }

    private sealed record LabelRow
    {
        public string RequestId { get; init; } = "";

        public double Label { get; init; }

        public long ReceivedAt { get; init; }
    }

    private sealed record MonitorRow
    {
        public string Monitor { get; init; } = "";

        public string Endpoint { get; init; } = "";

        public string Model { get; init; } = "";

        public long ModelVersion { get; init; }

        public long WindowStart { get; init; }

        public long WindowEnd { get; init; }

        public string CheckName { get; init; } = "";

        public string Status { get; init; } = "";

        public double? Score { get; init; }

        public long RowCount { get; init; }

        public string? Details { get; init; }

        public long CreatedAt { get; init; }

        public MonitorResult ToResult() =>
            new(Monitor, Endpoint, Model, (int)ModelVersion, WindowStart, WindowEnd, CheckName, Status, Score, RowCount, Details, CreatedAt);
    }
}
