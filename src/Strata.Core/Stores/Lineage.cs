namespace Strata.Stores;

/// <summary>
/// A thing in lineage (after ML Metadata): a data set, profile, schema, training set, model… identified by id, typed,
/// named, optionally content-addressed.
/// </summary>
public sealed record LineageArtifact(
    string Id,
    string Project,
    string Type,
    string Name,
    string? Digest,
    IReadOnlyDictionary<string, string> Properties,
    long CreatedAt);

/// <summary>Something that ran: a training run, a pipeline step.</summary>
public sealed record LineageExecution(
    string Id,
    string Project,
    string Type,
    string Name,
    string State,
    IReadOnlyDictionary<string, string> Properties,
    long CreatedAt);

/// <summary>Whether an artifact went into or came out of an execution.</summary>
public enum LineageEventType
{
    /// <summary>The execution read the artifact.</summary>
    Input,
    /// <summary>The execution produced the artifact.</summary>
    Output,
}

/// <summary>An edge between an execution and an artifact.</summary>
public sealed record LineageEvent(string ExecutionId, string ArtifactId, LineageEventType Type, long Time);

/// <summary>A grouping of artifacts and executions (an experiment, a pipeline run).</summary>
public sealed record LineageContext(string Id, string Project, string Type, string Name, IReadOnlyList<string> ArtifactIds, IReadOnlyList<string> ExecutionIds);

/// <summary>A connected part of the lineage graph (everything upstream or downstream of a starting artifact).</summary>
public sealed record LineageGraph(string Root, IReadOnlyList<LineageArtifact> Artifacts, IReadOnlyList<LineageExecution> Executions, IReadOnlyList<LineageEvent> Events);
