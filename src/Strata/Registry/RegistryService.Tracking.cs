using Strata.Security;
using Strata.Stores;

namespace Strata.Registry;

// Experiments, runs, metrics and run artifacts.
public sealed partial class RegistryService
{
    /// <summary>Creates an experiment.</summary>
    public Task<Experiment> CreateExperimentAsync(Caller caller, string project, string name, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        Names.Check("name", name);
        return _metadata.Tracking.CreateExperimentAsync(project, name, tags, caller.Actor, cancellationToken);
    }

    /// <summary>The project's experiments.</summary>
    public Task<IReadOnlyList<Experiment>> ListExperimentsAsync(Caller caller, string project, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        return _metadata.Tracking.ListExperimentsAsync(project, cancellationToken);
    }

    /// <summary>An experiment by name.</summary>
    public async Task<Experiment> GetExperimentAsync(Caller caller, string project, string name, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("experiment", name);
        return await _metadata.Tracking.GetExperimentAsync(project, name, cancellationToken).ConfigureAwait(false)
            ?? throw NotFound($"no experiment '{name}' in project '{project}'");
    }

    /// <summary>Starts a run in an experiment (by name).</summary>
    public async Task<Run> CreateRunAsync(Caller caller, string project, string experiment, RunSpec spec, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        ArgumentNullException.ThrowIfNull(spec);
        Names.Check("experiment", experiment);
        if (spec.ParentRunId is { } parent)
        {
            Names.Check("parentRunId", parent);
        }

        var e = await _metadata.Tracking.GetExperimentAsync(project, experiment, cancellationToken).ConfigureAwait(false)
            ?? throw NotFound($"no experiment '{experiment}' in project '{project}'");
        return await _metadata.Tracking.CreateRunAsync(project, e.Id, spec, caller.Actor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A run with its parameters, tags and latest metrics.</summary>
    public async Task<Run> GetRunAsync(Caller caller, string project, string runId, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("run", runId);
        return await _metadata.Tracking.GetRunAsync(project, runId, cancellationToken).ConfigureAwait(false)
            ?? throw NotFound($"no run '{runId}' in project '{project}'");
    }

    /// <summary>Logs metrics, parameters and tags in one transaction.</summary>
    public Task LogBatchAsync(
        Caller caller,
        string project,
        string runId,
        IReadOnlyList<MetricPoint>? metrics,
        IReadOnlyDictionary<string, string>? parameters,
        IReadOnlyDictionary<string, string>? tags,
        CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        Names.Check("run", runId);
        return _metadata.Tracking.LogBatchAsync(project, runId, metrics ?? [], parameters, tags, caller.Actor, cancellationToken);
    }

    /// <summary>Ends a run.</summary>
    public Task<Run> EndRunAsync(Caller caller, string project, string runId, RunStatus status, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        Names.Check("run", runId);
        return _metadata.Tracking.EndRunAsync(project, runId, status, caller.Actor, cancellationToken);
    }

    /// <summary>Every point of a metric of a run.</summary>
    public Task<IReadOnlyList<MetricPoint>> GetMetricHistoryAsync(Caller caller, string project, string runId, string key, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("run", runId);
        Names.Check("key", key, NameKind.Key);
        return _metadata.Tracking.GetMetricHistoryAsync(project, runId, key, cancellationToken);
    }

    /// <summary>Searches runs; <paramref name="experiments"/> (names) narrow the search, adding to the query's ids.</summary>
    public async Task<RunPage> SearchRunsAsync(Caller caller, string project, RunQuery query, IReadOnlyList<string>? experiments = null, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        ArgumentNullException.ThrowIfNull(query);
        if (query.MaxResults is < 1 or > 10_000)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'maxResults' must be between 1 and 10000, not {query.MaxResults}");
        }

        if (experiments is { Count: > 0 })
        {
            var ids = query.ExperimentIds.ToList();
            foreach (var name in experiments)
            {
                ids.Add((await GetExperimentAsync(caller, project, name, cancellationToken).ConfigureAwait(false)).Id);
            }

            query = query with { ExperimentIds = ids };
        }

        return await _metadata.Tracking.SearchRunsAsync(project, query, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Streams a file into the artifact store (refusing it past the size limit) and records it under a logical path of a
    /// run. The path is metadata only; the blob is stored under its digest.
    /// </summary>
    public async Task<BlobInfo> PutRunArtifactAsync(Caller caller, string project, string runId, string path, Stream content, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        ArgumentNullException.ThrowIfNull(content);
        Names.Check("run", runId);
        Names.Check("path", path, NameKind.ArtifactPath);

        // Check the run before reading a byte: a typo should not cost an upload.
        await GetRunAsync(caller, project, runId, cancellationToken).ConfigureAwait(false);
        var blob = await _artifacts.PutAsync(content, _options.MaxArtifactBytes, cancellationToken).ConfigureAwait(false);
        await _metadata.Tracking.LogArtifactAsync(project, runId, path, blob.Digest, blob.Size, caller.Actor, cancellationToken).ConfigureAwait(false);
        return blob;
    }

    /// <summary>The files a run logged.</summary>
    public async Task<IReadOnlyList<RunArtifact>> ListRunArtifactsAsync(Caller caller, string project, string runId, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("run", runId);
        var files = await _metadata.Tracking.ListArtifactsAsync(project, runId, cancellationToken).ConfigureAwait(false);
        return files.Select(f => new RunArtifact(f.Path, f.Digest, f.Size)).ToList();
    }

    /// <summary>Opens a run's file for reading (verified against its digest by the store).</summary>
    public async Task<(RunArtifact Artifact, Stream Content)> OpenRunArtifactAsync(Caller caller, string project, string runId, string path, CancellationToken cancellationToken = default)
    {
        Names.Check("path", path, NameKind.ArtifactPath);
        var files = await ListRunArtifactsAsync(caller, project, runId, cancellationToken).ConfigureAwait(false);
        var file = files.FirstOrDefault(f => f.Path == path) ?? throw NotFound($"run '{runId}' has no artifact '{path}'");
        return (file, await _artifacts.OpenReadAsync(file.Digest, cancellationToken).ConfigureAwait(false));
    }
}

/// <summary>A file a run logged: its logical path (metadata only) and the blob's digest and size.</summary>
public sealed record RunArtifact(string Path, string Digest, long Size);
