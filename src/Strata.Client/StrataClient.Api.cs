using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Strata.Api;
using Strata.Stores;

namespace Strata.Client;

// One method per route of /api/v1, in the order of the server's Endpoints/*Api.cs.
public sealed partial class StrataClient
{
    /// <summary>Creates a project (needs an admin key for every project).</summary>
    public Task<Project> CreateProjectAsync(string name, string? description = null, CancellationToken cancellationToken = default) =>
        SendAsync<Project>(HttpMethod.Post, Url(["projects"]), Json(new CreateProjectRequest(name, description)), cancellationToken);

    /// <summary>The projects the key can see.</summary>
    public Task<List<Project>> ListProjectsAsync(CancellationToken cancellationToken = default) =>
        SendAsync<List<Project>>(HttpMethod.Get, Url(["projects"]), null, cancellationToken);

    /// <summary>A project.</summary>
    public Task<Project> GetProjectAsync(string project, CancellationToken cancellationToken = default) =>
        SendAsync<Project>(HttpMethod.Get, P(project), null, cancellationToken);

    /// <summary>Creates an experiment.</summary>
    public Task<Experiment> CreateExperimentAsync(string project, string name, IReadOnlyDictionary<string, string>? tags = null, CancellationToken cancellationToken = default) =>
        SendAsync<Experiment>(HttpMethod.Post, P(project, "experiments"), Json(new CreateExperimentRequest(name, tags)), cancellationToken);

    /// <summary>The project's experiments.</summary>
    public Task<List<Experiment>> ListExperimentsAsync(string project, CancellationToken cancellationToken = default) =>
        SendAsync<List<Experiment>>(HttpMethod.Get, P(project, "experiments"), null, cancellationToken);

    /// <summary>An experiment by name.</summary>
    public Task<Experiment> GetExperimentAsync(string project, string name, CancellationToken cancellationToken = default) =>
        SendAsync<Experiment>(HttpMethod.Get, P(project, "experiments", name), null, cancellationToken);

