using System.CommandLine;
using System.Globalization;
using Strata.Api;
using Strata.Client;
using Strata.Postgres;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>
/// What the registry commands need, from the local home (acting as its owner, an admin) or from a server (as the API
/// key's principal). Every command goes through this one interface, so it behaves the same on both.
/// </summary>
internal interface IStrataBackend : IAsyncDisposable
{
    /// <summary>Where the data is ("home /path" or "server URL"), for messages.</summary>
    string Where { get; }

    Task<Project> CreateProjectAsync(string name, string? description, CancellationToken cancellationToken);

    Task<IReadOnlyList<Project>> ListProjectsAsync(CancellationToken cancellationToken);

    Task<RunPage> SearchRunsAsync(string project, RunSearchRequest search, CancellationToken cancellationToken);

    Task<Run> GetRunAsync(string project, string runId, CancellationToken cancellationToken);

    Task<IReadOnlyList<RegisteredModel>> ListModelsAsync(string project, CancellationToken cancellationToken);

    Task<RegisteredModel> GetModelAsync(string project, string model, CancellationToken cancellationToken);

    Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string project, string model, CancellationToken cancellationToken);

    Task<ModelVersion> GetVersionAsync(string project, string model, int version, CancellationToken cancellationToken);

    /// <summary>Uploads a package and registers it as the model's next version, creating the model when it is new.</summary>
    Task<ModelVersion> UploadVersionAsync(string project, string model, RegisterVersionRequest registration, Stream package, CancellationToken cancellationToken);

    Task<ModelVersion> SetVersionStatusAsync(string project, string model, int version, VersionStatus status, CancellationToken cancellationToken);

    /// <summary>Stores a version's reference profile (the training data's drift profile, JSON) for monitoring.</summary>
    Task PutReferenceProfileAsync(string project, string model, int version, byte[] profile, CancellationToken cancellationToken);

    Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string project, string model, CancellationToken cancellationToken);

    Task<ModelAlias> GetAliasAsync(string project, string model, string alias, CancellationToken cancellationToken);

    Task<AliasChangeResult> SetAliasAsync(string project, string model, string alias, int version, string? reason, CancellationToken cancellationToken);

    Task<PromotionRequest> RequestPromotionAsync(string project, string model, string alias, int version, string? reason, CancellationToken cancellationToken);

    Task<PromotionRequest> DecidePromotionAsync(string project, string requestId, bool approve, string? reason, CancellationToken cancellationToken);

    Task<IReadOnlyList<PromotionRequest>> ListPromotionsAsync(string project, string? model, ApprovalStatus? status, CancellationToken cancellationToken);

    Task<IReadOnlyList<AliasMove>> GetAliasHistoryAsync(string project, string model, string alias, CancellationToken cancellationToken);

    Task<int?> ResolveAliasAtAsync(string project, string model, string alias, long time, CancellationToken cancellationToken);

    Task<LineageGraph> GetVersionLineageAsync(string project, string model, int version, bool upstream, CancellationToken cancellationToken);

    Task<AuditVerification> VerifyAuditAsync(string? project, CancellationToken cancellationToken);

    Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(string? project, long from, int count, CancellationToken cancellationToken);

    Task<CreatedKey> CreateKeyAsync(string project, string principal, Role role, string? description, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(string? project, CancellationToken cancellationToken);

    Task RevokeKeyAsync(string? project, string keyId, CancellationToken cancellationToken);

    Task<GarbageCollectionReport> CollectGarbageAsync(bool dryRun, TimeSpan grace, TimeSpan retention, CancellationToken cancellationToken);
}

/// <summary>
/// The options that pick a backend: <c>--server URL</c> (with <c>--api-key</c> or $STRATA_API_KEY) for a remote
/// server; otherwise the local home (<c>--home</c>), optionally with <c>--postgres</c> for its metadata. One instance
/// per command group (System.CommandLine options belong to one parent), recursive to its subcommands.
/// </summary>
internal sealed class BackendOptions
{
    public Option<string?> Server { get; } = new("--server") { Description = "A Strata server's URL (default: $STRATA_SERVER, else the local home)", Recursive = true };

