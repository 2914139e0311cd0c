using System.Collections.Concurrent;
using System.Diagnostics;
using Strata.Learning;
using Strata.Stores;

namespace Strata.Serving;

/// <summary>
/// Registry versions loaded for serving, shared by every endpoint that serves them. A load reads the package through the
/// artifact store (which verifies its digest) and the package reader (which checks every index and length); a version
/// that fails is not cached, so a later attempt tries again. A failure is counted once per version and reason (again
/// when the reason changes, or after the version loaded), and a version refused by the registry or its package checks
/// is not read again for a while (doubling up to <see cref="MaxRetryDelay"/>): an endpoint left with nothing to serve
/// is retried at every poll, and a corrupt package would otherwise be read and counted every second for ever.
/// </summary>
internal sealed class ModelCache(IMetadataStore metadata, IArtifactStore artifacts, ServingMetrics metrics, TimeProvider clock)
{
    /// <summary>The first wait before a version that failed is tried again.</summary>
    internal static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait before a version that keeps failing is tried again.</summary>
    internal static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<(string Project, string Model, int Version), Lazy<Task<LoadedModel>>> _models = new();
    private readonly ConcurrentDictionary<(string Project, string Model, int Version), Failure> _failures = new();

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
    /// <param name="project">The version's project.</param>
    /// <param name="model">The model.</param>
    /// <param name="version">The version.</param>
    /// <param name="reread">
    /// With an explicit load (a repository <c>load</c>): the versions already read again for it. A version not yet in the
    /// set is read from the artifact store and verified again even when it is cached, then added, so a load naming one
    /// version twice (a shadow equal to the champion) reads it once. Null otherwise: a cached version is used as it is.
    /// </param>
    /// <param name="cancellationToken">Stops waiting (a load others wait for goes on).</param>
    /// <exception cref="StrataException">
    /// No such version, a deleted one, or a package that fails verification or cannot be read (each a caller error: the
    /// version cannot be served, whoever asks).
    /// </exception>
    public async Task<LoadedModel> GetAsync(
        string project, string model, int version, ISet<(string Project, string Model, int Version)>? reread, CancellationToken cancellationToken)
    {
        var key = (project, model, version);
        if (reread is not null && reread.Add(key))
        {
            return await RereadAsync(key, cancellationToken).ConfigureAwait(false);
        }

        if (_failures.TryGetValue(key, out var failed) && failed.Error is { } error && clock.GetUtcNow() < failed.RetryAt)
        {
            throw new StrataException(error.Code, error.Message); // the same answer, without reading the package again yet
        }

        var added = false;
        var lazy = _models.GetOrAdd(key, k =>
        {
            added = true;
            return new Lazy<Task<LoadedModel>>(() => LoadAsync(k.Project, k.Model, k.Version));
        });
        LoadedModel loaded;
        try
        {
            loaded = await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            _failures.TryRemove(key, out _);
        }
        catch (Exception e) when (lazy.Value.IsFaulted)
        {
            // Callers waiting on the same load see the same failure: the one that removes the load records it.
            if (_models.TryRemove(new KeyValuePair<(string, string, int), Lazy<Task<LoadedModel>>>(key, lazy)))
            {
                Failed(key, e);
            }

            throw;
        }

        // A version loaded earlier may have been deleted since: the load checked its status then, not now.
        if (!added)
        {
            var record = await metadata.Registry.GetVersionAsync(project, model, version, cancellationToken).ConfigureAwait(false);
            RequireServable(record, project, model, version);
        }

        return loaded;
    }

