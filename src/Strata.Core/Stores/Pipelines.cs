namespace Strata.Stores;

/// <summary>Where a pipeline run or one of its steps is in its life.</summary>
public enum PipelineState
{
    /// <summary>Waiting for its inputs.</summary>
    Pending,
    /// <summary>Executing.</summary>
    Running,
    /// <summary>Done; its outputs were computed.</summary>
    Succeeded,
    /// <summary>Done without executing: its outputs were reused from an earlier execution with the same cache key.</summary>
    Cached,
    /// <summary>Stopped with an error (a throw, its time limit, an output that failed its type).</summary>
    Failed,
    /// <summary>Not executed because a step it depends on failed, or (in a rerun) because it only has side effects.</summary>
    Skipped,
}

/// <summary>
/// One run of a pipeline: the spec it ran (text and digest, so a rerun recomputes exactly it), its state, who started it,
/// and, for a rerun, the run it reproduces. Kept in the metadata store so runs survive the process that made them.
/// </summary>
public sealed record PipelineRun(
    string Id,
    string Project,
    string Pipeline,
    string SpecDigest,
    string Spec,
    PipelineState State,
    long StartedAt,
    long? EndedAt,
    string? Error,
    string CreatedBy,
    string? RerunOf,
    IReadOnlyDictionary<string, string> Properties);

/// <summary>
/// One step of a run: its cache key (digest of type, code version, parameters and input digests), its inputs and outputs
/// (name → artifact digest; outputs as <c>kind:digest</c>), whether it was cached, and the lineage execution recording it.
/// </summary>
public sealed record PipelineStepRun(
    string RunId,
    string Step,
    string Type,
    PipelineState State,
    string? CacheKey,
    long? StartedAt,
    long? EndedAt,
    IReadOnlyDictionary<string, string> Inputs,
    IReadOnlyDictionary<string, string> Outputs,
    string? Error,
    string? ExecutionId);

/// <summary>Pipeline runs and their steps (the step cache is the set of succeeded steps, found by cache key).</summary>
public interface IPipelineStore
{
    /// <summary>Records a new run (its id chosen by the caller).</summary>
    Task<PipelineRun> CreateRunAsync(PipelineRun run, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Updates a run's state, end time, error and properties.</summary>
    Task<PipelineRun> UpdateRunAsync(PipelineRun run, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>A run, or null.</summary>
    Task<PipelineRun?> GetRunAsync(string project, string runId, CancellationToken cancellationToken = default);

    /// <summary>Runs of a project (optionally of one pipeline), newest first.</summary>
    Task<IReadOnlyList<PipelineRun>> ListRunsAsync(string project, string? pipeline, int limit, CancellationToken cancellationToken = default);

    /// <summary>Records or updates a step of a run.</summary>
    Task PutStepAsync(string project, PipelineStepRun stepRun, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>The steps of a run, in the order they were first recorded.</summary>
    Task<IReadOnlyList<PipelineStepRun>> ListStepsAsync(string project, string runId, CancellationToken cancellationToken = default);

    /// <summary>The latest succeeded (not cached) step of the project with a cache key, or null.</summary>
    Task<PipelineStepRun?> FindCachedStepAsync(string project, string cacheKey, CancellationToken cancellationToken = default);
}