    public Option<string?> ApiKey { get; } = new("--api-key") { Description = "API key for --server (default: $STRATA_API_KEY)", Recursive = true };

    public Option<string?> Postgres { get; } = new("--postgres") { Description = "Local only: a PostgreSQL connection string holding the metadata instead of the home's SQLite file", Recursive = true };

    public void AddTo(Command command)
    {
        command.Add(Server);
        command.Add(ApiKey);
        command.Add(Postgres);
    }

    /// <summary>Opens the backend a command line asks for.</summary>
    public async Task<IStrataBackend> OpenAsync(ParseResult parse, CliContext context, CancellationToken cancellationToken)
    {
        var server = parse.GetValue(Server) ?? Environment.GetEnvironmentVariable("STRATA_SERVER");
        var postgres = parse.GetValue(Postgres);
        if (!string.IsNullOrEmpty(server))
        {
            if (postgres is not null)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, "--postgres is for the local home; a server chooses its own store (strata serve --postgres)");
            }

            if (!Uri.TryCreate(server, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"--server must be an http:// or https:// URL, not '{server}'");
            }

            var key = parse.GetValue(ApiKey) ?? Environment.GetEnvironmentVariable("STRATA_API_KEY");
            return new RemoteBackend(StrataClient.Create(url, key));
        }

        var metadata = string.IsNullOrEmpty(postgres) ? null : await PostgresMetadataStore.OpenAsync(postgres, cancellationToken: cancellationToken).ConfigureAwait(false);
        var home = await StrataHome.OpenAsync(context.Home, metadata, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new LocalBackend(home);
    }
}

/// <summary>The local home, through the engine's registry service, as its owner.</summary>
internal sealed class LocalBackend(StrataHome home) : IStrataBackend
{
    private readonly RegistryService _registry = new(home.Metadata, home.Artifacts);

    private static Caller Me => Caller.Local;

    public string Where => $"home {home.Path}";

    public ValueTask DisposeAsync() => home.DisposeAsync();

    public Task<Project> CreateProjectAsync(string name, string? description, CancellationToken cancellationToken) =>
        _registry.CreateProjectAsync(Me, name, description, cancellationToken);

    public Task<IReadOnlyList<Project>> ListProjectsAsync(CancellationToken cancellationToken) => _registry.ListProjectsAsync(Me, cancellationToken);

    public Task<RunPage> SearchRunsAsync(string project, RunSearchRequest search, CancellationToken cancellationToken) =>
        _registry.SearchRunsAsync(Me, project, new RunQuery { Filter = search.Filter, OrderBy = search.OrderBy, MaxResults = search.MaxResults, PageToken = search.PageToken }, search.Experiments, cancellationToken);

    public Task<Run> GetRunAsync(string project, string runId, CancellationToken cancellationToken) => _registry.GetRunAsync(Me, project, runId, cancellationToken);

    public Task<IReadOnlyList<RegisteredModel>> ListModelsAsync(string project, CancellationToken cancellationToken) => _registry.ListModelsAsync(Me, project, cancellationToken);

    public Task<RegisteredModel> GetModelAsync(string project, string model, CancellationToken cancellationToken) => _registry.GetModelAsync(Me, project, model, cancellationToken);