    /// <summary>
    /// Reads and verifies a version's package again, as its first load did, whether or not it is cached: an operator's
    /// load must not be answered from memory when the package on disk has changed since. One that no longer loads is
    /// dropped from the cache and counted as a failed load (endpoints already serving it keep their state until they
    /// swap); one that does keeps the instance already cached, if any: the digest is the same and was checked again,
    /// and endpoints sharing one version share one copy (a shadow is told from the champion by reference).
    /// </summary>
    private async Task<LoadedModel> RereadAsync((string Project, string Model, int Version) key, CancellationToken cancellationToken)
    {
        var load = LoadAsync(key.Project, key.Model, key.Version);
        LoadedModel verified;
        try
        {
            verified = await load.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (load.IsFaulted)
        {
            _models.TryRemove(key, out _);
            Failed(key, e);
            throw;
        }

        _failures.TryRemove(key, out _);
        var fresh = new Lazy<Task<LoadedModel>>(Task.FromResult(verified));
        var kept = _models.AddOrUpdate(key, fresh, (_, cached) => cached.IsValueCreated && cached.Value.IsCompletedSuccessfully ? cached : fresh);
        return await kept.Value.ConfigureAwait(false);
    }

    /// <summary>
    /// Lets every version that failed be tried again at once: an operator asking for a load (a deployment put, a
    /// repository load) may just have repaired what failed.
    /// </summary>
    public void RetryNow()
    {
        foreach (var (key, failure) in _failures)
        {
            _failures.TryUpdate(key, failure with { RetryAt = DateTimeOffset.MinValue }, failure);
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

    private static ModelVersion RequireServable(ModelVersion? record, string project, string model, int version)
    {
        if (record is null)
        {
            throw new StrataException(ErrorCodes.NotFound, $"no version {version} of model '{model}' in project '{project}'");
        }

        return record.Status == VersionStatus.Deleted
            ? throw new StrataException(ErrorCodes.Conflict, $"version {version} of model '{model}' is deleted; it cannot be served")
            : record;
    }

    private async Task<LoadedModel> LoadAsync(string project, string model, int version)
    {
        // Loads are not tied to one request: a request that gives up must not fail the load others wait for.
        var start = Stopwatch.GetTimestamp();
        using var activity = ServingTelemetry.Source.StartActivity("strata.model.load");
        activity?.SetTag("strata.project", project).SetTag("strata.model", model).SetTag("strata.model.version", version);
        try
        {
            var record = RequireServable(await metadata.Registry.GetVersionAsync(project, model, version, CancellationToken.None).ConfigureAwait(false), project, model, version);

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
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A file the server cannot read (its permissions, a directory in its place, a failing disk) makes the
                // version unservable as a corrupt one does: a caller error naming the version, so the endpoints serving
                // other versions are refreshed and the server starts. The digest names the file, the path stays inside.
                throw new StrataException(
                    ErrorCodes.Conflict,
                    $"version {version} of model '{model}' cannot be read from the artifact store (artifact {record.ArtifactDigest}: {(e is UnauthorizedAccessException ? "access denied" : "I/O error")}); it is not served until its file is readable",
                    e);
            }

            metrics.LoadSeconds.Labels(model).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
            return new LoadedModel(project, model, version, record.ArtifactDigest, loaded);
        }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            throw;
        }
    }

    /// <summary>
    /// Counts a failed load unless the version failed for the same reason last time, and sets when it may be read again:
    /// a refusal (a missing or deleted version, a package that fails verification) waits twice as long as the last one,
    /// up to <see cref="MaxRetryDelay"/>; anything else (a store that did not answer) may pass, so it is not delayed.
    /// </summary>
    private void Failed((string Project, string Model, int Version) key, Exception e)
    {
        var known = e as StrataException;
        var previous = _failures.TryGetValue(key, out var last) ? last : null;
        var same = previous is not null && previous.Reason == e.Message;
        var delay = same ? TimeSpan.FromTicks(Math.Min(previous!.Delay.Ticks * 2, MaxRetryDelay.Ticks)) : FirstRetryDelay;
        _failures[key] = new Failure(e.Message, known, known is null ? DateTimeOffset.MinValue : clock.GetUtcNow() + delay, delay);
        if (!same)
        {
            metrics.LoadFailures.Labels(key.Model).Inc();
        }
    }

    /// <summary>Why a version last failed to load, the error to answer with until it may be tried again (a refusal only), and when.</summary>
    private sealed record Failure(string Reason, StrataException? Error, DateTimeOffset RetryAt, TimeSpan Delay);
}
