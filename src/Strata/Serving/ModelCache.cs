using System.Collections.Concurrent;
using System.Diagnostics;
using Strata.Learning;
using Strata.Stores;

namespace Strata.Serving;

/// <summary>
/// Registry versions loaded for serving, shared by every endpoint that serves them. A load reads the package through the
/// artifact store (which verifies its digest) and the package reader (which checks every index and length); a version
/// that fails is not cached, so a later attempt tries again, and the failure is counted.
/// </summary>
internal sealed class ModelCache(IMetadataStore metadata, IArtifactStore artifacts, ServingMetrics metrics)
{
    private readonly ConcurrentDictionary<(string Project, string Model, int Version), Lazy<Task<LoadedModel>>> _models = new();

    /// <summary>Versions loaded or loading.</summary>
    public IReadOnlyCollection<(string Project, string Model, int Version)> Keys => [.. _models.Keys];

    /// <summary>The version an alias points at now.</summary>
    /// <exception cref="StrataException">No such model or alias (not found).</exception>
    public async Task<int> ResolveAsync(string project, ModelReference reference, CancellationToken cancellationToken)
    {
        if (reference.Version is { } version)
        {
            return version;
        }

        var alias = await metadata.Registry.GetAliasAsync(project, reference.Model, reference.Alias!, cancellationToken).ConfigureAwait(false)
            ?? throw new StrataException(ErrorCodes.NotFound, $"model '{reference.Model}' has no alias '{reference.Alias}' in project '{project}'");
        return alias.Version;
    }

    /// <summary>A loaded version, loading it first when needed.</summary>
    /// <exception cref="StrataException">No such version, a deleted one, or a package that fails verification.</exception>
    public async Task<LoadedModel> GetAsync(string project, string model, int version, CancellationToken cancellationToken)
    {
        var key = (project, model, version);
        var lazy = _models.GetOrAdd(key, k => new Lazy<Task<LoadedModel>>(() => LoadAsync(k.Project, k.Model, k.Version)));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            _models.TryRemove(new KeyValuePair<(string, string, int), Lazy<Task<LoadedModel>>>(key, lazy));
            throw;
        }
    }

    /// <summary>Forgets versions no endpoint serves (requests still holding one finish with it).</summary>
    public void Retain(IReadOnlySet<(string Project, string Model, int Version)> used)
    {
        foreach (var key in _models.Keys)
        {
            if (!used.Contains(key))
            {
                _models.TryRemove(key, out _);
            }
        }
    }

    private async Task<LoadedModel> LoadAsync(string project, string model, int version)
    {
        // Loads are not tied to one request: a request that gives up must not fail the load others wait for.
        var start = Stopwatch.GetTimestamp();
        using var activity = ServingTelemetry.Source.StartActivity("strata.model.load");
        activity?.SetTag("strata.project", project).SetTag("strata.model", model).SetTag("strata.model.version", version);
        try
        {
            var record = await metadata.Registry.GetVersionAsync(project, model, version, CancellationToken.None).ConfigureAwait(false)
                ?? throw new StrataException(ErrorCodes.NotFound, $"no version {version} of model '{model}' in project '{project}'");
            if (record.Status == VersionStatus.Deleted)
            {
                throw new StrataException(ErrorCodes.Conflict, $"version {version} of model '{model}' is deleted; it cannot be served");
            }

            Model loaded;
            try
            {
                var stream = await artifacts.OpenReadAsync(record.ArtifactDigest, CancellationToken.None).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    loaded = await ModelPackage.LoadAsync(stream, CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (StrataException e) when (e.Code != ErrorCodes.NotFound)
            {
                throw new StrataException(ErrorCodes.DataMalformed, $"version {version} of model '{model}' failed verification and is not served: {e.Message}", e);
            }

            metrics.LoadSeconds.Labels(model).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
            return new LoadedModel(project, model, version, record.ArtifactDigest, loaded);
        }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            metrics.LoadFailures.Labels(model).Inc();
            throw;
        }
    }
}
