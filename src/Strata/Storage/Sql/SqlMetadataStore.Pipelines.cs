using Strata.Stores;

namespace Strata.Storage.Sql;

// Pipeline runs and their steps; succeeded steps found by cache key are the step cache.
internal sealed partial class SqlMetadataStore
{
    /// <summary>Largest stored pipeline spec, in characters.</summary>
    private const int MaxPipelineSpec = 1 << 20;

    async Task<PipelineRun> IPipelineStore.CreateRunAsync(PipelineRun run, Actor actor, CancellationToken cancellationToken)
    {
        CheckRun(run);
        return await WriteAsync(actor, "pipelines.run", run.Project, run.Id, async db =>
        {
            await RequireProjectAsync(db, run.Project).ConfigureAwait(false);
            if (await db.Scalar<string?>("SELECT id FROM pipeline_runs WHERE id = @Id", new { run.Id }).ConfigureAwait(false) is not null)
            {
                throw Conflict($"pipeline run '{run.Id}' exists");
            }

            await db.Execute(
                "INSERT INTO pipeline_runs (id, project, pipeline, spec_digest, spec, state, started_at, ended_at, error, created_by, rerun_of, properties) " +
                "VALUES (@Id, @Project, @Pipeline, @SpecDigest, @Spec, @state, @StartedAt, @EndedAt, @Error, @CreatedBy, @RerunOf, @properties)",
                new { run.Id, run.Project, run.Pipeline, run.SpecDigest, run.Spec, state = StateName(run.State), run.StartedAt, run.EndedAt, run.Error, run.CreatedBy, run.RerunOf, properties = Json(run.Properties.ToDictionary()) })
                .ConfigureAwait(false);
            return (run, $"pipeline={run.Pipeline} state={StateName(run.State)}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<PipelineRun> IPipelineStore.UpdateRunAsync(PipelineRun run, Actor actor, CancellationToken cancellationToken)
    {
        CheckRun(run);
        return await WriteAsync(actor, "pipelines.run.update", run.Project, run.Id, async db =>
        {
            var changed = await db.Execute(
                "UPDATE pipeline_runs SET state = @state, ended_at = @EndedAt, error = @Error, properties = @properties WHERE id = @Id AND project = @Project",
                new { run.Id, run.Project, state = StateName(run.State), run.EndedAt, run.Error, properties = Json(run.Properties.ToDictionary()) }).ConfigureAwait(false);
            return changed == 0 ? throw NotFound($"no pipeline run '{run.Id}' in project '{run.Project}'") : (run, $"state={StateName(run.State)}");
        }, cancellationToken).ConfigureAwait(false);
    }

    Task<PipelineRun?> IPipelineStore.GetRunAsync(string project, string runId, CancellationToken cancellationToken) =>
        ReadAsync(async db => (await db.First<PipelineRunRow?>(RunSelect + " WHERE project = @project AND id = @runId", new { project, runId }).ConfigureAwait(false))?.ToRun(), cancellationToken);

    async Task<IReadOnlyList<PipelineRun>> IPipelineStore.ListRunsAsync(string project, string? pipeline, int limit, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 10_000)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'limit' must be between 1 and 10000, not {limit}");
        }

        return await ReadAsync(async db => (IReadOnlyList<PipelineRun>)(await db.Query<PipelineRunRow>(
                RunSelect + " WHERE project = @project AND (@pipeline IS NULL OR pipeline = @pipeline) ORDER BY started_at DESC, id DESC LIMIT @limit",
                new { project, pipeline, limit }).ConfigureAwait(false)).Select(r => r.ToRun()).ToList(),
            cancellationToken).ConfigureAwait(false);
    }

    async Task IPipelineStore.PutStepAsync(string project, PipelineStepRun stepRun, Actor actor, CancellationToken cancellationToken)
    {
        var step = stepRun;
        ArgumentNullException.ThrowIfNull(step);
        Names.Check("project", project);
        Names.Check("run", step.RunId);
        Names.Check("step", step.Step);
        Names.Check("type", step.Type);
        CheckMap("inputs", step.Inputs);
        CheckMap("outputs", step.Outputs);
        CheckText("error", step.Error, 8000);
        await WriteAsync(actor, "pipelines.step", project, $"{step.RunId}/{step.Step}", async db =>
        {
            var owner = await db.Scalar<string?>("SELECT project FROM pipeline_runs WHERE id = @RunId", new { step.RunId }).ConfigureAwait(false);
            if (owner != project)
            {
                throw NotFound($"no pipeline run '{step.RunId}' in project '{project}'");
            }

            var seq = await db.Scalar<long?>("SELECT seq FROM pipeline_steps WHERE run_id = @RunId AND step = @Step", new { step.RunId, step.Step }).ConfigureAwait(false)
                ?? (await db.Scalar<long?>("SELECT MAX(seq) FROM pipeline_steps WHERE run_id = @RunId", new { step.RunId }).ConfigureAwait(false) ?? 0) + 1;
            await db.Execute(
                "INSERT INTO pipeline_steps (run_id, step, project, type, state, cache_key, started_at, ended_at, inputs, outputs, error, execution_id, seq) " +
                "VALUES (@RunId, @Step, @project, @Type, @state, @CacheKey, @StartedAt, @EndedAt, @inputs, @outputs, @Error, @ExecutionId, @seq) " +
                "ON CONFLICT (run_id, step) DO UPDATE SET state = excluded.state, cache_key = excluded.cache_key, started_at = excluded.started_at, " +
                "ended_at = excluded.ended_at, inputs = excluded.inputs, outputs = excluded.outputs, error = excluded.error, execution_id = excluded.execution_id",
                new
                {
                    step.RunId, step.Step, project, step.Type, state = StateName(step.State), step.CacheKey, step.StartedAt, step.EndedAt,
                    inputs = Json(step.Inputs.ToDictionary()), outputs = Json(step.Outputs.ToDictionary()), step.Error, step.ExecutionId, seq,
                }).ConfigureAwait(false);
            return (true, $"step={step.Step} state={StateName(step.State)}");
        }, cancellationToken).ConfigureAwait(false);
    }

    Task<IReadOnlyList<PipelineStepRun>> IPipelineStore.ListStepsAsync(string project, string runId, CancellationToken cancellationToken) =>
        ReadAsync(async db => (IReadOnlyList<PipelineStepRun>)(await db.Query<PipelineStepRow>(StepSelect + " WHERE project = @project AND run_id = @runId ORDER BY seq", new { project, runId })
            .ConfigureAwait(false)).Select(r => r.ToStep()).ToList(), cancellationToken);

    Task<PipelineStepRun?> IPipelineStore.FindCachedStepAsync(string project, string cacheKey, CancellationToken cancellationToken) =>
        ReadAsync(async db => (await db.First<PipelineStepRow?>(
            StepSelect + " WHERE project = @project AND cache_key = @cacheKey AND state = 'succeeded' ORDER BY ended_at DESC, run_id DESC LIMIT 1",
            new { project, cacheKey }).ConfigureAwait(false))?.ToStep(), cancellationToken);

    private static void CheckRun(PipelineRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        Names.Check("project", run.Project);
        Names.Check("run", run.Id);
        Names.Check("pipeline", run.Pipeline);
        BlobInfo.CheckDigest(run.SpecDigest, "specDigest");
        CheckText("spec", run.Spec, MaxPipelineSpec);
        CheckText("error", run.Error, 8000);
        CheckMap("properties", run.Properties);
    }

    internal static string StateName(PipelineState state) => state.ToString().ToLowerInvariant();

    private static PipelineState ParseState(string text) =>
        Enum.TryParse<PipelineState>(text, ignoreCase: true, out var state) ? state : throw new StrataException(ErrorCodes.Io, $"unknown pipeline state '{text}' in the store");

    private const string RunSelect =
        "SELECT id AS Id, project AS Project, pipeline AS Pipeline, spec_digest AS SpecDigest, spec AS Spec, state AS State, started_at AS StartedAt, " +
        "ended_at AS EndedAt, error AS Error, created_by AS CreatedBy, rerun_of AS RerunOf, properties AS Properties FROM pipeline_runs";

    private const string StepSelect =
        "SELECT run_id AS RunId, step AS Step, type AS Type, state AS State, cache_key AS CacheKey, started_at AS StartedAt, ended_at AS EndedAt, " +
        "inputs AS Inputs, outputs AS Outputs, error AS Error, execution_id AS ExecutionId FROM pipeline_steps";

    private sealed class PipelineRunRow
    {
        public string Id { get; init; } = "";

        public string Project { get; init; } = "";

        public string Pipeline { get; init; } = "";

        public string SpecDigest { get; init; } = "";

        public string Spec { get; init; } = "";

        public string State { get; init; } = "";

        public long StartedAt { get; init; }

        public long? EndedAt { get; init; }

        public string? Error { get; init; }

        public string CreatedBy { get; init; } = "";

        public string? RerunOf { get; init; }

        public string? Properties { get; init; }

        public PipelineRun ToRun() => new(Id, Project, Pipeline, SpecDigest, Spec, ParseState(State), StartedAt, EndedAt, Error, CreatedBy, RerunOf,
            FromJson(Properties, new Dictionary<string, string>()));
    }

    private sealed class PipelineStepRow
    {
        public string RunId { get; init; } = "";

        public string Step { get; init; } = "";

        public string Type { get; init; } = "";

        public string State { get; init; } = "";

        public string? CacheKey { get; init; }

        public long? StartedAt { get; init; }

        public long? EndedAt { get; init; }

        public string? Inputs { get; init; }

        public string? Outputs { get; init; }

        public string? Error { get; init; }

        public string? ExecutionId { get; init; }

        public PipelineStepRun ToStep() => new(RunId, Step, Type, ParseState(State), CacheKey, StartedAt, EndedAt,
            FromJson(Inputs, new Dictionary<string, string>()), FromJson(Outputs, new Dictionary<string, string>()), Error, ExecutionId);
    }
}
