using Strata.Security;
using Strata.Stores;

namespace Strata.Registry;

// Lineage: artifacts, executions, events and contexts, kept inside the caller's project.
public sealed partial class RegistryService
{
    /// <summary>Records (or updates) a lineage artifact in a project.</summary>
    public Task<LineageArtifact> PutLineageArtifactAsync(Caller caller, string project, LineageArtifact artifact, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        ArgumentNullException.ThrowIfNull(artifact);
        return _metadata.Lineage.PutArtifactAsync(artifact with { Project = project, CreatedAt = 0 }, caller.Actor, cancellationToken);
    }

    /// <summary>Records (or updates) an execution in a project.</summary>
    public Task<LineageExecution> PutLineageExecutionAsync(Caller caller, string project, LineageExecution execution, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        ArgumentNullException.ThrowIfNull(execution);
        return _metadata.Lineage.PutExecutionAsync(execution with { Project = project, CreatedAt = 0 }, caller.Actor, cancellationToken);
    }

    /// <summary>Records input and output events; every artifact must be in the project (the store keeps executions with their artifacts).</summary>
    public async Task AddLineageEventsAsync(Caller caller, string project, IReadOnlyList<LineageEvent> events, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count > 10_000)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'events': at most 10,000 per call");
        }

        foreach (var id in events.Select(e => e.ArtifactId).Distinct(StringComparer.Ordinal))
        {
            await RequireLineageArtifactAsync(project, id, "events.artifactId", cancellationToken).ConfigureAwait(false);
        }

        foreach (var e in events)
        {
            Names.Check("events.executionId", e.ExecutionId);
        }

        await _metadata.Lineage.AddEventsAsync(events, caller.Actor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records a context and adds artifacts (of the project) and executions to it.</summary>
    public async Task<LineageContext> PutLineageContextAsync(Caller caller, string project, LineageContext context, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        ArgumentNullException.ThrowIfNull(context);
        foreach (var id in context.ArtifactIds ?? [])
        {
            await RequireLineageArtifactAsync(project, id, "artifactIds", cancellationToken).ConfigureAwait(false);
        }

        foreach (var id in context.ExecutionIds ?? [])
        {
            Names.Check("executionIds", id);
        }

        return await _metadata.Lineage.PutContextAsync(context with { Project = project, ArtifactIds = context.ArtifactIds ?? [], ExecutionIds = context.ExecutionIds ?? [] }, caller.Actor, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>A lineage artifact.</summary>
    public async Task<LineageArtifact> GetLineageArtifactAsync(Caller caller, string project, string id, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        return await RequireLineageArtifactAsync(project, id, "artifact", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Lineage artifacts by type, name or digest.</summary>
    public Task<IReadOnlyList<LineageArtifact>> FindLineageArtifactsAsync(Caller caller, string project, string? type, string? name, string? digest, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        return _metadata.Lineage.FindArtifactsAsync(project, type, name, digest, cancellationToken);
    }

    /// <summary>Everything an artifact came from, or everything made from it.</summary>
    public async Task<LineageGraph> GetLineageAsync(Caller caller, string project, string artifactId, bool upstream, int maxDepth = 32, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        CheckDepth(maxDepth);
        await RequireLineageArtifactAsync(project, artifactId, "artifact", cancellationToken).ConfigureAwait(false);
        return upstream
            ? await _metadata.Lineage.GetUpstreamAsync(project, artifactId, maxDepth, cancellationToken).ConfigureAwait(false)
            : await _metadata.Lineage.GetDownstreamAsync(project, artifactId, maxDepth, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How far a lineage walk may go: a bound on the store's recursive query.</summary>
    private static void CheckDepth(int maxDepth)
    {
        if (maxDepth is < 1 or > 256)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'depth' must be between 1 and 256, not {maxDepth}");
        }
    }

    private async Task<LineageArtifact> RequireLineageArtifactAsync(string project, string id, string field, CancellationToken cancellationToken) =>
        await _metadata.Lineage.GetArtifactAsync(project, Names.Check(field, id), cancellationToken).ConfigureAwait(false)
            ?? throw NotFound($"no lineage artifact '{id}' in project '{project}'");
}
