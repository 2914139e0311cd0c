using System.Collections.Concurrent;
using Strata.Features.Definitions;
using Strata.Features.OfflineStore;
using Strata.Features.OnlineStore;
using Strata.Stores;

namespace Strata.Features;

/// <summary>Where a deployment keeps feature data: the embedded stores under the home folder, or PostgreSQL.</summary>
public interface IFeatureBackend
{
    /// <summary>Opens the offline store of a project.</summary>
    ValueTask<IOfflineStore> OpenOfflineAsync(string project, CancellationToken cancellationToken = default);

    /// <summary>Opens the online store of a project, serving these views.</summary>
    ValueTask<IOnlineStore> OpenOnlineAsync(string project, IReadOnlyList<FeatureViewLayout> views, CancellationToken cancellationToken = default);
}

/// <summary>The embedded default: <c>offline/&lt;project&gt;/</c> and <c>online/&lt;project&gt;/</c> under the home folder.</summary>
/// <param name="home">The home folder.</param>
public sealed class EmbeddedFeatureBackend(string home) : IFeatureBackend
{
    /// <inheritdoc />
    public async ValueTask<IOfflineStore> OpenOfflineAsync(string project, CancellationToken cancellationToken = default) =>
        await EmbeddedOfflineStore.OpenAsync(Path.Combine(home, "offline", Names.Check("project", project)), cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public ValueTask<IOnlineStore> OpenOnlineAsync(string project, IReadOnlyList<FeatureViewLayout> views, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IOnlineStore>(EmbeddedOnlineStore.Open(Path.Combine(home, "online", Names.Check("project", project)), views));
}

/// <summary>
/// The open feature stores of a process, one per project, following the applied definitions: a new version (applied by
/// this process, the CLI or another replica) is noticed within a second and served without a restart.
/// </summary>
public sealed class FeatureStores : IAsyncDisposable
{
    private static readonly TimeSpan RecheckEvery = TimeSpan.FromSeconds(1);

    private readonly IMetadataStore _metadata;
    private readonly IFeatureBackend _backend;
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, Entry> _open = new(StringComparer.Ordinal);

    /// <summary>Creates the set over a metadata store (definitions, watermarks) and a backend (data).</summary>
    public FeatureStores(IMetadataStore metadata, IFeatureBackend backend, TimeProvider? clock = null)
    {
        _metadata = metadata;
        _backend = backend;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The feature store of a project, opened on first use and refreshed when its definitions change.</summary>
    public ValueTask<FeatureStore> GetAsync(string project, CancellationToken cancellationToken = default) => GetAsync(project, recheck: false, cancellationToken);

    /// <summary>
    /// The feature store of a project at the definitions applied now, checked without the one-second grace: for a result
    /// that is cached by the definitions' version (a pipeline's training set), which must follow an apply at once.
    /// </summary>
    internal ValueTask<FeatureStore> GetCurrentAsync(string project, CancellationToken cancellationToken = default) => GetAsync(project, recheck: true, cancellationToken);

    private async ValueTask<FeatureStore> GetAsync(string project, bool recheck, CancellationToken cancellationToken)
    {
        var entry = _open.GetOrAdd(project, p => new Entry(p));
        var now = _clock.GetUtcNow();
        if (!recheck && entry.Store is { } current && now - entry.CheckedAt < RecheckEvery)
        {
            return current;
        }

        await entry.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!recheck && entry.Store is { } fresh && _clock.GetUtcNow() - entry.CheckedAt < RecheckEvery)
            {
                return fresh;
            }

            var latest = await _metadata.Features.GetLatestAsync(project, cancellationToken).ConfigureAwait(false);
            var version = latest?.Version ?? 0;
            if (entry.Store is { } same && same.Version == version)
            {
                entry.CheckedAt = _clock.GetUtcNow();
                return same;
            }

            if (version == 0 && await _metadata.Projects.GetAsync(project, cancellationToken).ConfigureAwait(false) is null)
            {
                throw new StrataException(ErrorCodes.NotFound, $"project '{project}' does not exist");
            }

            var repository = latest is null ? FeatureRepository.Empty : FeatureRepository.FromJson(latest.Definition);
            var layouts = repository.FeatureViews.Where(v => v.Online).Select(v => repository.OnlineLayout(v.Name))
                .Concat(repository.AggregationViews.Where(v => v.Online).Select(v => repository.OnlineLayout(v.Name)))
                .ToArray();
            entry.Offline ??= await _backend.OpenOfflineAsync(project, cancellationToken).ConfigureAwait(false);
            IOnlineStore online;
            if (entry.Online is null)
            {
                try
                {
                    online = entry.Online = await _backend.OpenOnlineAsync(project, layouts, cancellationToken).ConfigureAwait(false);
                }
                catch (StrataException e) when (e.Code == ErrorCodes.Conflict)
                {
                    // Another process (a running server) owns the embedded online store: training sets and pushes to the
                    // offline store still work here; online operations say why they cannot.
                    online = new UnavailableOnlineStore(e.Message);
                }
            }
            else
            {
                online = entry.Online;
                await online.ApplyViewsAsync(layouts, cancellationToken).ConfigureAwait(false);
            }

            // The previous store is left to requests still using it; it holds nothing that needs closing.
            var store = new FeatureStore(project, repository, version, entry.Offline, online, _metadata.Features, _clock);
            entry.Store = store;
            entry.CheckedAt = _clock.GetUtcNow();
            return store;
        }
        finally
        {
            entry.Lock.Release();
        }
    }

    /// <summary>Closes every store.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var entry in _open.Values)
        {
            if (entry.Online is not null)
            {
                await entry.Online.DisposeAsync().ConfigureAwait(false);
            }

            if (entry.Offline is not null)
            {
                await entry.Offline.DisposeAsync().ConfigureAwait(false);
            }
        }

        _open.Clear();
    }

    private sealed class Entry(string project)
    {
        public string Project { get; } = project;

        public SemaphoreSlim Lock { get; } = new(1, 1);

        public FeatureStore? Store { get; set; }

        public DateTimeOffset CheckedAt { get; set; }

        public IOfflineStore? Offline { get; set; }

        public IOnlineStore? Online { get; set; }
    }
}

/// <summary>Stands in for an online store another process owns, so every online operation fails with that reason.</summary>
internal sealed class UnavailableOnlineStore(string reason) : IOnlineStore
{
    /// <inheritdoc />
    public string Backend => "unavailable";

    /// <inheritdoc />
    public IReadOnlyCollection<FeatureViewLayout> Views => throw Refused();

    /// <inheritdoc />
    public Task ApplyViewsAsync(IReadOnlyList<FeatureViewLayout> views, CancellationToken cancellationToken = default) => throw Refused();

    /// <inheritdoc />
    public Task WriteAsync(string view, Table rows, CancellationToken cancellationToken = default) => throw Refused();

    /// <inheritdoc />
    public Task WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => throw Refused();

    /// <inheritdoc />
    public ValueTask ReadAsync(string view, IReadOnlyList<string> features, ReadOnlyMemory<OnlineStore.EntityKeyPart> keys, long nowMicros, Memory<OnlineStore.FeatureValue> results, CancellationToken cancellationToken = default) => throw Refused();

    /// <inheritdoc />
    public Task<long> CountAsync(string view, CancellationToken cancellationToken = default) => throw Refused();

    /// <inheritdoc />
    public Task<IOnlineMerge> BeginMergeAsync(IReadOnlyList<string> views, CancellationToken cancellationToken = default) => throw Refused();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private StrataException Refused() => new(ErrorCodes.Conflict, reason);
}
