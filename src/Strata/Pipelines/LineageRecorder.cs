using System.Collections.Concurrent;
using Strata.Security;
using Strata.Stores;

namespace Strata.Pipelines;

/// <summary>
/// Records a run's steps in lineage: each step is an execution with its input and output artifacts (one lineage artifact
/// per kind and digest, shared across runs), and the run is a context holding them all.
/// </summary>
internal sealed class LineageRecorder(PipelineServices services, PipelineRun run, Caller caller) : IDisposable
{
    public const string ExecutionType = "pipeline-step";
    public const string ContextType = "pipeline-run";

    private readonly ConcurrentDictionary<string, string> _artifactIds = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<string> _executions = [];
    private readonly SemaphoreSlim _lock = new(1, 1);

    public async Task<string> RecordAsync(StepSpec step, string state, IReadOnlyDictionary<string, ArtifactRef> inputs, IReadOnlyDictionary<string, ArtifactRef> outputs, CancellationToken cancellationToken)
    {
        var execution = await services.Registry.PutLineageExecutionAsync(caller, run.Project, new LineageExecution(
            "", run.Project, ExecutionType, $"{run.Pipeline}/{step.Name}", state,
            new Dictionary<string, string> { ["pipeline"] = run.Pipeline, ["run"] = run.Id, ["step"] = step.Name, ["step_type"] = step.Type }, 0), cancellationToken).ConfigureAwait(false);
        var events = new List<LineageEvent>();
        foreach (var (name, artifact) in inputs)
        {
            events.Add(new LineageEvent(execution.Id, await ArtifactIdAsync(step, name, artifact, cancellationToken).ConfigureAwait(false), LineageEventType.Input, 0));
        }

        foreach (var (name, artifact) in outputs)
        {
            events.Add(new LineageEvent(execution.Id, await ArtifactIdAsync(step, name, artifact, cancellationToken).ConfigureAwait(false), LineageEventType.Output, 0));
        }

        if (events.Count > 0)
        {
            await services.Metadata.Lineage.AddEventsAsync(events, caller.Actor, cancellationToken).ConfigureAwait(false);
        }

        _executions.Add(execution.Id);
        return execution.Id;
    }

    public void Dispose() => _lock.Dispose();

    public async Task RecordContextAsync(CancellationToken cancellationToken) =>
        await services.Registry.PutLineageContextAsync(caller, run.Project,
            new LineageContext("", run.Project, ContextType, run.Id, _artifactIds.Values.Distinct().Order(StringComparer.Ordinal).ToList(), _executions.Order(StringComparer.Ordinal).ToList()),
            cancellationToken).ConfigureAwait(false);

    private async Task<string> ArtifactIdAsync(StepSpec step, string port, ArtifactRef artifact, CancellationToken cancellationToken)
    {
        var type = PipelineValidator.Name(artifact.Kind);
        var key = $"{type}:{artifact.Digest}";
        if (_artifactIds.TryGetValue(key, out var id))
        {
            return id;
        }

        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_artifactIds.TryGetValue(key, out id))
            {
                return id;
            }

            var found = await services.Metadata.Lineage.FindArtifactsAsync(run.Project, type, null, artifact.Digest, cancellationToken).ConfigureAwait(false);
            id = found.Count > 0 ? found[0].Id : (await services.Registry.PutLineageArtifactAsync(caller, run.Project, new LineageArtifact(
                "", run.Project, type, $"{run.Pipeline}/{step.Name}.{port}", artifact.Digest, new Dictionary<string, string> { ["pipeline"] = run.Pipeline, ["run"] = run.Id }, 0),
                cancellationToken).ConfigureAwait(false)).Id;
            _artifactIds[key] = id;
            return id;
        }
        finally
        {
            _lock.Release();
        }
    }
}
