using Strata.Stores;

namespace Strata.Api;

/// <summary>Creates a project.</summary>
/// <param name="Name">The project's name (letters, digits, '-', '_', '.').</param>
/// <param name="Description">Free text.</param>
public sealed record CreateProjectRequest(string Name, string? Description = null);

/// <summary>Creates an experiment.</summary>
/// <param name="Name">The experiment's name, unique in the project.</param>
/// <param name="Tags">Tags.</param>
public sealed record CreateExperimentRequest(string Name, IReadOnlyDictionary<string, string>? Tags = null);

/// <summary>Starts a run.</summary>
public sealed record CreateRunRequest
{
    /// <summary>The experiment (by name).</summary>
    public required string Experiment { get; init; }

    /// <summary>A display name; default: generated.</summary>
    public string? Name { get; init; }

    /// <summary>Parameters known at start.</summary>
    public IReadOnlyDictionary<string, string>? Params { get; init; }

    /// <summary>Tags known at start.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>What produced the run.</summary>
    public RunSource? Source { get; init; }

    /// <summary>The run this one is a trial of.</summary>
    public string? ParentRunId { get; init; }
}

/// <summary>Metric points, parameters and tags logged in one transaction.</summary>
/// <param name="Metrics">Metric points (a zero timestamp means "now").</param>
/// <param name="Params">Parameters (write-once).</param>
/// <param name="Tags">Tags.</param>
public sealed record LogBatchRequest(IReadOnlyList<MetricPoint>? Metrics = null, IReadOnlyDictionary<string, string>? Params = null, IReadOnlyDictionary<string, string>? Tags = null);

/// <summary>Ends a run.</summary>
/// <param name="Status">Finished, failed or killed.</param>
public sealed record EndRunRequest(RunStatus Status);

/// <summary>A run search.</summary>
public sealed record RunSearchRequest
{
    /// <summary>Experiments (by name); empty = the whole project.</summary>
    public IReadOnlyList<string>? Experiments { get; init; }

    /// <summary>An MLflow-style filter, e.g. <c>metrics.auc &gt; 0.8 and params.depth = '6'</c>.</summary>
    public string? Filter { get; init; }

    /// <summary>An order, e.g. <c>metrics.auc desc</c>.</summary>
    public string? OrderBy { get; init; }

    /// <summary>Page size (1..10,000).</summary>
    public int MaxResults { get; init; } = 100;

    /// <summary>The token from the previous page.</summary>
    public string? PageToken { get; init; }
}

/// <summary>A file a run logged: its logical path (metadata only), digest and size.</summary>
/// <param name="Path">Logical path.</param>
/// <param name="Digest">SHA-256 of the content.</param>
/// <param name="Size">Bytes.</param>
public sealed record RunArtifactInfo(string Path, string Digest, long Size);

/// <summary>Registers a model name.</summary>
/// <param name="Name">The model's name.</param>
/// <param name="Description">Free text.</param>
/// <param name="Tags">Tags.</param>
public sealed record CreateModelRequest(string Name, string? Description = null, IReadOnlyDictionary<string, string>? Tags = null);

/// <summary>
/// Registers a model version: the digest of a package already uploaded (left out when the package is uploaded in the
/// same call), and what is known about it.
/// </summary>
public sealed record RegisterVersionRequest
{
    /// <summary>SHA-256 of the uploaded package; null when uploading it in the same call.</summary>
    public string? ArtifactDigest { get; init; }

    /// <summary>The run that trained it.</summary>
    public string? RunId { get; init; }

    /// <summary>The signature (inputs and outputs) as JSON text.</summary>
    public string? Signature { get; init; }

    /// <summary>The learner (gbdt, logistic…).</summary>
    public string? Learner { get; init; }

    /// <summary>Metrics at registration.</summary>
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }

    /// <summary>Free text.</summary>
    public string? Description { get; init; }

    /// <summary>Tags.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Ids of lineage artifacts the model was made from.</summary>
    public IReadOnlyList<string>? Inputs { get; init; }
}

/// <summary>Archives, restores or deletes a version.</summary>
/// <param name="Status">The new status.</param>
public sealed record SetVersionStatusRequest(VersionStatus Status);

/// <summary>Sets which aliases of a model are protected.</summary>
/// <param name="Aliases">The protected aliases.</param>
public sealed record SetProtectedAliasesRequest(IReadOnlyList<string> Aliases);

/// <summary>Points an alias at a version.</summary>
/// <param name="Version">The version.</param>
/// <param name="Reason">Why (kept in the alias history).</param>
public sealed record SetAliasRequest(int Version, string? Reason = null);

/// <summary>What asking to point an alias at a version did.</summary>
public enum AliasOutcome
{
    /// <summary>Unprotected: moved at once.</summary>
    Moved,
    /// <summary>Protected: a promotion request waits for a deployer.</summary>
    Pending,
    /// <summary>Protected, asked by a deployer: requested, approved and moved.</summary>
    Approved,
}

/// <summary>The result of pointing an alias at a version.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Alias">The alias as it now stands (null while pending).</param>
/// <param name="Promotion">The promotion request, for a protected alias.</param>
public sealed record AliasChangeResult(AliasOutcome Outcome, ModelAlias? Alias, PromotionRequest? Promotion);