    /// <summary>Starts a run.</summary>
    public Task<Run> CreateRunAsync(string project, CreateRunRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<Run>(HttpMethod.Post, P(project, "runs"), Json(request), cancellationToken);

    /// <summary>A run with its parameters, tags and latest metrics.</summary>
    public Task<Run> GetRunAsync(string project, string runId, CancellationToken cancellationToken = default) =>
        SendAsync<Run>(HttpMethod.Get, P(project, "runs", runId), null, cancellationToken);

    /// <summary>Logs metrics, parameters and tags in one transaction.</summary>
    public Task LogBatchAsync(string project, string runId, LogBatchRequest batch, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, P(project, "runs", runId, "log-batch"), Json(batch), cancellationToken);

    /// <summary>Ends a run.</summary>
    public Task<Run> EndRunAsync(string project, string runId, RunStatus status, CancellationToken cancellationToken = default) =>
        SendAsync<Run>(HttpMethod.Post, P(project, "runs", runId, "end"), Json(new EndRunRequest(status)), cancellationToken);

    /// <summary>Searches runs: filter, order and keyset paging (pass the page's token back for the next page).</summary>
    public Task<RunPage> SearchRunsAsync(string project, RunSearchRequest search, CancellationToken cancellationToken = default) =>
        SendAsync<RunPage>(HttpMethod.Post, P(project, "runs", "search"), Json(search), cancellationToken);

    /// <summary>Every point of one metric of a run, by step then time.</summary>
    public Task<List<MetricPoint>> GetMetricHistoryAsync(string project, string runId, string key, CancellationToken cancellationToken = default) =>
        SendAsync<List<MetricPoint>>(HttpMethod.Get, Url(["projects", project, "runs", runId, "metric-history"], ("key", key)), null, cancellationToken);

    /// <summary>Streams a file to the server under a logical path of a run (the path is metadata only).</summary>
    public Task<BlobInfo> UploadRunArtifactAsync(string project, string runId, string path, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        return SendAsync<BlobInfo>(HttpMethod.Put, P(project, ["runs", runId, "artifacts", .. path.Split('/')]), Octets(content), cancellationToken);
    }

    /// <summary>The files a run logged.</summary>
    public Task<List<RunArtifactInfo>> ListRunArtifactsAsync(string project, string runId, CancellationToken cancellationToken = default) =>
        SendAsync<List<RunArtifactInfo>>(HttpMethod.Get, P(project, "runs", runId, "artifacts"), null, cancellationToken);

    /// <summary>Streams a run's file from the server (verified against its digest there); dispose the stream.</summary>
    public Task<Stream> DownloadRunArtifactAsync(string project, string runId, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        return DownloadAsync(P(project, ["runs", runId, "artifacts", .. path.Split('/')]), cancellationToken);
    }

    /// <summary>Streams a blob (a model package) into the server's artifact store; register it with its digest.</summary>
    public Task<BlobInfo> UploadArtifactAsync(string project, Stream content, CancellationToken cancellationToken = default) =>
        SendAsync<BlobInfo>(HttpMethod.Post, P(project, "artifacts"), Octets(content), cancellationToken);

    /// <summary>Registers a model name.</summary>
    public Task<RegisteredModel> CreateModelAsync(string project, string name, string? description = null, IReadOnlyDictionary<string, string>? tags = null, CancellationToken cancellationToken = default) =>
        SendAsync<RegisteredModel>(HttpMethod.Post, P(project, "models"), Json(new CreateModelRequest(name, description, tags)), cancellationToken);

    /// <summary>The project's models.</summary>
    public Task<List<RegisteredModel>> ListModelsAsync(string project, CancellationToken cancellationToken = default) =>
        SendAsync<List<RegisteredModel>>(HttpMethod.Get, P(project, "models"), null, cancellationToken);

    /// <summary>A model.</summary>
    public Task<RegisteredModel> GetModelAsync(string project, string model, CancellationToken cancellationToken = default) =>
        SendAsync<RegisteredModel>(HttpMethod.Get, P(project, "models", model), null, cancellationToken);

    /// <summary>Sets which aliases need an approved promotion (admins).</summary>
    public Task<RegisteredModel> SetProtectedAliasesAsync(string project, string model, IReadOnlyList<string> aliases, CancellationToken cancellationToken = default) =>
        SendAsync<RegisteredModel>(HttpMethod.Put, P(project, "models", model, "protected-aliases"), Json(new SetProtectedAliasesRequest(aliases)), cancellationToken);

    /// <summary>Registers the next version from a package already uploaded (<see cref="UploadArtifactAsync"/>).</summary>
    public Task<ModelVersion> RegisterVersionAsync(string project, string model, RegisterVersionRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<ModelVersion>(HttpMethod.Post, P(project, "models", model, "versions"), Json(request), cancellationToken);

    /// <summary>Uploads a package and registers it as the next version in one streamed call.</summary>
    public Task<ModelVersion> UploadVersionAsync(string project, string model, RegisterVersionRequest metadata, Stream package, CancellationToken cancellationToken = default)
    {
        var form = new MultipartFormDataContent();
        var json = new StringContent(JsonSerializer.Serialize(metadata, StrataJson.Options));
        json.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        form.Add(json, "metadata");
        form.Add(Octets(package), "package", "package");
        return SendAsync<ModelVersion>(HttpMethod.Post, P(project, "models", model, "versions", "upload"), form, cancellationToken);
    }

    /// <summary>A model's versions, newest first.</summary>
    public Task<List<ModelVersion>> ListVersionsAsync(string project, string model, CancellationToken cancellationToken = default) =>
        SendAsync<List<ModelVersion>>(HttpMethod.Get, P(project, "models", model, "versions"), null, cancellationToken);

    /// <summary>A version.</summary>
    public Task<ModelVersion> GetVersionAsync(string project, string model, int version, CancellationToken cancellationToken = default) =>
        SendAsync<ModelVersion>(HttpMethod.Get, P(project, "models", model, "versions", Text(version)), null, cancellationToken);

    /// <summary>Streams a version's package (verified on the server); dispose the stream.</summary>
    public Task<Stream> DownloadPackageAsync(string project, string model, int version, CancellationToken cancellationToken = default) =>
        DownloadAsync(P(project, "models", model, "versions", Text(version), "package"), cancellationToken);

    /// <summary>Archives, restores (editors) or deletes (admins) a version.</summary>
    public Task<ModelVersion> SetVersionStatusAsync(string project, string model, int version, VersionStatus status, CancellationToken cancellationToken = default) =>
        SendAsync<ModelVersion>(HttpMethod.Put, P(project, "models", model, "versions", Text(version), "status"), Json(new SetVersionStatusRequest(status)), cancellationToken);

    /// <summary>Everything a version came from (<paramref name="upstream"/>) or everything made from it.</summary>
    public Task<LineageGraph> GetVersionLineageAsync(string project, string model, int version, bool upstream = true, int depth = 32, CancellationToken cancellationToken = default) =>
        SendAsync<LineageGraph>(
            HttpMethod.Get,
            Url(["projects", project, "models", model, "versions", Text(version), "lineage"], ("direction", upstream ? "upstream" : "downstream"), ("depth", Text(depth))),
            null,
            cancellationToken);

    /// <summary>
    /// Points an alias at a version: an unprotected alias moves; a protected one files a promotion request (approved at
    /// once when the key is a deployer's).
    /// </summary>
    public Task<AliasChangeResult> SetAliasAsync(string project, string model, string alias, int version, string? reason = null, CancellationToken cancellationToken = default) =>
        SendAsync<AliasChangeResult>(HttpMethod.Put, P(project, "models", model, "aliases", alias), Json(new SetAliasRequest(version, reason)), cancellationToken);

    /// <summary>Removes an unprotected alias.</summary>
    public Task RemoveAliasAsync(string project, string model, string alias, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, P(project, "models", model, "aliases", alias), null, cancellationToken);

    /// <summary>An alias as it stands.</summary>
    public Task<ModelAlias> GetAliasAsync(string project, string model, string alias, CancellationToken cancellationToken = default) =>
        SendAsync<ModelAlias>(HttpMethod.Get, P(project, "models", model, "aliases", alias), null, cancellationToken);

    /// <summary>A model's aliases.</summary>
    public Task<List<ModelAlias>> ListAliasesAsync(string project, string model, CancellationToken cancellationToken = default) =>
        SendAsync<List<ModelAlias>>(HttpMethod.Get, P(project, "models", model, "aliases"), null, cancellationToken);

    /// <summary>Every move of an alias, oldest first.</summary>
    public Task<List<AliasMove>> GetAliasHistoryAsync(string project, string model, string alias, CancellationToken cancellationToken = default) =>
        SendAsync<List<AliasMove>>(HttpMethod.Get, P(project, "models", model, "aliases", alias, "history"), null, cancellationToken);

    /// <summary>Which version an alias pointed at at a time.</summary>
    public Task<ResolvedAlias> ResolveAliasAsync(string project, string model, string alias, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        SendAsync<ResolvedAlias>(
            HttpMethod.Get,
            Url(["projects", project, "models", model, "aliases", alias, "resolve"], ("at", Timestamp.Format(Timestamp.FromDateTimeOffset(at)))),
            null,
            cancellationToken);

    /// <summary>Asks for an alias to move to a version; a deployer decides.</summary>
    public Task<PromotionRequest> RequestPromotionAsync(string project, string model, string alias, int version, string? reason = null, CancellationToken cancellationToken = default) =>
        SendAsync<PromotionRequest>(HttpMethod.Post, P(project, "promotions"), Json(new CreatePromotionRequest(model, alias, version, reason)), cancellationToken);

    /// <summary>Approves a request, moving the alias (deployers).</summary>
    public Task<PromotionRequest> ApprovePromotionAsync(string project, string requestId, string? reason = null, CancellationToken cancellationToken = default) =>
        SendAsync<PromotionRequest>(HttpMethod.Post, P(project, "promotions", requestId, "approve"), Json(new DecisionRequest(reason)), cancellationToken);

    /// <summary>Rejects a request (deployers).</summary>
    public Task<PromotionRequest> RejectPromotionAsync(string project, string requestId, string? reason = null, CancellationToken cancellationToken = default) =>
        SendAsync<PromotionRequest>(HttpMethod.Post, P(project, "promotions", requestId, "reject"), Json(new DecisionRequest(reason)), cancellationToken);

    /// <summary>Promotion requests, newest first.</summary>
    public Task<List<PromotionRequest>> ListPromotionsAsync(string project, string? model = null, ApprovalStatus? status = null, CancellationToken cancellationToken = default) =>
        SendAsync<List<PromotionRequest>>(
            HttpMethod.Get,
            Url(["projects", project, "promotions"], ("model", model), ("status", status?.ToString().ToLowerInvariant())),
            null,
            cancellationToken);

    /// <summary>Records a lineage artifact.</summary>
    public Task<LineageArtifact> PutLineageArtifactAsync(string project, LineageArtifactRequest artifact, CancellationToken cancellationToken = default) =>
        SendAsync<LineageArtifact>(HttpMethod.Post, P(project, "lineage", "artifacts"), Json(artifact), cancellationToken);

    /// <summary>Records an execution.</summary>
    public Task<LineageExecution> PutLineageExecutionAsync(string project, LineageExecutionRequest execution, CancellationToken cancellationToken = default) =>
        SendAsync<LineageExecution>(HttpMethod.Post, P(project, "lineage", "executions"), Json(execution), cancellationToken);

    /// <summary>Records input and output events.</summary>
    public Task AddLineageEventsAsync(string project, IReadOnlyList<LineageEvent> events, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, P(project, "lineage", "events"), Json(new LineageEventsRequest(events)), cancellationToken);

    /// <summary>Records a context.</summary>
    public Task<LineageContext> PutLineageContextAsync(string project, LineageContextRequest context, CancellationToken cancellationToken = default) =>
        SendAsync<LineageContext>(HttpMethod.Post, P(project, "lineage", "contexts"), Json(context), cancellationToken);

    /// <summary>A lineage artifact.</summary>
    public Task<LineageArtifact> GetLineageArtifactAsync(string project, string artifactId, CancellationToken cancellationToken = default) =>
        SendAsync<LineageArtifact>(HttpMethod.Get, P(project, "lineage", "artifacts", artifactId), null, cancellationToken);

    /// <summary>Lineage artifacts by type, name or digest.</summary>
    public Task<List<LineageArtifact>> FindLineageArtifactsAsync(string project, string? type = null, string? name = null, string? digest = null, CancellationToken cancellationToken = default) =>
        SendAsync<List<LineageArtifact>>(HttpMethod.Get, Url(["projects", project, "lineage", "artifacts"], ("type", type), ("name", name), ("digest", digest)), null, cancellationToken);

    /// <summary>Everything an artifact came from (<paramref name="upstream"/>) or everything made from it.</summary>
    public Task<LineageGraph> GetLineageAsync(string project, string artifactId, bool upstream = true, int depth = 32, CancellationToken cancellationToken = default) =>
        SendAsync<LineageGraph>(
            HttpMethod.Get,
            Url(["projects", project, "lineage", "artifacts", artifactId, upstream ? "upstream" : "downstream"], ("depth", Text(depth))),
            null,
            cancellationToken);

    /// <summary>Audit entries from a sequence number on: of a project (its admins), or all (<paramref name="project"/> null).</summary>
    public Task<List<AuditEntry>> ReadAuditAsync(string? project, long from = 1, int count = 100, CancellationToken cancellationToken = default) =>
        SendAsync<List<AuditEntry>>(
            HttpMethod.Get,
            Url(project is null ? ["audit"] : ["projects", project, "audit"], ("from", Text(from)), ("count", Text(count))),
            null,
            cancellationToken);

    /// <summary>Checks the audit chain.</summary>
    public Task<AuditVerification> VerifyAuditAsync(string? project = null, CancellationToken cancellationToken = default) =>
        SendAsync<AuditVerification>(HttpMethod.Get, Url(project is null ? ["audit", "verify"] : ["projects", project, "audit", "verify"]), null, cancellationToken);

    /// <summary>Makes an API key in a project (its admins), or — with <paramref name="project"/> null — through the server-wide route, where the request names the project ("*" for all).</summary>
    public Task<CreatedKey> CreateKeyAsync(string? project, CreateKeyRequest request, CancellationToken cancellationToken = default) =>
        SendAsync<CreatedKey>(HttpMethod.Post, Url(project is null ? ["keys"] : ["projects", project, "keys"]), Json(request), cancellationToken);

    /// <summary>Keys of a project, or all keys (<paramref name="project"/> null).</summary>
    public Task<List<ApiKeyInfo>> ListKeysAsync(string? project, CancellationToken cancellationToken = default) =>
        SendAsync<List<ApiKeyInfo>>(HttpMethod.Get, Url(project is null ? ["keys"] : ["projects", project, "keys"]), null, cancellationToken);

    /// <summary>Revokes a key.</summary>
    public Task RevokeKeyAsync(string? project, string keyId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, Url(project is null ? ["keys", keyId] : ["projects", project, "keys", keyId]), null, cancellationToken);

    /// <summary>Deletes blobs nothing refers to (admins of every project).</summary>
    public Task<GarbageCollectionReport> CollectGarbageAsync(bool dryRun, TimeSpan? grace = null, TimeSpan? retention = null, CancellationToken cancellationToken = default) =>
        SendAsync<GarbageCollectionReport>(
            HttpMethod.Post,
            Url(
                ["admin", "gc"],
                ("dryRun", dryRun ? "true" : "false"),
                ("graceHours", grace?.TotalHours.ToString(CultureInfo.InvariantCulture)),
                ("retentionDays", retention?.TotalDays.ToString(CultureInfo.InvariantCulture))),
            null,
            cancellationToken);

    /// <summary>The stored results of an endpoint's monitors whose windows start in [from, to) (UTC microseconds), oldest first.</summary>
    public Task<List<MonitorResult>> ListMonitorResultsAsync(
        string project, string endpoint, long? from = null, long? to = null, int? limit = null, CancellationToken cancellationToken = default) =>
        SendAsync<List<MonitorResult>>(
            HttpMethod.Get,
            Url(["projects", project, "monitors", endpoint, "results"], ("from", from is { } f ? Text(f) : null), ("to", to is { } t ? Text(t) : null),
                ("limit", limit is { } l ? Text(l) : null)),
            null,
            cancellationToken);

    /// <summary>
    /// Stores one chunk of a label file (CSV with its <c>request_id,label</c> header, or JSON lines) as feedback for an
    /// endpoint; <paramref name="firstLine"/> is the file line of the chunk's first line, so errors name the file's lines.
    /// Returns the labels stored; a bad line stores nothing of the chunk.
    /// </summary>
    public async Task<int> SendLabelsAsync(string endpoint, string format, int firstLine, string text, CancellationToken cancellationToken = default)
    {
        var url = "v1/endpoints/" + Uri.EscapeDataString(endpoint) + "/feedback/batch?format=" + Uri.EscapeDataString(format) + "&first_line=" + Text(firstLine);
        using var content = new StringContent(text, System.Text.Encoding.UTF8, format == "csv" ? "text/csv" : "application/x-ndjson");
        var answer = await SendAsync<JsonElement>(HttpMethod.Post, url, content, cancellationToken).ConfigureAwait(false);
        return answer.GetProperty("stored").GetInt32();
    }

    /// <summary>Stores a model version's reference profile (the drift profile JSON of its training data) for monitoring.</summary>
    public async Task PutReferenceProfileAsync(string project, string model, int version, byte[] profile, CancellationToken cancellationToken = default)
    {
        using var content = new ByteArrayContent(profile);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        await SendAsync(HttpMethod.Put, P(project, "models", model, "versions", Text(version), "reference-profile"), content, cancellationToken).ConfigureAwait(false);
    }
}
