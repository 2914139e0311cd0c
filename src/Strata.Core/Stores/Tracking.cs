namespace Strata.Stores;

/// <summary>Who does something, for the audit log: a principal (an API key's owner, or "local" on the embedded home) and the request.</summary>
public sealed record Actor(string Principal, string? RequestId = null)
{
    /// <summary>The command line on the embedded home, acting as its owner.</summary>
    public static Actor Local { get; } = new("local");
}

/// <summary>A project: the scope of access (keys and roles are per project) and of every name below it.</summary>
public sealed record Project(string Name, string? Description, long CreatedAt);

/// <summary>A named group of runs within a project.</summary>
public sealed record Experiment(long Id, string Project, string Name, long CreatedAt, IReadOnlyDictionary<string, string> Tags, bool Deleted);

/// <summary>Where a run is in its life.</summary>
public enum RunStatus
{
    /// <summary>Started, not ended.</summary>
    Running,
    /// <summary>Ended normally.</summary>
    Finished,
    /// <summary>Ended with an error.</summary>
    Failed,
    /// <summary>Stopped from outside.</summary>
    Killed,
}

/// <summary>
/// What produced a run, so it can be reproduced: the source (git commit and whether the tree was dirty), digests of the
/// input data, the runtime and package versions, and the command.
/// </summary>
public sealed record RunSource(
    string? GitCommit,
    bool? GitDirty,
    IReadOnlyDictionary<string, string> DataDigests,
    string Runtime,
    IReadOnlyDictionary<string, string> Packages,
    string? Command);

/// <summary>One value of a metric: its key, value, step and time (UTC microseconds).</summary>
public readonly record struct MetricPoint(string Key, double Value, long Step, long Timestamp);

/// <summary>What to create a run with.</summary>
public sealed record RunSpec
{
    /// <summary>A display name (free text, not an identifier); default: generated.</summary>
    public string? Name { get; init; }

    /// <summary>Parameters known at start.</summary>
    public IReadOnlyDictionary<string, string> Params { get; init; } = new Dictionary<string, string>();

    /// <summary>Tags known at start.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>What produced the run.</summary>
    public RunSource? Source { get; init; }

    /// <summary>The run this one is a trial of (tuning), if any.</summary>
    public string? ParentRunId { get; init; }
}

/// <summary>A run: parameters, tags, the latest value of every metric, status and times.</summary>
public sealed record Run(
    string Id,
    string Project,
    long ExperimentId,
    string Name,
    RunStatus Status,
    long StartTime,
    long? EndTime,
    RunSource? Source,
    IReadOnlyDictionary<string, string> Params,
    IReadOnlyDictionary<string, string> Tags,
    IReadOnlyDictionary<string, double> Metrics,
    string CreatedBy,
    string? ParentRunId);

/// <summary>
/// A run search: experiments, an MLflow-style filter (<c>metrics.auc &gt; 0.8 and params.depth = '6' and
/// attributes.status = 'FINISHED'</c>), an order (<c>metrics.auc desc</c>, <c>start_time desc</c>, <c>params.depth</c>),
/// and keyset paging.
/// </summary>
public sealed record RunQuery
{
    /// <summary>Experiments to search; empty = all of the project.</summary>
    public IReadOnlyList<long> ExperimentIds { get; init; } = [];

    /// <summary>The filter expression, or null for all runs.</summary>
    public string? Filter { get; init; }

    /// <summary>The order, e.g. "metrics.auc desc"; default start time descending. Ties break on the run id.</summary>
    public string? OrderBy { get; init; }

    /// <summary>Page size (1..10,000).</summary>
    public int MaxResults { get; init; } = 100;

    /// <summary>The token from the previous page.</summary>
    public string? PageToken { get; init; }
}

/// <summary>A page of runs and the token for the next one (null at the end).</summary>
public sealed record RunPage(IReadOnlyList<Run> Runs, string? NextPageToken);