/// <summary>Which version an alias pointed at at a time.</summary>
/// <param name="Model">The model.</param>
/// <param name="Alias">The alias.</param>
/// <param name="At">The time (UTC microseconds).</param>
/// <param name="Version">The version, or null when it pointed nowhere.</param>
public sealed record ResolvedAlias(string Model, string Alias, long At, int? Version);

/// <summary>Asks for an alias to move to a version.</summary>
/// <param name="Model">The model.</param>
/// <param name="Alias">The alias.</param>
/// <param name="Version">The version.</param>
/// <param name="Reason">Why.</param>
public sealed record CreatePromotionRequest(string Model, string Alias, int Version, string? Reason = null);

/// <summary>Approves or rejects a promotion request.</summary>
/// <param name="Reason">Why.</param>
public sealed record DecisionRequest(string? Reason = null);

/// <summary>Records a lineage artifact.</summary>
/// <param name="Id">Its id (empty: a new one).</param>
/// <param name="Type">Its type (dataset, profile, model…).</param>
/// <param name="Name">Its name.</param>
/// <param name="Digest">Its content's SHA-256, if content-addressed.</param>
/// <param name="Properties">Properties.</param>
public sealed record LineageArtifactRequest(string? Id, string Type, string Name, string? Digest = null, IReadOnlyDictionary<string, string>? Properties = null);

/// <summary>Records an execution.</summary>
/// <param name="Id">Its id (empty: a new one).</param>
/// <param name="Type">Its type (train, profile…).</param>
/// <param name="Name">Its name.</param>
/// <param name="State">Its state (running, complete, failed).</param>
/// <param name="Properties">Properties.</param>
public sealed record LineageExecutionRequest(string? Id, string Type, string Name, string State, IReadOnlyDictionary<string, string>? Properties = null);

/// <summary>Records input and output events.</summary>
/// <param name="Events">The events.</param>
public sealed record LineageEventsRequest(IReadOnlyList<LineageEvent> Events);

/// <summary>Records a context and adds artifacts and executions to it.</summary>
/// <param name="Id">Its id (empty: a new one).</param>
/// <param name="Type">Its type.</param>
/// <param name="Name">Its name.</param>
/// <param name="ArtifactIds">Artifacts to add.</param>
/// <param name="ExecutionIds">Executions to add.</param>
public sealed record LineageContextRequest(string? Id, string Type, string Name, IReadOnlyList<string>? ArtifactIds = null, IReadOnlyList<string>? ExecutionIds = null);

/// <summary>Makes an API key.</summary>
/// <param name="Principal">Who the key is for.</param>
/// <param name="Role">Its role.</param>
/// <param name="Description">Free text.</param>
/// <param name="Project">The project (on the server-wide route only; "*" for every project).</param>
public sealed record CreateKeyRequest(string Principal, Role Role, string? Description = null, string? Project = null);

/// <summary>An API key as the API shows it: never the secret or its hash.</summary>
/// <param name="Id">The key's id (the part after <c>strata_</c>).</param>
/// <param name="Principal">Who it is for.</param>
/// <param name="Project">Its project, or "*".</param>
/// <param name="Role">Its role.</param>
/// <param name="CreatedAt">When it was made (UTC microseconds).</param>
/// <param name="CreatedBy">Who made it.</param>
/// <param name="Revoked">True once revoked.</param>
/// <param name="Description">Free text.</param>
public sealed record ApiKeyInfo(string Id, string Principal, string Project, Role Role, long CreatedAt, string CreatedBy, bool Revoked, string? Description)
{
    /// <summary>The public part of a stored key.</summary>
    public static ApiKeyInfo From(ApiKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new(key.Id, key.Principal, key.Project, key.Role, key.CreatedAt, key.CreatedBy, key.Revoked, key.Description);
    }
}

/// <summary>A new key and its token, shown once.</summary>
/// <param name="Key">The key.</param>
/// <param name="Token">The bearer token; it cannot be shown again.</param>
public sealed record CreatedKey(ApiKeyInfo Key, string Token);

/// <summary>Who the caller is.</summary>
/// <param name="Principal">The key's owner.</param>
/// <param name="KeyId">The key's id.</param>
/// <param name="Project">The key's project, or "*".</param>
/// <param name="Role">The key's role.</param>
public sealed record WhoAmI(string Principal, string? KeyId, string Project, Role Role);

/// <summary>What a garbage collection did (or would do, on a dry run).</summary>
/// <param name="Blobs">Blobs seen.</param>
/// <param name="Referenced">Blobs still referenced.</param>
/// <param name="Deleted">Blobs deleted (or that would be).</param>
/// <param name="BytesFreed">Bytes freed (or that would be).</param>
/// <param name="KeptForGrace">Unreferenced blobs kept because they are recent.</param>
/// <param name="DryRun">True when nothing was deleted.</param>
public sealed record GarbageCollectionReport(int Blobs, int Referenced, int Deleted, long BytesFreed, int KeptForGrace, bool DryRun);

/// <summary>The server's health.</summary>
/// <param name="Status">"ok", or what is wrong.</param>
/// <param name="Backend">The metadata backend (sqlite, postgres), on the readiness check.</param>
/// <param name="ChangeSequence">The metadata store's change sequence, on the readiness check.</param>
public sealed record HealthReport(string Status, string? Backend = null, long? ChangeSequence = null);