    public Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string project, string model, CancellationToken cancellationToken) =>
        _registry.ListVersionsAsync(Me, project, model, cancellationToken);

    public Task<ModelVersion> GetVersionAsync(string project, string model, int version, CancellationToken cancellationToken) =>
        _registry.GetVersionAsync(Me, project, model, version, cancellationToken);

    public async Task<ModelVersion> UploadVersionAsync(string project, string model, RegisterVersionRequest registration, Stream package, CancellationToken cancellationToken)
    {
        if (await home.Metadata.Registry.GetModelAsync(project, model, cancellationToken).ConfigureAwait(false) is null)
        {
            await _registry.CreateModelAsync(Me, project, model, null, null, cancellationToken).ConfigureAwait(false);
        }

        return await _registry.UploadVersionAsync(Me, project, model, VersionRegistration.From(registration), package, cancellationToken).ConfigureAwait(false);
    }

    public async Task PutReferenceProfileAsync(string project, string model, int version, byte[] profile, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(profile, writable: false);
        await _registry.PutReferenceProfileAsync(Me, project, model, version, stream, cancellationToken).ConfigureAwait(false);
    }

    public Task<ModelVersion> SetVersionStatusAsync(string project, string model, int version, VersionStatus status, CancellationToken cancellationToken) =>
        _registry.SetVersionStatusAsync(Me, project, model, version, status, cancellationToken);

    public Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string project, string model, CancellationToken cancellationToken) =>
        _registry.ListAliasesAsync(Me, project, model, cancellationToken);

    public Task<ModelAlias> GetAliasAsync(string project, string model, string alias, CancellationToken cancellationToken) =>
        _registry.GetAliasAsync(Me, project, model, alias, cancellationToken);

    public async Task<AliasChangeResult> SetAliasAsync(string project, string model, string alias, int version, string? reason, CancellationToken cancellationToken)
    {
        var change = await _registry.SetAliasAsync(Me, project, model, alias, version, reason, cancellationToken).ConfigureAwait(false);
        return new AliasChangeResult((AliasOutcome)(int)change.Outcome, change.Alias, change.Promotion);
    }

    public Task<PromotionRequest> RequestPromotionAsync(string project, string model, string alias, int version, string? reason, CancellationToken cancellationToken) =>
        _registry.RequestPromotionAsync(Me, project, model, alias, version, reason, cancellationToken);

    public Task<PromotionRequest> DecidePromotionAsync(string project, string requestId, bool approve, string? reason, CancellationToken cancellationToken) =>
        approve
            ? _registry.ApprovePromotionAsync(Me, project, requestId, reason, cancellationToken)
            : _registry.RejectPromotionAsync(Me, project, requestId, reason, cancellationToken);

    public Task<IReadOnlyList<PromotionRequest>> ListPromotionsAsync(string project, string? model, ApprovalStatus? status, CancellationToken cancellationToken) =>
        _registry.ListPromotionsAsync(Me, project, model, status, cancellationToken);

    public Task<IReadOnlyList<AliasMove>> GetAliasHistoryAsync(string project, string model, string alias, CancellationToken cancellationToken) =>
        _registry.GetAliasHistoryAsync(Me, project, model, alias, cancellationToken);

    public Task<int?> ResolveAliasAtAsync(string project, string model, string alias, long time, CancellationToken cancellationToken) =>
        _registry.ResolveAliasAtAsync(Me, project, model, alias, time, cancellationToken);

    public Task<LineageGraph> GetVersionLineageAsync(string project, string model, int version, bool upstream, CancellationToken cancellationToken) =>
        _registry.GetVersionLineageAsync(Me, project, model, version, upstream, cancellationToken: cancellationToken);

    public Task<AuditVerification> VerifyAuditAsync(string? project, CancellationToken cancellationToken) => _registry.VerifyAuditAsync(Me, project, cancellationToken);

    public Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(string? project, long from, int count, CancellationToken cancellationToken) =>
        _registry.ReadAuditAsync(Me, project, from, count, cancellationToken);

    public async Task<CreatedKey> CreateKeyAsync(string project, string principal, Role role, string? description, CancellationToken cancellationToken)
    {
        var issued = await _registry.CreateKeyAsync(Me, project, principal, role, description, cancellationToken).ConfigureAwait(false);
        return new CreatedKey(ApiKeyInfo.From(issued.Key), issued.Token);
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(string? project, CancellationToken cancellationToken) =>
        (await _registry.ListKeysAsync(Me, project, cancellationToken).ConfigureAwait(false)).Select(ApiKeyInfo.From).ToList();

    public Task RevokeKeyAsync(string? project, string keyId, CancellationToken cancellationToken) => _registry.RevokeKeyAsync(Me, project, keyId, cancellationToken);

    public async Task<GarbageCollectionReport> CollectGarbageAsync(bool dryRun, TimeSpan grace, TimeSpan retention, CancellationToken cancellationToken)
    {
        var report = await _registry.CollectGarbageAsync(Me, grace, retention, dryRun, cancellationToken).ConfigureAwait(false);
        return new GarbageCollectionReport(report.Blobs, report.Referenced, report.Deleted, report.BytesFreed, report.KeptForGrace, dryRun);
    }
}

