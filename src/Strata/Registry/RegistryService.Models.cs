using Strata.Api;
using System.Globalization;
using Strata.Security;
using Strata.Stores;

namespace Strata.Registry;

/// <summary>
/// What is known about a model version at registration: the package's digest (already in the artifact store; null when
/// the package is uploaded in the same call), the run that trained it, its signature JSON, learner and metrics, and the
/// lineage artifacts it was made from.
/// </summary>
public sealed record VersionRegistration
{
    /// <summary>SHA-256 of the package in the artifact store; null when uploading it in the same call.</summary>
    public string? ArtifactDigest { get; init; }

    /// <summary>The run that trained it.</summary>
    public string? RunId { get; init; }

    /// <summary>The model's signature as JSON.</summary>
    public string? Signature { get; init; }

    /// <summary>The learner (gbdt, logistic, xgboost…).</summary>
    public string? Learner { get; init; }

    /// <summary>Metrics at registration.</summary>
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }

    /// <summary>Free text.</summary>
    public string? Description { get; init; }

    /// <summary>Tags.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Ids of lineage artifacts (data sets, training sets) the model was made from.</summary>
    public IReadOnlyList<string>? Inputs { get; init; }

    /// <summary>The engine's registration from the API's request (the same fields; the engine keeps its own type).</summary>
    public static VersionRegistration From(RegisterVersionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new()
        {
            ArtifactDigest = request.ArtifactDigest,
            RunId = request.RunId,
            Signature = request.Signature,
            Learner = request.Learner,
            Metrics = request.Metrics,
            Description = request.Description,
            Tags = request.Tags,
            Inputs = request.Inputs,
        };
    }
}

// Registered models and their versions (with the lineage a registration records).
public sealed partial class RegistryService
{
    /// <summary>The lineage artifact type of a model version.</summary>
    public const string ModelArtifactType = "model";

    /// <summary>Registers a model name.</summary>
    public Task<RegisteredModel> CreateModelAsync(Caller caller, string project, string name, string? description, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        Names.Check("name", name);
        return _metadata.Registry.CreateModelAsync(project, name, description, tags, caller.Actor, cancellationToken);
    }

    /// <summary>The project's models.</summary>
    public Task<IReadOnlyList<RegisteredModel>> ListModelsAsync(Caller caller, string project, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        return _metadata.Registry.ListModelsAsync(project, cancellationToken);
    }

    /// <summary>A model.</summary>
    public async Task<RegisteredModel> GetModelAsync(Caller caller, string project, string model, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("model", model);
        return await _metadata.Registry.GetModelAsync(project, model, cancellationToken).ConfigureAwait(false)
            ?? throw NotFound($"no model '{model}' in project '{project}'");
    }

