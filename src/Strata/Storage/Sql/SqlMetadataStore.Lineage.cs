using Strata.Stores;

namespace Strata.Storage.Sql;

// Lineage after ML Metadata: artifacts, executions, input/output events, contexts, and graph walks.
internal sealed partial class SqlMetadataStore
{
    async Task<LineageArtifact> ILineageStore.PutArtifactAsync(LineageArtifact artifact, Actor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(artifact);
        Names.Check("artifact.type", artifact.Type);
        CheckText("artifact.name", artifact.Name, 1000);
        CheckMap("artifact.properties", artifact.Properties);
        if (artifact.Digest is not null)
        {
            BlobInfo.CheckDigest(artifact.Digest);
        }

        var id = string.IsNullOrEmpty(artifact.Id) ? Guid.NewGuid().ToString("N") : Names.Check("artifact.id", artifact.Id);
        return await WriteAsync(actor, "lineage.artifact", artifact.Project, id, async db =>
        {
            await RequireProjectAsync(db, artifact.Project).ConfigureAwait(false);
            var existing = await db.First<string?>("SELECT project FROM lineage_artifacts WHERE id = @id", new { id }).ConfigureAwait(false);
            if (existing is not null && existing != artifact.Project)
            {
                throw Conflict($"artifact '{id}' belongs to another project");
            }

            var stored = artifact with { Id = id, CreatedAt = artifact.CreatedAt == 0 ? Now() : artifact.CreatedAt };
            await db.Execute(
                "INSERT INTO lineage_artifacts (id, project, type, name, digest, properties, created_at) VALUES (@Id, @Project, @Type, @Name, @Digest, @properties, @CreatedAt) " +
                "ON CONFLICT (id) DO UPDATE SET type = excluded.type, name = excluded.name, digest = excluded.digest, properties = excluded.properties",
                new { stored.Id, stored.Project, stored.Type, stored.Name, stored.Digest, properties = Json(stored.Properties.ToDictionary()), stored.CreatedAt }).ConfigureAwait(false);
            return (stored, $"{stored.Type}:{stored.Name}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<LineageExecution> ILineageStore.PutExecutionAsync(LineageExecution execution, Actor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(execution);
        Names.Check("execution.type", execution.Type);
        Names.Check("execution.state", execution.State);
        CheckText("execution.name", execution.Name, 1000);
        CheckMap("execution.properties", execution.Properties);
        var id = string.IsNullOrEmpty(execution.Id) ? Guid.NewGuid().ToString("N") : Names.Check("execution.id", execution.Id);
        return await WriteAsync(actor, "lineage.execution", execution.Project, id, async db =>
        {
            await RequireProjectAsync(db, execution.Project).ConfigureAwait(false);
            var existing = await db.First<string?>("SELECT project FROM lineage_executions WHERE id = @id", new { id }).ConfigureAwait(false);
            if (existing is not null && existing != execution.Project)
            {
                throw Conflict($"execution '{id}' belongs to another project");
            }

            var stored = execution with { Id = id, CreatedAt = execution.CreatedAt == 0 ? Now() : execution.CreatedAt };
            await db.Execute(
                "INSERT INTO lineage_executions (id, project, type, name, state, properties, created_at) VALUES (@Id, @Project, @Type, @Name, @State, @properties, @CreatedAt) " +
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state, name = excluded.name, properties = excluded.properties",
                new { stored.Id, stored.Project, stored.Type, stored.Name, stored.State, properties = Json(stored.Properties.ToDictionary()), stored.CreatedAt }).ConfigureAwait(false);
            return (stored, $"{stored.Type}:{stored.State}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task ILineageStore.AddEventsAsync(IReadOnlyList<LineageEvent> events, Actor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return;
        }

        if (events.Count > 10_000)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'events': at most 10,000 per call");
        }

        await WriteAsync(actor, "lineage.events", "*", events[0].ExecutionId, async db =>
        {
            string? project = null;
            foreach (var e in events)
            {
                var executionProject = await db.First<string?>("SELECT project FROM lineage_executions WHERE id = @ExecutionId", e).ConfigureAwait(false)
                    ?? throw NotFound($"no execution '{e.ExecutionId}'");
                var artifactProject = await db.First<string?>("SELECT project FROM lineage_artifacts WHERE id = @ArtifactId", e).ConfigureAwait(false)
                    ?? throw NotFound($"no artifact '{e.ArtifactId}'");
                if (executionProject != artifactProject || (project is not null && project != executionProject))
                {
                    throw new StrataException(ErrorCodes.ArgumentInvalid, "lineage events cannot cross projects");
                }

                project = executionProject;
                await db.Execute(
                    "INSERT INTO lineage_events (execution_id, artifact_id, type, time) VALUES (@ExecutionId, @ArtifactId, @type, @time) " +
                    "ON CONFLICT (execution_id, artifact_id, type) DO NOTHING",
                    new { e.ExecutionId, e.ArtifactId, type = e.Type.ToString().ToLowerInvariant(), time = e.Time == 0 ? Now() : e.Time }).ConfigureAwait(false);
            }

            return (true, $"events={events.Count}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<LineageContext> ILineageStore.PutContextAsync(LineageContext context, Actor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        Names.Check("context.type", context.Type);
        CheckText("context.name", context.Name, 1000);
        return await WriteAsync(actor, "lineage.context", context.Project, $"{context.Type}:{context.Name}", async db =>
        {
            await RequireProjectAsync(db, context.Project).ConfigureAwait(false);
            var id = await db.First<string?>("SELECT id FROM lineage_contexts WHERE project = @Project AND type = @Type AND name = @Name", context).ConfigureAwait(false);
            if (id is null)
            {
                id = string.IsNullOrEmpty(context.Id) ? Guid.NewGuid().ToString("N") : Names.Check("context.id", context.Id);
                await db.Execute("INSERT INTO lineage_contexts (id, project, type, name) VALUES (@id, @Project, @Type, @Name)", new { id, context.Project, context.Type, context.Name }).ConfigureAwait(false);
            }

            foreach (var artifactId in context.ArtifactIds)
            {
                await db.Execute("INSERT INTO lineage_attributions (context_id, artifact_id) VALUES (@id, @artifactId) ON CONFLICT (context_id, artifact_id) DO NOTHING", new { id, artifactId }).ConfigureAwait(false);
            }

            foreach (var executionId in context.ExecutionIds)
            {
                await db.Execute("INSERT INTO lineage_associations (context_id, execution_id) VALUES (@id, @executionId) ON CONFLICT (context_id, execution_id) DO NOTHING", new { id, executionId }).ConfigureAwait(false);
            }

            var artifacts = await db.Query<string>("SELECT artifact_id FROM lineage_attributions WHERE context_id = @id ORDER BY artifact_id", new { id }).ConfigureAwait(false);
            var executions = await db.Query<string>("SELECT execution_id FROM lineage_associations WHERE context_id = @id ORDER BY execution_id", new { id }).ConfigureAwait(false);
            return (context with { Id = id, ArtifactIds = artifacts, ExecutionIds = executions }, (string?)null);
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<LineageArtifact?> ILineageStore.GetArtifactAsync(string project, string id, CancellationToken cancellationToken) =>
        (await ReadAsync(db => db.First<LineageArtifactRow?>(LineageArtifactSelect + " WHERE project = @project AND id = @id", new { project, id }), cancellationToken).ConfigureAwait(false))?.ToArtifact();

    async Task<IReadOnlyList<LineageArtifact>> ILineageStore.FindArtifactsAsync(string project, string? type, string? name, string? digest, CancellationToken cancellationToken) =>
        (await ReadAsync(
            db => db.Query<LineageArtifactRow>(
                LineageArtifactSelect + " WHERE project = @project" + (type is null ? "" : " AND type = @type") + (name is null ? "" : " AND name = @name") +
                (digest is null ? "" : " AND digest = @digest") + " ORDER BY created_at, id LIMIT 10000",
                new { project, type, name, digest }),
            cancellationToken).ConfigureAwait(false)).Select(r => r.ToArtifact()).ToList();

    Task<LineageGraph> ILineageStore.GetUpstreamAsync(string project, string artifactId, int maxDepth, CancellationToken cancellationToken) =>
        WalkAsync(project, artifactId, maxDepth, upstream: true, cancellationToken);

    Task<LineageGraph> ILineageStore.GetDownstreamAsync(string project, string artifactId, int maxDepth, CancellationToken cancellationToken) =>
        WalkAsync(project, artifactId, maxDepth, upstream: false, cancellationToken);

    /// <summary>
    /// Breadth-first walk: upstream goes artifact ← (output) execution ← (input) artifacts…, downstream the other way.
    /// Each level is one query per direction, and visited ids stop cycles.
    /// </summary>
    private Task<LineageGraph> WalkAsync(string project, string artifactId, int maxDepth, bool upstream, CancellationToken cancellationToken) =>
        ReadAsync(async db =>
        {
            var root = await db.First<LineageArtifactRow?>(LineageArtifactSelect + " WHERE project = @project AND id = @artifactId", new { project, artifactId }).ConfigureAwait(false)
                ?? throw NotFound($"no lineage artifact '{artifactId}' in project '{project}'");
            var artifacts = new Dictionary<string, LineageArtifact>(StringComparer.Ordinal) { [root.Id] = root.ToArtifact() };
            var executions = new Dictionary<string, LineageExecution>(StringComparer.Ordinal);
            var events = new HashSet<LineageEvent>();
            var frontier = new List<string> { root.Id };
            var toExecution = upstream ? "output" : "input";
            var fromExecution = upstream ? "input" : "output";
            for (var depth = 0; depth < Math.Clamp(maxDepth, 1, 256) && frontier.Count > 0; depth++)
            {
                var edges = await db.Query<EventRow>(EventSelect + $" WHERE {db.In("artifact_id", "frontier")} AND type = @toExecution", new { frontier = frontier.ToArray(), toExecution }).ConfigureAwait(false);
                var newExecutions = edges.Select(e => e.ExecutionId).Where(id => !executions.ContainsKey(id)).Distinct().ToList();
                foreach (var e in edges)
                {
                    events.Add(e.ToEvent());
                }

                if (newExecutions.Count == 0)
                {
                    break;
                }

                foreach (var row in await db.Query<LineageExecutionRow>(LineageExecutionSelect + $" WHERE {db.In("id", "newExecutions")}", new { newExecutions = newExecutions.ToArray() }).ConfigureAwait(false))
                {
                    executions[row.Id] = row.ToExecution();
                }

                var next = await db.Query<EventRow>(EventSelect + $" WHERE {db.In("execution_id", "newExecutions")} AND type = @fromExecution", new { newExecutions = newExecutions.ToArray(), fromExecution }).ConfigureAwait(false);
                frontier = [];
                foreach (var e in next)
                {
                    events.Add(e.ToEvent());
                    if (!artifacts.ContainsKey(e.ArtifactId))
                    {
                        frontier.Add(e.ArtifactId);
                    }
                }

                frontier = frontier.Distinct().ToList();
                if (frontier.Count > 0)
                {
                    foreach (var row in await db.Query<LineageArtifactRow>(LineageArtifactSelect + $" WHERE {db.In("id", "frontier")}", new { frontier = frontier.ToArray() }).ConfigureAwait(false))
                    {
                        artifacts[row.Id] = row.ToArtifact();
                    }
                }
            }

            return new LineageGraph(
                root.Id,
                artifacts.Values.OrderBy(a => a.CreatedAt).ThenBy(a => a.Id, StringComparer.Ordinal).ToList(),
                executions.Values.OrderBy(e => e.CreatedAt).ThenBy(e => e.Id, StringComparer.Ordinal).ToList(),
                events.OrderBy(e => e.Time).ThenBy(e => e.ExecutionId, StringComparer.Ordinal).ThenBy(e => e.ArtifactId, StringComparer.Ordinal).ToList());
        }, cancellationToken);

    private const string LineageArtifactSelect =
        "SELECT id AS Id, project AS Project, type AS Type, name AS Name, digest AS Digest, properties AS Properties, created_at AS CreatedAt FROM lineage_artifacts";

    private const string LineageExecutionSelect =
        "SELECT id AS Id, project AS Project, type AS Type, name AS Name, state AS State, properties AS Properties, created_at AS CreatedAt FROM lineage_executions";

    private const string EventSelect = "SELECT execution_id AS ExecutionId, artifact_id AS ArtifactId, type AS Type, time AS Time FROM lineage_events";

    private sealed class LineageArtifactRow
    {
        public string Id { get; init; } = "";

        public string Project { get; init; } = "";

        public string Type { get; init; } = "";

        public string Name { get; init; } = "";

        public string? Digest { get; init; }

        public string Properties { get; init; } = "{}";

        public long CreatedAt { get; init; }

        public LineageArtifact ToArtifact() => new(Id, Project, Type, Name, Digest, FromJson(Properties, new Dictionary<string, string>()), CreatedAt);
    }

    private sealed class LineageExecutionRow
    {
        public string Id { get; init; } = "";

        public string Project { get; init; } = "";

        public string Type { get; init; } = "";

        public string Name { get; init; } = "";

        public string State { get; init; } = "";

        public string Properties { get; init; } = "{}";

        public long CreatedAt { get; init; }

        public LineageExecution ToExecution() => new(Id, Project, Type, Name, State, FromJson(Properties, new Dictionary<string, string>()), CreatedAt);
    }

    private sealed class EventRow
    {
        public string ExecutionId { get; init; } = "";

        public string ArtifactId { get; init; } = "";

        public string Type { get; init; } = "";

        public long Time { get; init; }

        public LineageEvent ToEvent() => new(ExecutionId, ArtifactId, Enum.Parse<LineageEventType>(Type, ignoreCase: true), Time);
    }
}