/// <summary>A Strata server, through the typed client, as the API key's principal.</summary>
internal sealed class RemoteBackend(StrataClient client) : IStrataBackend
{
    public string Where => $"server {client.Server}";

    public ValueTask DisposeAsync()
    {
        client.Dispose();
        return ValueTask.CompletedTask;
    }

    public Task<Project> CreateProjectAsync(string name, string? description, CancellationToken cancellationToken) => client.CreateProjectAsync(name, description, cancellationToken);

    public async Task<IReadOnlyList<Project>> ListProjectsAsync(CancellationToken cancellationToken) => await client.ListProjectsAsync(cancellationToken).ConfigureAwait(false);

    public Task<RunPage> SearchRunsAsync(string project, RunSearchRequest search, CancellationToken cancellationToken) => client.SearchRunsAsync(project, search, cancellationToken);

    public Task<Run> GetRunAsync(string project, string runId, CancellationToken cancellationToken) => client.GetRunAsync(project, runId, cancellationToken);

    public async Task<IReadOnlyList<RegisteredModel>> ListModelsAsync(string project, CancellationToken cancellationToken) => await client.ListModelsAsync(project, cancellationToken).ConfigureAwait(false);

    public Task<RegisteredModel> GetModelAsync(string project, string model, CancellationToken cancellationToken) => client.GetModelAsync(project, model, cancellationToken);

