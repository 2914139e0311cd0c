namespace Strata.Stores;

/// <summary>
/// Everything Strata records about projects, runs, models, lineage, access and its own audit trail. Two backends
/// implement it — SQLite (embedded default) and PostgreSQL (shared by server replicas) — and one conformance suite
/// holds them to identical results. Every mutation is one transaction that also appends its audit entry.
/// </summary>
public interface IMetadataStore : IAsyncDisposable
{
    /// <summary>"sqlite" or "postgres".</summary>
    string Backend { get; }

    /// <summary>Projects.</summary>
    IProjectStore Projects { get; }

    /// <summary>Experiments, runs, parameters, metrics, run artifacts.</summary>
    ITrackingStore Tracking { get; }

    /// <summary>Registered models, versions, aliases and their history, promotion approvals.</summary>
    IModelRegistryStore Registry { get; }

    /// <summary>Artifacts, executions, events and contexts (ML Metadata's model).</summary>
    ILineageStore Lineage { get; }

    /// <summary>Feature definitions (versioned per project) and materialization watermarks.</summary>
    IFeatureRegistryStore Features { get; }

    /// <summary>The append-only, hash-chained audit log.</summary>
    IAuditLog Audit { get; }

    /// <summary>API keys (hashes only).</summary>
    IApiKeyStore Keys { get; }

    /// <summary>Serving endpoints and the endpoints a key is limited to.</summary>
    IEndpointStore Endpoints { get; }

    /// <summary>Pipeline runs and their steps (the step cache).</summary>
    IPipelineStore Pipelines { get; }

    /// <summary>Monitoring results per endpoint and window.</summary>
    IMonitorResultStore Monitoring { get; }

    /// <summary>Monitors declared through the API, the server's feed positions and the served-request index.</summary>
    IMonitorStateStore MonitorState { get; }

    /// <summary>A number that grows with every committed change, so replicas notice alias moves by polling it.</summary>
    Task<long> GetChangeSequenceAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Every blob digest the metadata refers to (model versions, run artifacts, lineage artifacts), except versions deleted
    /// before <paramref name="deletedBefore"/> (UTC microseconds): their retention is over, so their packages may go.
    /// </summary>
    Task<IReadOnlySet<string>> GetReferencedDigestsAsync(long deletedBefore, CancellationToken cancellationToken = default);
}

