using Strata.Stores;

namespace Strata.Storage.Sql;

// Registered models, versions, aliases with their history, promotion requests.
internal sealed partial class SqlMetadataStore
{
    private static readonly List<string> DefaultProtected = ["champion"];

    async Task<RegisteredModel> IModelRegistryStore.CreateModelAsync(string project, string name, string? description, IReadOnlyDictionary<string, string>? tags, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("model", name);
        CheckText("description", description, 65536);
        CheckMap("tags", tags);
        return await WriteAsync(actor, "model.create", project, name, async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            if (await db.Scalar<long>("SELECT COUNT(*) FROM models WHERE project = @project AND name = @name", new { project, name }).ConfigureAwait(false) > 0)
            {
                throw Conflict($"model '{name}' already exists in project '{project}'");
            }

            var model = new RegisteredModel(project, name, description, Now(), tags ?? new Dictionary<string, string>(), DefaultProtected, false);
            await db.Execute(
                "INSERT INTO models (project, name, description, created_at, archived, protected_aliases, tags) VALUES (@project, @name, @description, @now, 0, @protectedAliases, @tags)",
                new { project, name, description, now = model.CreatedAt, protectedAliases = Json(DefaultProtected), tags = Json(model.Tags.ToDictionary()) }).ConfigureAwait(false);
            return (model, (string?)null);
        }, cancellationToken).ConfigureAwait(false);
    }

    Task<RegisteredModel?> IModelRegistryStore.GetModelAsync(string project, string name, CancellationToken cancellationToken) =>
        ReadAsync(async db => (await db.First<ModelRow?>(ModelSelect + " WHERE project = @project AND name = @name", new { project, name }).ConfigureAwait(false))?.ToModel(), cancellationToken);

    async Task<IReadOnlyList<RegisteredModel>> IModelRegistryStore.ListModelsAsync(string project, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            return (IReadOnlyList<RegisteredModel>)(await db.Query<ModelRow>(ModelSelect + " WHERE project = @project ORDER BY name", new { project }).ConfigureAwait(false)).Select(m => m.ToModel()).ToList();
        }, cancellationToken).ConfigureAwait(false);

    async Task<ModelVersion> IModelRegistryStore.CreateVersionAsync(string project, string model, ModelVersionSpec spec, Actor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        BlobInfo.CheckDigest(spec.ArtifactDigest);
        CheckText("signature", spec.Signature, 1 << 20);
        CheckText("learner", spec.Learner, 100);
        CheckText("description", spec.Description, 65536);
        CheckMap("tags", spec.Tags);
        foreach (var (key, value) in spec.Metrics)
        {
            Names.Check("metrics.key", key, NameKind.Key);
            if (double.IsNaN(value))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'metrics.{key}' is NaN");
            }
        }

        return await WriteAsync(actor, "model.version.create", project, model, async db =>
        {
            var m = await RequireModelAsync(db, project, model).ConfigureAwait(false);
            if (m.Archived)
            {
                throw Conflict($"model '{model}' is archived");
            }

            if (spec.RunId is { } runId)
            {
                await RequireRunAsync(db, project, runId).ConfigureAwait(false);
            }

            var version = (int)(await db.Scalar<long?>("SELECT MAX(version) FROM model_versions WHERE project = @project AND model = @model", new { project, model }).ConfigureAwait(false) ?? 0) + 1;
            var created = new ModelVersion(project, model, version, spec.RunId, spec.ArtifactDigest, spec.ArtifactSize, spec.Signature, spec.Learner,
                spec.Metrics, spec.Description, spec.Tags, VersionStatus.Ready, Now(), actor.Principal);
            await db.Execute(
                "INSERT INTO model_versions (project, model, version, run_id, artifact_digest, artifact_size, signature, learner, metrics, description, tags, status, status_at, created_at, created_by) " +
                "VALUES (@Project, @Model, @Version, @RunId, @ArtifactDigest, @ArtifactSize, @Signature, @Learner, @metrics, @Description, @tags, 'ready', @CreatedAt, @CreatedAt, @CreatedBy)",
                new
                {
                    created.Project, created.Model, created.Version, created.RunId, created.ArtifactDigest, created.ArtifactSize, created.Signature, created.Learner,
                    metrics = Json(created.Metrics.ToDictionary()), created.Description, tags = Json(created.Tags.ToDictionary()), created.CreatedAt, created.CreatedBy,
                }).ConfigureAwait(false);
            return (created, $"version={version} digest={spec.ArtifactDigest}");
        }, cancellationToken).ConfigureAwait(false);
    }

    Task<ModelVersion?> IModelRegistryStore.GetVersionAsync(string project, string model, int version, CancellationToken cancellationToken) =>
        ReadAsync(async db => (await db.First<VersionRow?>(VersionSelect + " WHERE project = @project AND model = @model AND version = @version", new { project, model, version }).ConfigureAwait(false))?.ToVersion(), cancellationToken);

    async Task<IReadOnlyList<ModelVersion>> IModelRegistryStore.ListVersionsAsync(string project, string model, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            await RequireModelAsync(db, project, model).ConfigureAwait(false);
            return (IReadOnlyList<ModelVersion>)(await db.Query<VersionRow>(VersionSelect + " WHERE project = @project AND model = @model ORDER BY version DESC", new { project, model }).ConfigureAwait(false))
                .Select(v => v.ToVersion()).ToList();
        }, cancellationToken).ConfigureAwait(false);

    async Task<ModelVersion> IModelRegistryStore.SetVersionStatusAsync(string project, string model, int version, VersionStatus status, Actor actor, CancellationToken cancellationToken) =>
        await WriteAsync(actor, "model.version.status", project, $"{model}/{version}", async db =>
        {
            var current = await RequireVersionAsync(db, project, model, version).ConfigureAwait(false);
            if (current.Status == VersionStatus.Deleted && status != VersionStatus.Deleted)
            {
                throw Conflict($"version {version} of '{model}' is deleted");
            }

            if (status != VersionStatus.Ready)
            {
                var alias = await db.Scalar<string?>("SELECT alias FROM model_aliases WHERE project = @project AND model = @model AND version = @version", new { project, model, version }).ConfigureAwait(false);
                if (alias is not null)
                {
                    throw Conflict($"alias '{alias}' points at version {version} of '{model}'; move it first");
                }

                if (await EndpointNamingAsync(db, project, model, r => r.Version == version).ConfigureAwait(false) is { } named)
                {
                    throw Conflict($"endpoint '{named.Endpoint}' serves version {version} of '{model}' (its {named.Role}, {Text(named.Reference)}); change its deployment first");
                }
            }

            await db.Execute(
                "UPDATE model_versions SET status = @s, status_at = @now WHERE project = @project AND model = @model AND version = @version",
                new { s = status.ToString().ToLowerInvariant(), now = Now(), project, model, version }).ConfigureAwait(false);
            return (current with { Status = status }, $"status={status.ToString().ToLowerInvariant()}");
        }, cancellationToken).ConfigureAwait(false);

    async Task<RegisteredModel> IModelRegistryStore.SetProtectedAliasesAsync(string project, string model, IReadOnlyList<string> aliases, Actor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(aliases);
        foreach (var a in aliases)
        {
            Names.Check("aliases", a);
        }

        return await WriteAsync(actor, "model.protect", project, model, async db =>
        {
            var m = await RequireModelAsync(db, project, model).ConfigureAwait(false);
            var list = aliases.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            await db.Execute("UPDATE models SET protected_aliases = @json WHERE project = @project AND name = @model", new { json = Json(list), project, model }).ConfigureAwait(false);
            return (m with { ProtectedAliases = list }, string.Join(",", list));
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<ModelAlias?> IModelRegistryStore.MoveAliasAsync(string project, string model, string aliasName, int? version, string? reason, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("alias", aliasName);
        CheckText("reason", reason, 4000);
        return await WriteAsync(actor, "model.alias.move", project, $"{model}@{aliasName}", async db =>
        {
            var m = await RequireModelAsync(db, project, model).ConfigureAwait(false);
            if (m.ProtectedAliases.Contains(aliasName))
            {
                throw new StrataException(ErrorCodes.Forbidden, $"alias '{aliasName}' of '{model}' is protected: it moves only through an approved promotion request");
            }

            var moved = await MoveAsync(db, actor, project, model, aliasName, version, reason, approvalId: null).ConfigureAwait(false);
            return (moved, $"to={version?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<PromotionRequest> IModelRegistryStore.RequestPromotionAsync(string project, string model, string aliasName, int version, string? reason, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("alias", aliasName);
        CheckText("reason", reason, 4000);
        return await WriteAsync(actor, "model.promotion.request", project, $"{model}@{aliasName}", async db =>
        {
            await RequireModelAsync(db, project, model).ConfigureAwait(false);
            var v = await RequireVersionAsync(db, project, model, version).ConfigureAwait(false);
            if (v.Status != VersionStatus.Ready)
            {
                throw Conflict($"version {version} of '{model}' is {v.Status.ToString().ToLowerInvariant()}");
            }

            var request = new PromotionRequest(Guid.NewGuid().ToString("N"), project, model, aliasName, version, actor.Principal, Now(), reason, ApprovalStatus.Pending, null, null, null);
            await db.Execute(
                "INSERT INTO promotions (id, project, model, alias, version, requested_by, requested_at, reason, status) " +
                "VALUES (@Id, @Project, @Model, @Alias, @Version, @RequestedBy, @RequestedAt, @Reason, 'pending')", request).ConfigureAwait(false);
            return (request, $"id={request.Id} version={version}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<PromotionRequest> IModelRegistryStore.DecidePromotionAsync(string project, string requestId, bool approve, string? reason, Actor actor, CancellationToken cancellationToken)
    {
        CheckText("reason", reason, 4000);
        return await WriteAsync(actor, approve ? "model.promotion.approve" : "model.promotion.reject", project, requestId, async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            var row = await db.First<PromotionRow?>(PromotionSelect + " WHERE project = @project AND id = @requestId", new { project, requestId }).ConfigureAwait(false)
                ?? throw NotFound($"no promotion request '{requestId}' in project '{project}'");
            var request = row.ToRequest();
            if (request.Status != ApprovalStatus.Pending)
            {
                throw Conflict($"promotion request '{requestId}' is already {request.Status.ToString().ToLowerInvariant()}");
            }

            var now = Now();
            var status = approve ? ApprovalStatus.Approved : ApprovalStatus.Rejected;
            if (approve)
            {
                await MoveAsync(db, actor, project, request.Model, request.Alias, request.Version, reason ?? request.Reason, request.Id).ConfigureAwait(false);

                // Other pending requests for the same alias are overtaken by this move.
                await db.Execute(
                    "UPDATE promotions SET status = 'cancelled', decided_by = @by, decided_at = @now, decision_reason = @why " +
                    "WHERE project = @project AND model = @model AND alias = @alias AND status = 'pending' AND id <> @id",
                    new { by = actor.Principal, now, why = $"overtaken by request {request.Id}", project, model = request.Model, alias = request.Alias, id = request.Id }).ConfigureAwait(false);
            }

            await db.Execute(
                "UPDATE promotions SET status = @s, decided_by = @by, decided_at = @now, decision_reason = @reason WHERE id = @requestId",
                new { s = status.ToString().ToLowerInvariant(), by = actor.Principal, now, reason, requestId }).ConfigureAwait(false);
            return (request with { Status = status, DecidedBy = actor.Principal, DecidedAt = now, DecisionReason = reason }, $"{request.Model}@{request.Alias} -> {request.Version}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<IReadOnlyList<PromotionRequest>> IModelRegistryStore.ListPromotionsAsync(string project, string? model, ApprovalStatus? status, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            var sql = PromotionSelect + " WHERE project = @project" + (model is null ? "" : " AND model = @model") + (status is null ? "" : " AND status = @s") + " ORDER BY requested_at DESC, id";
            return (IReadOnlyList<PromotionRequest>)(await db.Query<PromotionRow>(sql, new { project, model, s = status?.ToString().ToLowerInvariant() }).ConfigureAwait(false))
                .Select(r => r.ToRequest()).ToList();
        }, cancellationToken).ConfigureAwait(false);

    Task<ModelAlias?> IModelRegistryStore.GetAliasAsync(string project, string model, string aliasName, CancellationToken cancellationToken) =>
        ReadAsync(async db =>
        {
            var m = await db.First<ModelRow?>(ModelSelect + " WHERE project = @project AND name = @model", new { project, model }).ConfigureAwait(false);
            var row = await db.First<AliasRow?>(AliasSelect + " WHERE project = @project AND model = @model AND alias = @aliasName", new { project, model, aliasName }).ConfigureAwait(false);
            return row is null || m is null ? null : row.ToAlias(m.ToModel());
        }, cancellationToken);

    async Task<IReadOnlyList<ModelAlias>> IModelRegistryStore.ListAliasesAsync(string project, string model, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            var m = (await RequireModelAsync(db, project, model).ConfigureAwait(false));
            return (IReadOnlyList<ModelAlias>)(await db.Query<AliasRow>(AliasSelect + " WHERE project = @project AND model = @model ORDER BY alias", new { project, model }).ConfigureAwait(false))
                .Select(a => a.ToAlias(m)).ToList();
        }, cancellationToken).ConfigureAwait(false);

    async Task<IReadOnlyList<AliasMove>> IModelRegistryStore.GetAliasHistoryAsync(string project, string model, string aliasName, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            await RequireModelAsync(db, project, model).ConfigureAwait(false);
            return (IReadOnlyList<AliasMove>)(await db.Query<MoveRow>(MoveSelect + " WHERE project = @project AND model = @model AND alias = @aliasName ORDER BY sequence", new { project, model, aliasName }).ConfigureAwait(false))
                .Select(r => r.ToMove()).ToList();
        }, cancellationToken).ConfigureAwait(false);

    async Task<int?> IModelRegistryStore.ResolveAliasAtAsync(string project, string model, string aliasName, long time, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            await RequireModelAsync(db, project, model).ConfigureAwait(false);
            var move = await db.First<MoveRow?>(
                MoveSelect + " WHERE project = @project AND model = @model AND alias = @aliasName AND time <= @time ORDER BY sequence DESC LIMIT 1",
                new { project, model, aliasName, time }).ConfigureAwait(false);
            return move?.ToVersion is { } v ? (int?)v : null;
        }, cancellationToken).ConfigureAwait(false);

    /// <summary>Moves an alias and records the move (the caller has checked protection or approval).</summary>
    private async Task<ModelAlias?> MoveAsync(Db db, Actor actor, string project, string model, string aliasName, int? version, string? reason, string? approvalId)
    {
        var m = await RequireModelAsync(db, project, model).ConfigureAwait(false);
        if (version is { } v)
        {
            var target = await RequireVersionAsync(db, project, model, v).ConfigureAwait(false);
            if (target.Status != VersionStatus.Ready)
            {
                throw Conflict($"version {v} of '{model}' is {target.Status.ToString().ToLowerInvariant()}; an alias cannot point at it");
            }
        }
        else if (await EndpointNamingAsync(db, project, model, r => r.Alias == aliasName).ConfigureAwait(false) is { } named)
        {
            throw Conflict($"endpoint '{named.Endpoint}' serves alias '{aliasName}' of '{model}' (its {named.Role}, {Text(named.Reference)}); change its deployment first");
        }

        var now = Now();
        var from = await db.Scalar<long?>("SELECT version FROM model_aliases WHERE project = @project AND model = @model AND alias = @aliasName", new { project, model, aliasName }).ConfigureAwait(false);
        var sequence = (await db.Scalar<long?>("SELECT MAX(sequence) FROM alias_moves WHERE project = @project AND model = @model AND alias = @aliasName", new { project, model, aliasName }).ConfigureAwait(false) ?? 0) + 1;
        await db.Execute(
            "INSERT INTO alias_moves (project, model, alias, sequence, from_version, to_version, principal, time, reason, approval_id) " +
            "VALUES (@project, @model, @aliasName, @sequence, @from, @version, @principal, @now, @reason, @approvalId)",
            new { project, model, aliasName, sequence, from, version, principal = actor.Principal, now, reason, approvalId }).ConfigureAwait(false);
        if (version is null)
        {
            await db.Execute("DELETE FROM model_aliases WHERE project = @project AND model = @model AND alias = @aliasName", new { project, model, aliasName }).ConfigureAwait(false);
            return null;
        }

        await db.Execute(
            "INSERT INTO model_aliases (project, model, alias, version, updated_at, updated_by) VALUES (@project, @model, @aliasName, @version, @now, @principal) " +
            "ON CONFLICT (project, model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            new { project, model, aliasName, version, now, principal = actor.Principal }).ConfigureAwait(false);
        return new ModelAlias(project, model, aliasName, version.Value, m.ProtectedAliases.Contains(aliasName), now, actor.Principal);
    }

    private static string Text(ModelReference reference) =>
        reference.Alias is { } alias ? $"{reference.Model}@{alias}" : $"{reference.Model}/{reference.Version?.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    private static async Task<RegisteredModel> RequireModelAsync(Db db, string project, string model)
    {
        await RequireProjectAsync(db, project).ConfigureAwait(false);
        var row = await db.First<ModelRow?>(ModelSelect + " WHERE project = @project AND name = @model", new { project, model }).ConfigureAwait(false);
        return row?.ToModel() ?? throw NotFound($"no model '{model}' in project '{project}'");
    }

    private static async Task<ModelVersion> RequireVersionAsync(Db db, string project, string model, int version)
    {
        var row = await db.First<VersionRow?>(VersionSelect + " WHERE project = @project AND model = @model AND version = @version", new { project, model, version }).ConfigureAwait(false);
        return row?.ToVersion() ?? throw NotFound($"no version {version} of model '{model}' in project '{project}'");
    }

    private const string ModelSelect =
        "SELECT project AS Project, name AS Name, description AS Description, created_at AS CreatedAt, archived AS Archived, protected_aliases AS ProtectedAliases, tags AS Tags FROM models";

    private const string VersionSelect =
        "SELECT project AS Project, model AS Model, version AS Version, run_id AS RunId, artifact_digest AS ArtifactDigest, artifact_size AS ArtifactSize, " +
        "signature AS Signature, learner AS Learner, metrics AS Metrics, description AS Description, tags AS Tags, status AS Status, created_at AS CreatedAt, created_by AS CreatedBy FROM model_versions";

    private const string AliasSelect = "SELECT alias AS Alias, version AS Version, updated_at AS UpdatedAt, updated_by AS UpdatedBy, project AS Project, model AS Model FROM model_aliases";

    private const string MoveSelect =
        "SELECT project AS Project, model AS Model, alias AS Alias, sequence AS Sequence, from_version AS FromVersion, to_version AS ToVersion, principal AS Principal, " +
        "time AS Time, reason AS Reason, approval_id AS ApprovalId FROM alias_moves";

    private const string PromotionSelect =
        "SELECT id AS Id, project AS Project, model AS Model, alias AS Alias, version AS Version, requested_by AS RequestedBy, requested_at AS RequestedAt, reason AS Reason, " +
        "status AS Status, decided_by AS DecidedBy, decided_at AS DecidedAt, decision_reason AS DecisionReason FROM promotions";

    private sealed class ModelRow
    {
        public string Project { get; init; } = "";

        public string Name { get; init; } = "";

        public string? Description { get; init; }

        public long CreatedAt { get; init; }

        public long Archived { get; init; }

        public string ProtectedAliases { get; init; } = "[]";

        public string Tags { get; init; } = "{}";

        public RegisteredModel ToModel() => new(Project, Name, Description, CreatedAt, FromJson(Tags, new Dictionary<string, string>()), FromJson(ProtectedAliases, new List<string>()), Archived != 0);
    }

    private sealed class VersionRow
    {
        public string Project { get; init; } = "";

        public string Model { get; init; } = "";

        public long Version { get; init; }

        public string? RunId { get; init; }

        public string ArtifactDigest { get; init; } = "";

        public long ArtifactSize { get; init; }

        public string? Signature { get; init; }

        public string? Learner { get; init; }

        public string Metrics { get; init; } = "{}";

        public string? Description { get; init; }

        public string Tags { get; init; } = "{}";

        public string Status { get; init; } = "ready";

        public long CreatedAt { get; init; }

        public string CreatedBy { get; init; } = "";

        public ModelVersion ToVersion() => new(Project, Model, (int)Version, RunId, ArtifactDigest, ArtifactSize, Signature, Learner, FromJson(Metrics, new Dictionary<string, double>()),
            Description, FromJson(Tags, new Dictionary<string, string>()), Enum.Parse<VersionStatus>(Status, ignoreCase: true), CreatedAt, CreatedBy);
    }

    private sealed class AliasRow
    {
        public string Project { get; init; } = "";

        public string Model { get; init; } = "";

        public string Alias { get; init; } = "";

        public long Version { get; init; }

        public long UpdatedAt { get; init; }

        public string UpdatedBy { get; init; } = "";

        public ModelAlias ToAlias(RegisteredModel model) => new(Project, Model, Alias, (int)Version, model.ProtectedAliases.Contains(Alias), UpdatedAt, UpdatedBy);
    }

    private sealed class MoveRow
    {
        public string Project { get; init; } = "";

        public string Model { get; init; } = "";

        public string Alias { get; init; } = "";

        public long Sequence { get; init; }

        public long? FromVersion { get; init; }

        public long? ToVersion { get; init; }

        public string Principal { get; init; } = "";

        public long Time { get; init; }

        public string? Reason { get; init; }

        public string? ApprovalId { get; init; }

        public AliasMove ToMove() => new(Project, Model, Alias, Sequence, (int?)FromVersion, (int?)ToVersion, Principal, Time, Reason, ApprovalId);
    }

    private sealed class PromotionRow
    {
        public string Id { get; init; } = "";

        public string Project { get; init; } = "";

        public string Model { get; init; } = "";

        public string Alias { get; init; } = "";

        public long Version { get; init; }

        public string RequestedBy { get; init; } = "";

        public long RequestedAt { get; init; }

        public string? Reason { get; init; }

        public string Status { get; init; } = "pending";

        public string? DecidedBy { get; init; }

        public long? DecidedAt { get; init; }

        public string? DecisionReason { get; init; }

        public PromotionRequest ToRequest() => new(Id, Project, Model, Alias, (int)Version, RequestedBy, RequestedAt, Reason, Enum.Parse<ApprovalStatus>(Status, ignoreCase: true), DecidedBy, DecidedAt, DecisionReason);
    }
}