    public async Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string project, string model, CancellationToken cancellationToken) =>
        await client.ListVersionsAsync(project, model, cancellationToken).ConfigureAwait(false);

    public Task<ModelVersion> GetVersionAsync(string project, string model, int version, CancellationToken cancellationToken) => client.GetVersionAsync(project, model, version, cancellationToken);

    public async Task<ModelVersion> UploadVersionAsync(string project, string model, RegisterVersionRequest registration, Stream package, CancellationToken cancellationToken)
    {
        try
        {
            await client.GetModelAsync(project, model, cancellationToken).ConfigureAwait(false);
        }
        catch (StrataApiException e) when (e.Status == 404)
        {
            await client.CreateModelAsync(project, model, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return await client.UploadVersionAsync(project, model, registration, package, cancellationToken).ConfigureAwait(false);
    }

    public Task PutReferenceProfileAsync(string project, string model, int version, byte[] profile, CancellationToken cancellationToken) =>
        client.PutReferenceProfileAsync(project, model, version, profile, cancellationToken);

    public Task<ModelVersion> SetVersionStatusAsync(string project, string model, int version, VersionStatus status, CancellationToken cancellationToken) =>
        client.SetVersionStatusAsync(project, model, version, status, cancellationToken);

    public async Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string project, string model, CancellationToken cancellationToken) =>
        await client.ListAliasesAsync(project, model, cancellationToken).ConfigureAwait(false);

    public Task<ModelAlias> GetAliasAsync(string project, string model, string alias, CancellationToken cancellationToken) => client.GetAliasAsync(project, model, alias, cancellationToken);

    public Task<AliasChangeResult> SetAliasAsync(string project, string model, string alias, int version, string? reason, CancellationToken cancellationToken) =>
        client.SetAliasAsync(project, model, alias, version, reason, cancellationToken);

    public Task<PromotionRequest> RequestPromotionAsync(string project, string model, string alias, int version, string? reason, CancellationToken cancellationToken) =>
        client.RequestPromotionAsync(project, model, alias, version, reason, cancellationToken);

    public Task<PromotionRequest> DecidePromotionAsync(string project, string requestId, bool approve, string? reason, CancellationToken cancellationToken) =>
        approve ? client.ApprovePromotionAsync(project, requestId, reason, cancellationToken) : client.RejectPromotionAsync(project, requestId, reason, cancellationToken);

    public async Task<IReadOnlyList<PromotionRequest>> ListPromotionsAsync(string project, string? model, ApprovalStatus? status, CancellationToken cancellationToken) =>
        await client.ListPromotionsAsync(project, model, status, cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlyList<AliasMove>> GetAliasHistoryAsync(string project, string model, string alias, CancellationToken cancellationToken) =>
        await client.GetAliasHistoryAsync(project, model, alias, cancellationToken).ConfigureAwait(false);

    public async Task<int?> ResolveAliasAtAsync(string project, string model, string alias, long time, CancellationToken cancellationToken) =>
        (await client.ResolveAliasAsync(project, model, alias, new DateTimeOffset(Timestamp.ToDateTime(time)), cancellationToken).ConfigureAwait(false)).Version;

    public Task<LineageGraph> GetVersionLineageAsync(string project, string model, int version, bool upstream, CancellationToken cancellationToken) =>
        client.GetVersionLineageAsync(project, model, version, upstream, cancellationToken: cancellationToken);

    public Task<AuditVerification> VerifyAuditAsync(string? project, CancellationToken cancellationToken) => client.VerifyAuditAsync(project, cancellationToken);

    public async Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(string? project, long from, int count, CancellationToken cancellationToken) =>
        await client.ReadAuditAsync(project, from, count, cancellationToken).ConfigureAwait(false);

    public Task<CreatedKey> CreateKeyAsync(string project, string principal, Role role, string? description, CancellationToken cancellationToken) =>
        project == Principal.AnyProject
            ? client.CreateKeyAsync(null, new CreateKeyRequest(principal, role, description, project), cancellationToken)
            : client.CreateKeyAsync(project, new CreateKeyRequest(principal, role, description), cancellationToken);

    public async Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(string? project, CancellationToken cancellationToken) => await client.ListKeysAsync(project, cancellationToken).ConfigureAwait(false);

    public Task RevokeKeyAsync(string? project, string keyId, CancellationToken cancellationToken) => client.RevokeKeyAsync(project, keyId, cancellationToken);

    public Task<GarbageCollectionReport> CollectGarbageAsync(bool dryRun, TimeSpan grace, TimeSpan retention, CancellationToken cancellationToken) =>
        client.CollectGarbageAsync(dryRun, grace, retention, cancellationToken);
}

/// <summary>Helpers the registry commands share.</summary>
internal static class RegistryCli
{
    /// <summary>The --project option (default $STRATA_PROJECT).</summary>
    public static Option<string?> ProjectOption() =>
        new("--project", "-p") { Description = "The project (default: $STRATA_PROJECT)" };

    /// <summary>The project a command acts in; a usage error when there is none.</summary>
    public static string Project(ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) ?? Environment.GetEnvironmentVariable("STRATA_PROJECT")
        ?? throw new StrataException(ErrorCodes.ArgumentInvalid, "which project? pass --project NAME (or set STRATA_PROJECT)");


    /// <summary>Parses a time: ISO 8601 (UTC) or UTC microseconds.</summary>
    public static long ParseTime(string option, string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var micros))
        {
            return micros;
        }

        return Timestamp.TryParse(text, out micros)
            ? micros
            : throw new StrataException(ErrorCodes.ArgumentInvalid, $"{option} must be an ISO 8601 time (2026-01-01T12:00:00Z) or UTC microseconds, not '{text}'");
    }

    /// <summary>A time for people.</summary>
    public static string Time(long micros) => Timestamp.Format(micros - (micros % Timestamp.MicrosPerSecond));

    /// <summary>A number for people.</summary>
    public static string Number(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>
    /// Splits a model reference: <c>model:NAME@ALIAS</c>, <c>model:NAME/VERSION</c> or <c>NAME</c> (the "model:" is optional).
    /// </summary>
    public static async Task<ModelVersion> ResolveModelAsync(IStrataBackend backend, string project, string reference, CancellationToken cancellationToken)
    {
        var named = ModelReference.Parse(reference);
        if (named.Alias is { } aliasName)
        {
            var alias = await backend.GetAliasAsync(project, named.Model, aliasName, cancellationToken).ConfigureAwait(false);
            return await backend.GetVersionAsync(project, alias.Model, alias.Version, cancellationToken).ConfigureAwait(false);
        }

        if (named.Version is { } number)
        {
            return await backend.GetVersionAsync(project, named.Model, number, cancellationToken).ConfigureAwait(false);
        }

        var versions = await backend.ListVersionsAsync(project, named.Model, cancellationToken).ConfigureAwait(false);
        return versions.Count > 0 ? versions[0] : throw new StrataException(ErrorCodes.NotFound, $"model '{named.Model}' has no versions");
    }
}
