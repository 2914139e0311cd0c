using Strata.Stores;

namespace Strata.Storage.Sql;

// Labelled requests for the server's quality check and the alert outbox (migration 8).
internal sealed partial class SqlMetadataStore
{
    private const int MaxLabeledPerRead = 1_000_000;
    private const int MaxAlertsPerSave = 1000;
    private const int MaxAlertEvent = 64 * 1024;

    async Task<long> IMonitorStateStore.GetLabelSequenceAsync(string project, string endpoint, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        return await ReadAsync(db => db.Scalar<long?>(
            "SELECT MAX(sequence) FROM monitor_labels WHERE project = @project AND endpoint = @endpoint", new { project, endpoint }), cancellationToken).ConfigureAwait(false) ?? 0;
    }

    async Task<IReadOnlyList<LabeledRequest>> IMonitorStateStore.ListLabeledAsync(
        string project, string endpoint, long servedFrom, long servedTo, long maxSequence, int limit, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        if (limit is < 1 or > MaxLabeledPerRead)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"limit {limit} must be within [1, {MaxLabeledPerRead}]");
        }

        var rows = await ReadAsync(db => db.Query<LabeledRow>(
            "SELECT p.time AS Time, p.model_version AS ModelVersion, p.score AS Score, CASE WHEN p.classes IS NULL THEN 0 ELSE 1 END AS Classifier, " +
            "l.label AS Label, l.sequence AS Sequence FROM prediction_index p JOIN monitor_labels l " +
            "ON l.project = p.project AND l.endpoint = p.endpoint AND l.request_id = p.request_id " +
            "WHERE p.project = @project AND p.endpoint = @endpoint AND p.time >= @servedFrom AND p.time < @servedTo AND l.sequence <= @maxSequence " +
            "ORDER BY p.time, p.request_id LIMIT @limit",
            new { project, endpoint, servedFrom, servedTo, maxSequence, limit }), cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => new LabeledRequest(r.Time, (int)r.ModelVersion, r.Score, r.Classifier != 0, r.Label, r.Sequence))];
    }

    async Task<long> IMonitorStateStore.CountLabeledAsync(
        string project, string endpoint, long servedBefore, long afterSequence, long maxSequence, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        Names.Check("endpoint", endpoint);
        return await ReadAsync(db => db.Scalar<long>(
            "SELECT COUNT(*) FROM monitor_labels l JOIN prediction_index p " +
            "ON p.project = l.project AND p.endpoint = l.endpoint AND p.request_id = l.request_id " +
            "WHERE l.project = @project AND l.endpoint = @endpoint AND l.sequence > @afterSequence AND l.sequence <= @maxSequence AND p.time < @servedBefore",
            new { project, endpoint, servedBefore, afterSequence, maxSequence }), cancellationToken).ConfigureAwait(false);
    }

    async Task<IReadOnlyList<OutboxAlert>> IMonitorStateStore.ClaimAlertsAsync(TimeSpan lease, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(lease, TimeSpan.Zero);

        // NOTE: the outbox is polled every few seconds; a read first keeps an empty poll from taking the store's write lock.
        var probe = Now();
        if (await ReadAsync(db => db.Scalar<long>(
            "SELECT COUNT(*) FROM monitor_alerts WHERE delivered_at IS NULL AND next_attempt_at <= @probe", new { probe }), cancellationToken).ConfigureAwait(false) == 0)
        {
            return [];
        }

        return await WriteIfChangedAsync(Actor.Local, "monitor.alerts.claim", "", "", async db =>
        {
            var now = Now();
            var due = await db.Query<AlertRow>(
                AlertSelect + " WHERE delivered_at IS NULL AND next_attempt_at <= @now ORDER BY next_attempt_at, id LIMIT @limit", new { now, limit }).ConfigureAwait(false);
            var until = now + (lease.Ticks / 10);
            foreach (var row in due)
            {
                await db.Execute("UPDATE monitor_alerts SET attempts = attempts + 1, next_attempt_at = @until WHERE id = @Id", new { until, row.Id }).ConfigureAwait(false);
            }

            IReadOnlyList<OutboxAlert> claimed = [.. due.Select(r => r.ToAlert() with { Attempts = (int)r.Attempts + 1, NextAttemptAt = until })];
            return (claimed, (string?)null, due.Count > 0);
        }, cancellationToken, audit: false).ConfigureAwait(false);
    }

    async Task IMonitorStateStore.CompleteAlertAsync(string id, bool delivered, TimeSpan retryAfter, string? failure, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentOutOfRangeException.ThrowIfLessThan(retryAfter, TimeSpan.Zero);
        var message = failure is { Length: > 2000 } ? failure[..2000] : failure;
        await WriteIfChangedAsync(Actor.Local, "monitor.alerts.complete", "", id, async db =>
        {
            var now = Now();
            var changed = delivered
                ? await db.Execute("UPDATE monitor_alerts SET delivered_at = @now, last_error = NULL WHERE id = @id AND delivered_at IS NULL", new { id, now }).ConfigureAwait(false)
                : await db.Execute(
                    "UPDATE monitor_alerts SET next_attempt_at = @next, last_error = @message WHERE id = @id AND delivered_at IS NULL",
                    new { id, next = now + (retryAfter.Ticks / 10), message }).ConfigureAwait(false);
            return (true, (string?)null, changed > 0);
        }, cancellationToken, audit: false).ConfigureAwait(false);
    }

    async Task<IReadOnlyList<OutboxAlert>> IMonitorStateStore.ListAlertsAsync(string project, int limit, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        if (limit is < 1 or > 100_000)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"limit {limit} must be within [1, 100000]");
        }

        var rows = await ReadAsync(db => db.Query<AlertRow>(
            AlertSelect + " WHERE project = @project ORDER BY created_at DESC, id LIMIT @limit", new { project, limit }), cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToAlert())];
    }

    async Task<int> IMonitorStateStore.PruneDeliveredAlertsAsync(TimeSpan keep, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, TimeSpan.Zero);

        // NOTE: pruning runs with every few deliveries; a read first keeps a prune with nothing to do from taking the write lock.
        var before = Now() - (keep.Ticks / 10);
        const string Old = " FROM monitor_alerts WHERE delivered_at IS NOT NULL AND delivered_at < @before";
        if (await ReadAsync(db => db.Scalar<long>("SELECT COUNT(*)" + Old, new { before }), cancellationToken).ConfigureAwait(false) == 0)
        {
            return 0;
        }

        return await WriteIfChangedAsync(Actor.Local, "monitor.alerts.prune", "", "", async db =>
        {
            var deleted = await db.Execute("DELETE" + Old, new { before }).ConfigureAwait(false);
            return (deleted, (string?)null, deleted > 0);
        }, cancellationToken, audit: false).ConfigureAwait(false);
    }

    private static void CheckAlerts(IReadOnlyList<OutboxAlert> alerts)
    {
        if (alerts.Count > MaxAlertsPerSave)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"at most {MaxAlertsPerSave} alert actions per save, not {alerts.Count}");
        }

        foreach (var a in alerts)
        {
            Names.Check("project", a.Project);
            Names.Check("alert kind", a.Kind, NameKind.Key);
            CheckText("alert event", a.Event, MaxAlertEvent);
            CheckText("alert target", a.Target, 4096);
            if (a.Id.Length is 0 or > 200 || a.AlertId.Length is 0 or > 200)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, "an alert action's id must be 1 to 200 characters");
            }
        }
    }

    private async Task InsertAlertsAsync(Db db, IReadOnlyList<OutboxAlert> alerts)
    {
        var now = Now();
        foreach (var a in alerts)
        {
            // NOTE: the id is the same whenever the same window fires the same rule, so evaluating a window again (after a
            // crash before this commit, or when another check's result for it arrives) never queues the alert twice.
            await db.Execute(
                "INSERT INTO monitor_alerts (id, alert_id, project, kind, target, event, attempts, next_attempt_at, delivered_at, last_error, created_at) " +
                "VALUES (@Id, @AlertId, @Project, @Kind, @Target, @Event, 0, @now, NULL, NULL, @now) ON CONFLICT (id) DO NOTHING",
                new { a.Id, a.AlertId, a.Project, a.Kind, a.Target, a.Event, now }).ConfigureAwait(false);
        }
    }

    private const string AlertSelect =
        "SELECT id AS Id, alert_id AS AlertId, project AS Project, kind AS Kind, target AS Target, event AS Event, attempts AS Attempts, " +
        "next_attempt_at AS NextAttemptAt, delivered_at AS DeliveredAt, last_error AS LastError, created_at AS CreatedAt FROM monitor_alerts";

    private sealed record LabeledRow
    {
        public long Time { get; init; }

        public long ModelVersion { get; init; }

        public double? Score { get; init; }

        public long Classifier { get; init; }

        public double Label { get; init; }

        public long Sequence { get; init; }
    }

    private sealed record AlertRow
    {
        public string Id { get; init; } = "";

        public string AlertId { get; init; } = "";

        public string Project { get; init; } = "";

        public string Kind { get; init; } = "";

        public string? Target { get; init; }

        public string Event { get; init; } = "";

        public long Attempts { get; init; }

        public long NextAttemptAt { get; init; }

        public long? DeliveredAt { get; init; }

        public string? LastError { get; init; }

        public long CreatedAt { get; init; }

        public OutboxAlert ToAlert() => new(Id, AlertId, Project, Kind, Target, Event, (int)Attempts, NextAttemptAt, DeliveredAt, LastError, CreatedAt);
    }
}