    /// <summary>Sets which aliases need an approved promotion to move (admins only).</summary>
    public Task<RegisteredModel> SetProtectedAliasesAsync(Caller caller, string project, string model, IReadOnlyList<string> aliases, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Admin);
        Names.Check("model", model);
        ArgumentNullException.ThrowIfNull(aliases);
        return _metadata.Registry.SetProtectedAliasesAsync(project, model, aliases, caller.Actor, cancellationToken);
    }

    /// <summary>
    /// Registers the next version from a package already in the artifact store (its size is taken from the store, not
    /// from the caller), and records its lineage: the model artifact, the run that made it, and the run's inputs.
    /// </summary>
    public async Task<ModelVersion> RegisterVersionAsync(Caller caller, string project, string model, VersionRegistration registration, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        ArgumentNullException.ThrowIfNull(registration);
        Names.Check("model", model);
        if (!BlobInfo.IsDigest(registration.ArtifactDigest))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'artifactDigest' must be 64 lower-case hex characters (the SHA-256 of an uploaded package)");
        }

        var digest = registration.ArtifactDigest!;
        var size = await _artifacts.GetSizeAsync(digest, cancellationToken).ConfigureAwait(false)
            ?? throw NotFound($"no uploaded package with digest {digest} (upload it first)");
        CheckRegistration(registration);
        return await RegisterStoredAsync(caller, project, model, registration, new BlobInfo(digest, size), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Streams a package into the artifact store (within the size limit) and registers it as the next version.</summary>
    public async Task<ModelVersion> UploadVersionAsync(Caller caller, string project, string model, VersionRegistration registration, Stream package, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registration);
        ArgumentNullException.ThrowIfNull(package);

        // Everything that can be refused is checked before the upload is read.
        await GetModelAsync(caller, project, model, cancellationToken).ConfigureAwait(false);
        Require(caller, project, Role.Editor);
        CheckRegistration(registration);
        var blob = await _artifacts.PutAsync(package, _options.MaxArtifactBytes, cancellationToken).ConfigureAwait(false);
        return await RegisterStoredAsync(caller, project, model, registration, blob, cancellationToken).ConfigureAwait(false);
    }

    // The version record and its lineage, for a package known to be in the store (checks done by the caller).
    private async Task<ModelVersion> RegisterStoredAsync(Caller caller, string project, string model, VersionRegistration registration, BlobInfo blob, CancellationToken cancellationToken)
    {
        var inputs = await CheckInputsAsync(project, registration.Inputs, cancellationToken).ConfigureAwait(false);
        var run = registration.RunId is { } runId ? await GetRunAsync(caller, project, runId, cancellationToken).ConfigureAwait(false) : null;
        var spec = new ModelVersionSpec
        {
            ArtifactDigest = blob.Digest,
            ArtifactSize = blob.Size,
            RunId = registration.RunId,
            Signature = registration.Signature,
            Learner = registration.Learner,
            Metrics = registration.Metrics ?? new Dictionary<string, double>(),
            Description = registration.Description,
            Tags = registration.Tags ?? new Dictionary<string, string>(),
        };
        var version = await _metadata.Registry.CreateVersionAsync(project, model, spec, caller.Actor, cancellationToken).ConfigureAwait(false);
        await RecordLineageAsync(caller, version, run, inputs, cancellationToken).ConfigureAwait(false);
        return version;
    }

    /// <summary>
    /// Streams a blob (a model package) into the artifact store within the size limit, to register a version from later.
    /// Until something refers to it, garbage collection keeps it only for its grace period.
    /// </summary>
    public async Task<BlobInfo> PutBlobAsync(Caller caller, string project, Stream content, CancellationToken cancellationToken = default)
    {
        await GetProjectAsync(caller, project, cancellationToken).ConfigureAwait(false);
        Require(caller, project, Role.Editor);
        return await _artifacts.PutAsync(content, _options.MaxArtifactBytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A model's versions, newest first.</summary>
    public async Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(Caller caller, string project, string model, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("model", model);
        return await _metadata.Registry.ListVersionsAsync(project, model, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A version.</summary>
    public async Task<ModelVersion> GetVersionAsync(Caller caller, string project, string model, int version, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("model", model);
        return await _metadata.Registry.GetVersionAsync(project, model, version, cancellationToken).ConfigureAwait(false)
            ?? throw NotFound($"no version {version} of model '{model}' in project '{project}'");
    }

    /// <summary>Opens a version's package (verified against its digest by the store).</summary>
    public async Task<(ModelVersion Version, Stream Content)> OpenPackageAsync(Caller caller, string project, string model, int version, CancellationToken cancellationToken = default)
    {
        var v = await GetVersionAsync(caller, project, model, version, cancellationToken).ConfigureAwait(false);
        return (v, await _artifacts.OpenReadAsync(v.ArtifactDigest, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Archives or restores a version (editors), or deletes it (admins). One an alias points at, or one a stored
    /// deployment names by number, is refused (conflict, naming the alias or endpoint): move or change that first.
    /// </summary>
    public Task<ModelVersion> SetVersionStatusAsync(Caller caller, string project, string model, int version, VersionStatus status, CancellationToken cancellationToken = default)
    {
        Require(caller, project, status == VersionStatus.Deleted ? Role.Admin : Role.Editor);
        Names.Check("model", model);
        return _metadata.Registry.SetVersionStatusAsync(project, model, version, status, caller.Actor, cancellationToken);
    }

    /// <summary>
    /// Finds the version a reference names: <c>NAME@ALIAS</c> (where the alias points now), <c>NAME/VERSION</c>, or
    /// <c>NAME</c> (the newest version); a leading <c>model:</c> is allowed.
    /// </summary>
    public async Task<ModelVersion> ResolveAsync(Caller caller, string project, string reference, CancellationToken cancellationToken = default)
    {
        var named = ModelReference.Parse(reference);
        if (named.Alias is { } aliasName)
        {
            var alias = await GetAliasAsync(caller, project, named.Model, aliasName, cancellationToken).ConfigureAwait(false);
            return await GetVersionAsync(caller, project, alias.Model, alias.Version, cancellationToken).ConfigureAwait(false);
        }

        if (named.Version is { } number)
        {
            return await GetVersionAsync(caller, project, named.Model, number, cancellationToken).ConfigureAwait(false);
        }

        var versions = await ListVersionsAsync(caller, project, named.Model, cancellationToken).ConfigureAwait(false);
        return versions.Count > 0 ? versions[0] : throw NotFound($"model '{named.Model}' has no versions");
    }

    /// <summary>Everything a version came from (<paramref name="upstream"/>) or everything made from it.</summary>
    public async Task<LineageGraph> GetVersionLineageAsync(Caller caller, string project, string model, int version, bool upstream, int maxDepth = 32, CancellationToken cancellationToken = default)
    {
        CheckDepth(maxDepth);
        var v = await GetVersionAsync(caller, project, model, version, cancellationToken).ConfigureAwait(false);
        var found = await _metadata.Lineage.FindArtifactsAsync(project, ModelArtifactType, VersionName(v), v.ArtifactDigest, cancellationToken).ConfigureAwait(false);
        var artifact = found.Count > 0 ? found[0] : throw NotFound($"version {version} of model '{model}' has no lineage recorded");
        return upstream
            ? await _metadata.Lineage.GetUpstreamAsync(project, artifact.Id, maxDepth, cancellationToken).ConfigureAwait(false)
            : await _metadata.Lineage.GetDownstreamAsync(project, artifact.Id, maxDepth, cancellationToken).ConfigureAwait(false);
    }

    private static string VersionName(ModelVersion v) => $"{v.Model}/{v.Version.ToString(CultureInfo.InvariantCulture)}";

    private static void CheckRegistration(VersionRegistration registration)
    {
        if (registration.RunId is { } runId)
        {
            Names.Check("runId", runId);
        }

        if (registration.Inputs is { Count: > 1000 })
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'inputs' has {registration.Inputs.Count} entries; the limit is 1000");
        }

        foreach (var input in registration.Inputs ?? [])
        {
            Names.Check("inputs", input);
        }
    }

    private async Task<List<LineageArtifact>> CheckInputsAsync(string project, IReadOnlyList<string>? inputs, CancellationToken cancellationToken)
    {
        var found = new List<LineageArtifact>();
        foreach (var id in inputs ?? [])
        {
            found.Add(await _metadata.Lineage.GetArtifactAsync(project, Names.Check("inputs", id), cancellationToken).ConfigureAwait(false)
                ?? throw NotFound($"field 'inputs': no lineage artifact '{id}' in project '{project}'"));
        }

        return found;
    }

    /// <summary>
    /// Records the version in lineage: the model artifact, produced by the run (an execution with the run's id), which
    /// read the run's data sets and the given inputs.
    /// </summary>
    private async Task RecordLineageAsync(Caller caller, ModelVersion version, Run? run, List<LineageArtifact> inputs, CancellationToken cancellationToken)
    {
        var project = version.Project;
        var properties = new Dictionary<string, string>
        {
            ["model"] = version.Model,
            ["version"] = version.Version.ToString(CultureInfo.InvariantCulture),
        };
        if (run is not null)
        {
            properties["run"] = run.Id;
        }

        var modelArtifact = await _metadata.Lineage.PutArtifactAsync(
            new LineageArtifact("", project, ModelArtifactType, VersionName(version), version.ArtifactDigest, properties, 0), caller.Actor, cancellationToken).ConfigureAwait(false);
        if (run is null && inputs.Count == 0)
        {
            return;
        }

        if (run is not null)
        {
            foreach (var (name, value) in run.Source?.DataDigests ?? new Dictionary<string, string>())
            {
                var digest = BlobInfo.IsDigest(value) ? value : null;
                var existing = await _metadata.Lineage.FindArtifactsAsync(project, "dataset", name, digest, cancellationToken).ConfigureAwait(false);
                inputs.Add(existing.Count > 0 ? existing[0] : await _metadata.Lineage.PutArtifactAsync(
                    new LineageArtifact("", project, "dataset", name, digest, digest is null ? new Dictionary<string, string> { ["fingerprint"] = value } : new Dictionary<string, string>(), 0),
                    caller.Actor,
                    cancellationToken).ConfigureAwait(false));
            }
        }

        var execution = await _metadata.Lineage.PutExecutionAsync(
            run is null
                ? new LineageExecution("", project, "register", VersionName(version), "complete", new Dictionary<string, string>(), 0)
                : new LineageExecution(run.Id, project, "run", run.Name, run.Status.ToString().ToLowerInvariant(), new Dictionary<string, string> { ["run"] = run.Id }, 0),
            caller.Actor,
            cancellationToken).ConfigureAwait(false);
        var events = inputs.DistinctBy(a => a.Id).Select(a => new LineageEvent(execution.Id, a.Id, LineageEventType.Input, 0)).ToList();
        events.Add(new LineageEvent(execution.Id, modelArtifact.Id, LineageEventType.Output, 0));
        await _metadata.Lineage.AddEventsAsync(events, caller.Actor, cancellationToken).ConfigureAwait(false);
    }
}
