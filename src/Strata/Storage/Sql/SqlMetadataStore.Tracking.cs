using Strata.Stores;

namespace Strata.Storage.Sql;

// Experiments, runs, metrics, parameters, tags, run artifacts, run search.
internal sealed partial class SqlMetadataStore
{
    private const int MaxBatchMetrics = 100_000;

    async Task<Experiment> ITrackingStore.CreateExperimentAsync(string project, string name, IReadOnlyDictionary<string, string>? tags, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("experiment", name);
        CheckMap("tags", tags);
        return await WriteAsync(actor, "experiment.create", project, name, async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            if (await db.Scalar<long>("SELECT COUNT(*) FROM experiments WHERE project = @project AND name = @name", new { project, name }).ConfigureAwait(false) > 0)
            {
                throw Conflict($"experiment '{name}' already exists in project '{project}'");
            }

            var id = await db.NextAsync("experiment").ConfigureAwait(false);
            var experiment = new Experiment(id, project, name, Now(), tags ?? new Dictionary<string, string>(), false);
            await db.Execute("INSERT INTO experiments (id, project, name, created_at, deleted) VALUES (@Id, @Project, @Name, @CreatedAt, 0)", experiment).ConfigureAwait(false);
            foreach (var (key, value) in experiment.Tags)
            {
                await db.Execute("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (@id, @key, @value)", new { id, key, value }).ConfigureAwait(false);
            }

            return (experiment, $"id={id}");
        }, cancellationToken).ConfigureAwait(false);
    }

    Task<Experiment?> ITrackingStore.GetExperimentAsync(string project, string name, CancellationToken cancellationToken) =>
        ReadAsync(db => LoadExperimentAsync(db, "e.project = @project AND e.name = @name", new { project, name }), cancellationToken);

    Task<Experiment?> ITrackingStore.GetExperimentAsync(string project, long id, CancellationToken cancellationToken) =>
        ReadAsync(db => LoadExperimentAsync(db, "e.project = @project AND e.id = @id", new { project, id }), cancellationToken);

    async Task<IReadOnlyList<Experiment>> ITrackingStore.ListExperimentsAsync(string project, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            var rows = await db.Query<ExperimentRow>(ExperimentSelect + " WHERE e.project = @project ORDER BY e.name", new { project }).ConfigureAwait(false);
            var result = new List<Experiment>();
            foreach (var row in rows)
            {
                result.Add(await ToExperimentAsync(db, row).ConfigureAwait(false));
            }

            return (IReadOnlyList<Experiment>)result;
        }, cancellationToken).ConfigureAwait(false);

    async Task<Run> ITrackingStore.CreateRunAsync(string project, long experimentId, RunSpec spec, Actor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        CheckText("name", spec.Name, 500);
        CheckMap("params", spec.Params);
        CheckMap("tags", spec.Tags);
        var id = Guid.NewGuid().ToString("N");
        return await WriteAsync(actor, "run.create", project, id, async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            if (await db.Scalar<long>("SELECT COUNT(*) FROM experiments WHERE project = @project AND id = @experimentId AND deleted = 0", new { project, experimentId }).ConfigureAwait(false) == 0)
            {
                throw NotFound($"no experiment {experimentId} in project '{project}'");
            }

            if (spec.ParentRunId is { } parent
                && await db.Scalar<long>("SELECT COUNT(*) FROM runs WHERE project = @project AND id = @parent", new { project, parent }).ConfigureAwait(false) == 0)
            {
                throw NotFound($"no parent run '{parent}' in project '{project}'");
            }

            var now = Now();
            var name = string.IsNullOrWhiteSpace(spec.Name) ? $"run-{id[..8]}" : spec.Name;
            await db.Execute(
                "INSERT INTO runs (id, project, experiment_id, name, status, start_time, end_time, source, created_by, parent_run_id) " +
                "VALUES (@id, @project, @experimentId, @name, 'running', @now, NULL, @source, @principal, @parent)",
                new { id, project, experimentId, name, now, source = spec.Source is null ? null : Json(spec.Source), principal = actor.Principal, parent = spec.ParentRunId })
                .ConfigureAwait(false);
            await InsertParamsAsync(db, id, spec.Params).ConfigureAwait(false);
            await UpsertTagsAsync(db, id, spec.Tags).ConfigureAwait(false);
            return (new Run(id, project, experimentId, name, RunStatus.Running, now, null, spec.Source, spec.Params, spec.Tags, new Dictionary<string, double>(), actor.Principal, spec.ParentRunId),
                $"experiment={experimentId}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task ITrackingStore.LogBatchAsync(
        string project,
        string runId,
        IReadOnlyList<MetricPoint> metrics,
        IReadOnlyDictionary<string, string>? parameters,
        IReadOnlyDictionary<string, string>? tags,
        Actor actor,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (metrics.Count > MaxBatchMetrics)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'metrics' has {metrics.Count} points; a batch holds at most {MaxBatchMetrics}");
        }

        for (var i = 0; i < metrics.Count; i++)
        {
            Names.Check($"metrics[{i}].key", metrics[i].Key, NameKind.Key);
            if (double.IsNaN(metrics[i].Value))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'metrics[{i}].value' ({metrics[i].Key}) is NaN; log a number");
            }
        }

        CheckMap("params", parameters);
        CheckMap("tags", tags);
        await WriteAsync(actor, "run.log", project, runId, async db =>
        {
            await RequireRunAsync(db, project, runId).ConfigureAwait(false);
            var now = Now();
            var latest = new Dictionary<string, MetricPoint>(StringComparer.Ordinal);
            foreach (var point in metrics)
            {
                var stamped = point.Timestamp == 0 ? point with { Timestamp = now } : point;
                if (!latest.TryGetValue(point.Key, out var before) || (stamped.Step, stamped.Timestamp).CompareTo((before.Step, before.Timestamp)) >= 0)
                {
                    latest[point.Key] = stamped;
                }
            }

            if (metrics.Count > 0)
            {
                await db.InsertRowsAsync(
                    "metric_points",
                    ["run_id", "key", "step", "time", "value"],
                    metrics.Select(m => new object?[] { runId, m.Key, m.Step, m.Timestamp == 0 ? now : m.Timestamp, m.Value }).ToList()).ConfigureAwait(false);

                // The latest value is the one with the highest (step, time): later batches may log earlier steps.
                await db.InsertRowsAsync(
                    "latest_metrics",
                    ["run_id", "project", "key", "value", "step", "time"],
                    latest.Values.Select(m => new object?[] { runId, project, m.Key, m.Value, m.Step, m.Timestamp }).ToList(),
                    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, step = excluded.step, time = excluded.time " +
                    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND excluded.time >= latest_metrics.time)").ConfigureAwait(false);
            }

            await InsertParamsAsync(db, runId, parameters).ConfigureAwait(false);
            await UpsertTagsAsync(db, runId, tags).ConfigureAwait(false);
            return (true, $"metrics={metrics.Count} params={parameters?.Count ?? 0} tags={tags?.Count ?? 0}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<Run> ITrackingStore.EndRunAsync(string project, string runId, RunStatus status, Actor actor, CancellationToken cancellationToken)
    {
        if (status == RunStatus.Running)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'status': a run ends as finished, failed or killed");
        }

        await WriteAsync(actor, "run.end", project, runId, async db =>
        {
            await RequireRunAsync(db, project, runId).ConfigureAwait(false);
            await db.Execute("UPDATE runs SET status = @status, end_time = @now WHERE id = @runId", new { status = StatusName(status), now = Now(), runId }).ConfigureAwait(false);
            return (true, $"status={StatusName(status)}");
        }, cancellationToken).ConfigureAwait(false);
        return (await ((ITrackingStore)this).GetRunAsync(project, runId, cancellationToken).ConfigureAwait(false))!;
    }

    async Task<Run?> ITrackingStore.GetRunAsync(string project, string runId, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            var rows = await db.Query<RunSearch.RunRow>($"SELECT {RunSearch.RunColumns}, NULL AS SortValue FROM runs r WHERE r.project = @project AND r.id = @runId", new { project, runId }).ConfigureAwait(false);
            return rows.Count == 0 ? null : (await LoadRunsAsync(db, rows).ConfigureAwait(false))[0];
        }, cancellationToken).ConfigureAwait(false);

    async Task<IReadOnlyList<MetricPoint>> ITrackingStore.GetMetricHistoryAsync(string project, string runId, string key, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            await RequireRunAsync(db, project, runId).ConfigureAwait(false);
            var rows = await db.Query<PointRow>(
                "SELECT key AS Key, value AS Value, step AS Step, time AS Time FROM metric_points WHERE run_id = @runId AND key = @key ORDER BY step, time",
                new { runId, key }).ConfigureAwait(false);
            return (IReadOnlyList<MetricPoint>)rows.Select(r => new MetricPoint(r.Key, r.Value, r.Step, r.Time)).ToList();
        }, cancellationToken).ConfigureAwait(false);

    async Task<RunPage> ITrackingStore.SearchRunsAsync(string project, RunQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        Names.Check("project", project);
        var (sql, parameters, nextToken) = RunSearch.Build(_dialect, project, query);
        var limit = Math.Clamp(query.MaxResults, 1, 10_000);
        return await ReadAsync(async db =>
        {
            var rows = await db.Query<RunSearch.RunRow>(sql, parameters).ConfigureAwait(false);
            var more = rows.Count > limit;
            if (more)
            {
                rows.RemoveAt(rows.Count - 1);
            }

            var runs = await LoadRunsAsync(db, rows).ConfigureAwait(false);
            return new RunPage(runs, more ? nextToken(rows[^1]) : null);
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task ITrackingStore.LogArtifactAsync(string project, string runId, string path, string digest, long size, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("path", path, NameKind.ArtifactPath);
        BlobInfo.CheckDigest(digest);
        await WriteAsync(actor, "run.artifact", project, $"{runId}/{path}", async db =>
        {
            await RequireRunAsync(db, project, runId).ConfigureAwait(false);
            await db.Execute(
                "INSERT INTO run_artifacts (run_id, path, digest, size, created_at) VALUES (@runId, @path, @digest, @size, @now) " +
                "ON CONFLICT (run_id, path) DO UPDATE SET digest = excluded.digest, size = excluded.size, created_at = excluded.created_at",
                new { runId, path, digest, size, now = Now() }).ConfigureAwait(false);
            return (true, $"digest={digest}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<IReadOnlyList<(string Path, string Digest, long Size)>> ITrackingStore.ListArtifactsAsync(string project, string runId, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            await RequireRunAsync(db, project, runId).ConfigureAwait(false);
            var rows = await db.Query<ArtifactRow>("SELECT path AS Path, digest AS Digest, size AS Size FROM run_artifacts WHERE run_id = @runId ORDER BY path", new { runId }).ConfigureAwait(false);
            return (IReadOnlyList<(string, string, long)>)rows.Select(r => (r.Path, r.Digest, r.Size)).ToList();
        }, cancellationToken).ConfigureAwait(false);

    private static async Task RequireRunAsync(Db db, string project, string runId)
    {
        await RequireProjectAsync(db, project).ConfigureAwait(false);
        if (await db.Scalar<long>("SELECT COUNT(*) FROM runs WHERE project = @project AND id = @runId", new { project, runId }).ConfigureAwait(false) == 0)
        {
            throw NotFound($"no run '{runId}' in project '{project}'");
        }
    }

    private static async Task InsertParamsAsync(Db db, string runId, IReadOnlyDictionary<string, string>? parameters)
    {
        foreach (var (key, value) in parameters ?? new Dictionary<string, string>())
        {
            var existing = await db.Scalar<string?>("SELECT value FROM run_params WHERE run_id = @runId AND key = @key", new { runId, key }).ConfigureAwait(false);
            if (existing is null)
            {
                await db.Execute("INSERT INTO run_params (run_id, key, value) VALUES (@runId, @key, @value)", new { runId, key, value }).ConfigureAwait(false);
            }
            else if (existing != value)
            {
                throw Conflict($"parameter '{key}' of run '{runId}' is already '{existing}'; parameters are written once");
            }
        }
    }

    private static async Task UpsertTagsAsync(Db db, string runId, IReadOnlyDictionary<string, string>? tags)
    {
        foreach (var (key, value) in tags ?? new Dictionary<string, string>())
        {
            await db.Execute(
                "INSERT INTO run_tags (run_id, key, value) VALUES (@runId, @key, @value) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                new { runId, key, value }).ConfigureAwait(false);
        }
    }

    /// <summary>Runs with their parameters, tags and latest metrics, three queries per page whatever its size.</summary>
    private static async Task<List<Run>> LoadRunsAsync(Db db, List<RunSearch.RunRow> rows)
    {
        if (rows.Count == 0)
        {
            return [];
        }

        var ids = rows.Select(r => r.Id).ToArray();
        var parameters = await db.Query<KeyValueRow>($"SELECT run_id AS Owner, key AS Key, value AS Value FROM run_params WHERE {db.In("run_id", "ids")}", new { ids }).ConfigureAwait(false);
        var tags = await db.Query<KeyValueRow>($"SELECT run_id AS Owner, key AS Key, value AS Value FROM run_tags WHERE {db.In("run_id", "ids")}", new { ids }).ConfigureAwait(false);
        var metrics = await db.Query<MetricRow>($"SELECT run_id AS Owner, key AS Key, value AS Value FROM latest_metrics WHERE {db.In("run_id", "ids")}", new { ids }).ConfigureAwait(false);
        var paramsByRun = parameters.ToLookup(p => p.Owner);
        var tagsByRun = tags.ToLookup(t => t.Owner);
        var metricsByRun = metrics.ToLookup(m => m.Owner);
        return rows.Select(r => new Run(
            r.Id,
            r.Project,
            r.ExperimentId,
            r.Name,
            ParseStatus(r.Status),
            r.StartTime,
            r.EndTime,
            FromJson<RunSource?>(r.Source, null),
            paramsByRun[r.Id].ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
            tagsByRun[r.Id].ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal),
            metricsByRun[r.Id].ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal),
            r.CreatedBy,
            r.ParentRunId)).ToList();
    }

    private static string StatusName(RunStatus status) => status.ToString().ToLowerInvariant();

    private static RunStatus ParseStatus(string status) => Enum.Parse<RunStatus>(status, ignoreCase: true);

    private const string ExperimentSelect = "SELECT e.id AS Id, e.project AS Project, e.name AS Name, e.created_at AS CreatedAt, e.deleted AS Deleted FROM experiments e";

    private static async Task<Experiment?> LoadExperimentAsync(Db db, string where, object parameters)
    {
        var row = await db.First<ExperimentRow?>(ExperimentSelect + " WHERE " + where, parameters).ConfigureAwait(false);
        return row is null ? null : await ToExperimentAsync(db, row).ConfigureAwait(false);
    }

    private static async Task<Experiment> ToExperimentAsync(Db db, ExperimentRow row)
    {
        var tags = await db.Query<KeyValueRow>("SELECT '' AS Owner, key AS Key, value AS Value FROM experiment_tags WHERE experiment_id = @Id", new { row.Id }).ConfigureAwait(false);
        return new Experiment(row.Id, row.Project, row.Name, row.CreatedAt, tags.ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal), row.Deleted != 0);
    }

    private sealed class ExperimentRow
    {
        public long Id { get; init; }

        public string Project { get; init; } = "";

        public string Name { get; init; } = "";

        public long CreatedAt { get; init; }

        public long Deleted { get; init; }
    }

    private sealed class KeyValueRow
    {
        public string Owner { get; init; } = "";

        public string Key { get; init; } = "";

        public string Value { get; init; } = "";
    }

    private sealed class MetricRow
    {
        public string Owner { get; init; } = "";

        public string Key { get; init; } = "";

        public double Value { get; init; }
    }

    private sealed class PointRow
    {
        public string Key { get; init; } = "";

        public double Value { get; init; }

        public long Step { get; init; }

        public long Time { get; init; }
    }

    private sealed class ArtifactRow
    {
        public string Path { get; init; } = "";

        public string Digest { get; init; } = "";

        public long Size { get; init; }
    }

}