/// <summary>Projects.</summary>
public interface IProjectStore
{
    /// <summary>Creates a project; the name must be new.</summary>
    Task<Project> CreateAsync(string name, string? description, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>A project, or null.</summary>
    Task<Project?> GetAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>All projects by name.</summary>
    Task<IReadOnlyList<Project>> ListAsync(CancellationToken cancellationToken = default);
}

/// <summary>Experiment tracking.</summary>
public interface ITrackingStore
{
    /// <summary>Creates an experiment; the name must be new in the project.</summary>
    Task<Experiment> CreateExperimentAsync(string project, string name, IReadOnlyDictionary<string, string>? tags, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>An experiment by name, or null.</summary>
    Task<Experiment?> GetExperimentAsync(string project, string name, CancellationToken cancellationToken = default);

    /// <summary>An experiment by id, or null.</summary>
    Task<Experiment?> GetExperimentAsync(string project, long id, CancellationToken cancellationToken = default);

    /// <summary>The project's experiments by name.</summary>
    Task<IReadOnlyList<Experiment>> ListExperimentsAsync(string project, CancellationToken cancellationToken = default);

    /// <summary>Starts a run.</summary>
    Task<Run> CreateRunAsync(string project, long experimentId, RunSpec spec, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>
    /// Logs metric points, parameters and tags in one transaction. Parameters are write-once (a different value for an
    /// existing key is an error); tags may change.
    /// </summary>
    Task LogBatchAsync(
        string project,
        string runId,
        IReadOnlyList<MetricPoint> metrics,
        IReadOnlyDictionary<string, string>? parameters,
        IReadOnlyDictionary<string, string>? tags,
        Actor actor,
        CancellationToken cancellationToken = default);

    /// <summary>Ends a run with a status.</summary>
    Task<Run> EndRunAsync(string project, string runId, RunStatus status, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>A run with its parameters, tags and latest metrics, or null.</summary>
    Task<Run?> GetRunAsync(string project, string runId, CancellationToken cancellationToken = default);

    /// <summary>Every point of one metric of a run, by step then time.</summary>
    Task<IReadOnlyList<MetricPoint>> GetMetricHistoryAsync(string project, string runId, string key, CancellationToken cancellationToken = default);

    /// <summary>Runs matching a query, one page at a time.</summary>
    Task<RunPage> SearchRunsAsync(string project, RunQuery query, CancellationToken cancellationToken = default);

    /// <summary>Records a file logged by a run (its logical path and the blob's digest).</summary>
    Task LogArtifactAsync(string project, string runId, string path, string digest, long size, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>The files a run logged: path → (digest, size).</summary>
    Task<IReadOnlyList<(string Path, string Digest, long Size)>> ListArtifactsAsync(string project, string runId, CancellationToken cancellationToken = default);
}

/// <summary>The model registry.</summary>
public interface IModelRegistryStore
{
    /// <summary>Registers a model name; <c>champion</c> is protected by default.</summary>
    Task<RegisteredModel> CreateModelAsync(string project, string name, string? description, IReadOnlyDictionary<string, string>? tags, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>A model, or null.</summary>
    Task<RegisteredModel?> GetModelAsync(string project, string name, CancellationToken cancellationToken = default);

    /// <summary>The project's models by name.</summary>
    Task<IReadOnlyList<RegisteredModel>> ListModelsAsync(string project, CancellationToken cancellationToken = default);

    /// <summary>Adds the next version of a model.</summary>
    Task<ModelVersion> CreateVersionAsync(string project, string model, ModelVersionSpec spec, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>A version, or null.</summary>
    Task<ModelVersion?> GetVersionAsync(string project, string model, int version, CancellationToken cancellationToken = default);

    /// <summary>A model's versions, newest first.</summary>
    Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string project, string model, CancellationToken cancellationToken = default);

    /// <summary>
    /// Archives or deletes a version (an alias may not point at it afterwards). A version an alias points at, or one a
    /// stored deployment names by number, is refused (conflict).
    /// </summary>
    Task<ModelVersion> SetVersionStatusAsync(string project, string model, int version, VersionStatus status, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Sets which aliases of a model need an approved promotion to move.</summary>
    Task<RegisteredModel> SetProtectedAliasesAsync(string project, string model, IReadOnlyList<string> aliases, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>
    /// Points an unprotected alias at a version (null removes it), recording the move. A protected alias refuses
    /// (<see cref="ErrorCodes.ArgumentInvalid"/>, "needs an approved promotion"); removing an alias a stored deployment
    /// names is a conflict.
    /// </summary>
    Task<ModelAlias?> MoveAliasAsync(string project, string model, string aliasName, int? version, string? reason, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Asks for an alias to move to a version; a deployer decides.</summary>
    Task<PromotionRequest> RequestPromotionAsync(string project, string model, string aliasName, int version, string? reason, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Approves (moving the alias in the same transaction) or rejects a pending request.</summary>
    Task<PromotionRequest> DecidePromotionAsync(string project, string requestId, bool approve, string? reason, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Promotion requests of a project, optionally of one model and status, newest first.</summary>
    Task<IReadOnlyList<PromotionRequest>> ListPromotionsAsync(string project, string? model, ApprovalStatus? status, CancellationToken cancellationToken = default);

    /// <summary>An alias, or null.</summary>
    Task<ModelAlias?> GetAliasAsync(string project, string model, string aliasName, CancellationToken cancellationToken = default);

    /// <summary>A model's aliases.</summary>
    Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string project, string model, CancellationToken cancellationToken = default);

    /// <summary>Every move of an alias, oldest first.</summary>
    Task<IReadOnlyList<AliasMove>> GetAliasHistoryAsync(string project, string model, string aliasName, CancellationToken cancellationToken = default);

    /// <summary>The version an alias pointed at, at a time (UTC microseconds); null when it pointed nowhere.</summary>
    Task<int?> ResolveAliasAtAsync(string project, string model, string aliasName, long time, CancellationToken cancellationToken = default);
}

/// <summary>Lineage, in the manner of ML Metadata.</summary>
public interface ILineageStore
{
    /// <summary>Records an artifact (a new id when the given one is empty); returns it as stored.</summary>
    Task<LineageArtifact> PutArtifactAsync(LineageArtifact artifact, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Records an execution or updates its state and properties.</summary>
    Task<LineageExecution> PutExecutionAsync(LineageExecution execution, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Records input and output events.</summary>
    Task AddEventsAsync(IReadOnlyList<LineageEvent> events, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Records a context and adds artifacts and executions to it.</summary>
    Task<LineageContext> PutContextAsync(LineageContext context, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>An artifact, or null.</summary>
    Task<LineageArtifact?> GetArtifactAsync(string project, string id, CancellationToken cancellationToken = default);

    /// <summary>Artifacts of a project by type, name or digest (any may be null).</summary>
    Task<IReadOnlyList<LineageArtifact>> FindArtifactsAsync(string project, string? type, string? name, string? digest, CancellationToken cancellationToken = default);

    /// <summary>Everything an artifact came from (executions that output it, their inputs, and so on).</summary>
    Task<LineageGraph> GetUpstreamAsync(string project, string artifactId, int maxDepth = 32, CancellationToken cancellationToken = default);

    /// <summary>Everything made from an artifact.</summary>
    Task<LineageGraph> GetDownstreamAsync(string project, string artifactId, int maxDepth = 32, CancellationToken cancellationToken = default);
}

/// <summary>The audit log; entries are appended by the store's own mutations, never by callers.</summary>
public interface IAuditLog
{
    /// <summary>Entries from a sequence number on.</summary>
    Task<IReadOnlyList<AuditEntry>> ReadAsync(long fromSequence, int count, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records an action whose data lives outside the metadata store (a feature push, a materialization), so every
    /// mutation is in the chain even when no metadata row changes.
    /// </summary>
    Task RecordAsync(string project, string action, string target, string? details, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Recomputes the chain and reports the first entry that was edited, inserted or deleted.</summary>
    Task<AuditVerification> VerifyAsync(CancellationToken cancellationToken = default);
}

/// <summary>API keys.</summary>
public interface IApiKeyStore
{
    /// <summary>Stores a key (its secret already hashed by the caller).</summary>
    Task<ApiKey> CreateAsync(ApiKey key, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>A key by id, or null.</summary>
    Task<ApiKey?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Keys of a project ("*" for keys valid in every project).</summary>
    Task<IReadOnlyList<ApiKey>> ListAsync(string? project, CancellationToken cancellationToken = default);

    /// <summary>Revokes a key.</summary>
    Task RevokeAsync(string id, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>True when any unrevoked key exists (the server refuses non-loopback binds without one).</summary>
    Task<bool> AnyAsync(CancellationToken cancellationToken = default);
}
