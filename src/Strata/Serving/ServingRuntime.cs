using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Strata.Features;
using Strata.Serving.Metrics;
using Strata.Stores;

namespace Strata.Serving;

/// <summary>Settings of the serving runtime.</summary>
public sealed record ServingOptions
{
    /// <summary>The prediction log's folder (the home's <c>predictions/</c>); null turns the log off.</summary>
    public string? PredictionLogFolder { get; init; }

    /// <summary>How much of the prediction log's closed segments is kept (default: 10 GiB, no age limit).</summary>
    public PredictionLogRetention PredictionLogRetention { get; init; } = PredictionLogRetention.Default;

    /// <summary>How often the metadata store's change sequence is polled for alias moves and endpoint changes.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The default of <see cref="ShadowCapacity"/>.</summary>
    public const int DefaultShadowCapacity = 1024;

    /// <summary>Copies waiting for one endpoint's shadow model (each endpoint has its own queue); beyond it that endpoint's copies are dropped and counted.</summary>
    public int ShadowCapacity { get; init; } = DefaultShadowCapacity;

    /// <summary>Most TreeSHAP contributions a request may ask for per row.</summary>
    public int MaxExplain { get; init; } = 100;

    /// <summary>Where warnings go (a load that failed, a store that did not answer); the server passes its logger.</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>Test hook: awaited before each shadow prediction (a deliberately slow shadow).</summary>
    internal Func<CancellationToken, Task>? BeforeShadow { get; init; }

    /// <summary>Predictions the log's queue holds before it drops (tests make it small).</summary>
    internal int PredictionLogCapacity { get; init; } = 16_384;

    /// <summary>Test hook: awaited before the log's writer drains its queue (a writer that falls behind).</summary>
    internal Func<Task>? BeforeLogWrite { get; init; }
}

/// <summary>
/// The serving runtime: endpoints declared in <c>strata.yaml</c> or through the API (kept in the metadata store, so
/// every replica serves the same), the models they serve (loaded and verified in the background, switched in
/// atomically), canary and shadow routing, enrichment from the online store, limits, metrics and the prediction log.
/// It learns of alias moves and endpoint changes by polling the metadata store's change sequence, on every backend.
/// No HTTP here: the server's routes call <see cref="PredictAsync"/>.
/// </summary>
public sealed partial class ServingRuntime : IAsyncDisposable
{
    private readonly IMetadataStore _metadata;
    private readonly FeatureStores? _features;
    private readonly ServingOptions _options;
    private readonly TimeProvider _clock;
    private readonly ServingMetrics _metrics;
    private readonly ModelCache _cache;
    private readonly PredictionLog? _log;
    private readonly ConcurrentDictionary<string, EndpointRuntime> _endpoints = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _refreshLock = new(1, 1);

    // Each endpoint's shadow copies wait in its own queue for its own worker, so a slow shadow drops only its endpoint's
    // copies. A queue is made with an endpoint's first copy and retired when the endpoint is deleted, unloaded or left
    // without a shadow. Changed under _shadowLock; read without it on the request path.
    private readonly ConcurrentDictionary<string, ShadowQueue> _shadowQueues = new(StringComparer.Ordinal);
    private readonly HashSet<ShadowQueue> _shadowWorking = []; // queues whose worker runs, retired ones too (shutdown awaits them)
    private readonly Lock _shadowLock = new();
    private bool _shadowClosed;
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;

    // The shadow failures already logged, per endpoint: each reason once (a set is locked: a retired queue's worker may
    // still be answering while the endpoint's next queue's worker starts).
    private readonly ConcurrentDictionary<string, HashSet<string>> _shadowReasons = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<KeyDigest, Security.Principal> _keys = new();
    private readonly Lock _gaugesLock = new();
    private int _keyGeneration;

    // The failure last warned about, per endpoint (StoreFailure: the refresh as a whole), until it is fixed or changes.
    private readonly ConcurrentDictionary<string, string> _reported = new(StringComparer.Ordinal);
    private const string StoreFailure = "*";

    // The request fields each feature service needs, per feature store (a new one comes with each definitions version).
    private static readonly ConditionalWeakTable<FeatureStore, ConcurrentDictionary<string, ServiceNeeds>> NeedsByStore = new();
    private IReadOnlyDictionary<string, IReadOnlyList<string>> _keyEndpoints = new Dictionary<string, IReadOnlyList<string>>();
    private Task? _poller;
    private long _seenSequence = -1;

    /// <summary>Creates the runtime; <see cref="StartAsync"/> loads the endpoints and starts watching the store.</summary>
    public ServingRuntime(IMetadataStore metadata, IArtifactStore artifacts, FeatureStores? features, MetricRegistry metrics, ServingOptions? options = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(artifacts);
        ArgumentNullException.ThrowIfNull(metrics);
        _metadata = metadata;
        _features = features;
        _options = options ?? new ServingOptions();
        _clock = clock ?? TimeProvider.System;
        _metrics = new ServingMetrics(metrics);
        _cache = new ModelCache(metadata, artifacts, _metrics, _clock);
        _log = _options.PredictionLogFolder is { } folder
            ? new PredictionLog(
                new PredictionLogOptions
                {
                    Folder = folder,
                    Capacity = _options.PredictionLogCapacity,
                    Retention = _options.PredictionLogRetention,
                    Warn = _options.Warn,
                    BeforeWrite = _options.BeforeLogWrite,
                },
                metrics)
            : null;
        metrics.OnCollect(UpdateGauges);
    }

    /// <summary>The prediction log's folder, or null when it is off.</summary>
    public string? PredictionLogFolder => _options.PredictionLogFolder;

    /// <summary>
    /// Stores the deployments of <c>strata.yaml</c> (a changed one replaces the stored one; endpoints made through the API
    /// stay), loads every endpoint's models, and starts polling the store. A new or changed declaration is checked as a
    /// <c>PUT</c> is; one that cannot serve is not stored (a changed one leaves the stored deployment, a new one is not
    /// created) and the server starts without it, logging why: one replica started with a mistake in its file would
    /// otherwise write it to the store every replica serves from.
    /// </summary>
    public async Task StartAsync(IReadOnlyList<Deployment> configured, Actor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configured);
        foreach (var deployment in configured)
        {
            deployment.Validate();
            var stored = await _metadata.Endpoints.GetAsync(deployment.Name, cancellationToken).ConfigureAwait(false);
            if (stored?.Definition == deployment.ToJson())
            {
                continue;
            }

            try
            {
                await CheckAsync(deployment, cancellationToken).ConfigureAwait(false);
            }
            catch (StrataException e) when (e.IsCallerError)
            {
                _options.Warn?.Invoke(stored is null
                    ? $"strata.yaml: endpoint '{deployment.Name}' is not created: {e.Message}"
                    : $"strata.yaml: endpoint '{deployment.Name}' keeps its stored deployment ({stored.Definition}); the declared one cannot serve: {e.Message}");
                continue;
            }

            await _metadata.Endpoints.PutAsync(deployment.Name, deployment.Project, deployment.ToJson(), actor, cancellationToken).ConfigureAwait(false);
        }

        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        _poller = Task.Run(PollLoopAsync, CancellationToken.None);
    }

    /// <summary>True when every endpoint that is not unloaded has a model ready.</summary>
    public bool Ready => _endpoints.Values.All(e => e.Unloaded || e.State is not null);

    /// <summary>
    /// Counts a request to an endpoint that the server refused before it reached <see cref="PredictAsync"/> (a body it
    /// could not read or parse, an unknown output or version, a client that left mid-body), under version <c>none</c>
    /// and its status, so the serving metrics count every request to an endpoint once, as they count the runtime's own
    /// refusals. A name that is no endpoint is not counted: a client could otherwise add a series per name it sends.
    /// </summary>
    public void CountRefused(string endpoint, int status, TimeSpan elapsed)
    {
        if (_endpoints.TryGetValue(endpoint, out var runtime))
        {
            _metrics.Record(runtime.Deployment.Name, 0, status.ToString(System.Globalization.CultureInfo.InvariantCulture), elapsed.TotalSeconds);
        }
    }

    /// <summary>
    /// Loads an endpoint's models again after an unload (or retries a failed load), reading and verifying each package
    /// again even when the version is still in memory; waits until they are in.
    /// </summary>
    /// <exception cref="StrataException">
    /// No such endpoint, or a model it declares fails to load, a package changed on disk since it was first read among them
    /// (the reason; what it served before, if anything, keeps serving).
    /// </exception>
    public Task LoadAsync(string name, CancellationToken cancellationToken = default) => LoadAsync(name, RequestNaming.Rows, cancellationToken);

    /// <summary>Loads an endpoint's models again as <see cref="LoadAsync(string, CancellationToken)"/> does; errors name it as <paramref name="naming"/> does.</summary>
    /// <exception cref="StrataException">As <see cref="LoadAsync(string, CancellationToken)"/>.</exception>
    public async Task LoadAsync(string name, RequestNaming naming, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(naming);
        var target = Endpoint(name, naming);
        target.Unloaded = false;
        target.Reload = true;
        _cache.RetryNow(); // asked for, so tried now even while a failing version waits for its next retry
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        var endpoint = Endpoint(name, naming);
        if (endpoint.State is null)
        {
            throw new StrataException(ErrorCodes.Conflict, $"{naming.Named(name)} could not load its {naming.ServedNoun}s: {endpoint.LastError}");
        }

        // An older version (or the champion alone) still serving is not the load that was asked for: saying so is the
        // only way a caller of the load learns that it failed.
        if (endpoint.LastError is { } error)
        {
            throw new StrataException(ErrorCodes.Conflict, $"{naming.Named(name)} keeps serving {naming.Serving(endpoint.State.Champion.Name, endpoint.State.Champion.Version)}: {error}");
        }
    }

    /// <summary>Stops serving an endpoint until it is loaded again (requests get 503); requests in flight finish.</summary>
    /// <exception cref="StrataException">No such endpoint.</exception>
    public Task UnloadAsync(string name, CancellationToken cancellationToken = default) => UnloadAsync(name, RequestNaming.Rows, cancellationToken);

    /// <summary>Stops serving an endpoint as <see cref="UnloadAsync(string, CancellationToken)"/> does; an unknown name is told as <paramref name="naming"/> words it.</summary>
    /// <exception cref="StrataException">No such endpoint.</exception>
    public async Task UnloadAsync(string name, RequestNaming naming, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(naming);
        await _refreshLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var endpoint = Endpoint(name, naming);
            endpoint.Unloaded = true;
            endpoint.Swap(null);
            endpoint.LastError = "unloaded";
            RetireShadow(name);
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    /// <summary>The endpoints and what they serve.</summary>
    public IReadOnlyList<EndpointStatus> List() =>
        _endpoints.Values.OrderBy(e => e.Deployment.Name, StringComparer.Ordinal).Select(Status).ToList();

    /// <summary>One endpoint's status.</summary>
    /// <exception cref="StrataException">No such endpoint (not found).</exception>
    public EndpointStatus Get(string name) => Status(Endpoint(name));

    /// <summary>The deployment of an endpoint (for access checks before anything else).</summary>
    /// <exception cref="StrataException">No such endpoint (not found, named as <paramref name="naming"/> words it).</exception>
    public Deployment GetDeployment(string name, RequestNaming? naming = null) => Endpoint(name, naming).Deployment;

    /// <summary>The deployment of an endpoint, or null when there is none of that name.</summary>
    public Deployment? FindDeployment(string name) => _endpoints.TryGetValue(name, out var endpoint) ? endpoint.Deployment : null;

    /// <summary>
    /// What a request to an endpoint sends and may ask for: the inputs of what it serves (the champion, or the champion or
    /// challenger with <paramref name="version"/>) as a request gives them (with a feature service, not the model's own), and the
    /// outputs a request may ask for: without a version, those every model that may answer it has (a challenger may be
    /// another model, a regression beside a classifier), so an output is refused before anything is predicted.
    /// </summary>
    /// <exception cref="StrataException">No such endpoint or version (not found, named as <paramref name="naming"/> words them).</exception>
    /// <exception cref="ServingRefusal">Nothing loaded yet (503).</exception>
    public (IReadOnlyList<Learning.ModelInput> Inputs, IReadOnlyList<Learning.ModelOutput> Outputs) Describe(string name, int? version = null, RequestNaming? naming = null)
    {
        naming ??= RequestNaming.Rows;
        var endpoint = Endpoint(name, naming);
        var state = endpoint.State ?? throw ServingRefusal.Unavailable(name, endpoint.LastError ?? "its models are still loading", naming);
        var model = version is null || state.Champion.Version == version ? state.Champion
            : state.Challenger is { } c && c.Version == version ? c
            : throw new StrataException(ErrorCodes.NotFound, $"{naming.Named(name)} does not serve version {version}");
        return (state.RequestInputs(model), version is null ? state.SharedOutputs : model.Model.Signature.Outputs);
    }

    /// <summary>
    /// The versions an endpoint serves (champion first, then the challenger, once each: a challenger that is another
    /// model may have the champion's number, and a request naming it reaches the champion); empty when none is loaded.
    /// </summary>
    /// <exception cref="StrataException">No such endpoint (not found, named as <paramref name="naming"/> words it).</exception>
    public IReadOnlyList<int> Versions(string name, RequestNaming? naming = null) =>
        Endpoint(name, naming).State is { } state ? state.Challenger is { } c && c.Version != state.Champion.Version ? [state.Champion.Version, c.Version] : [state.Champion.Version] : [];

    /// <summary>
    /// Authenticates a bearer token for the inference routes, remembering keys that passed until the metadata store's
    /// change sequence moves (any key created or revoked moves it). A prediction then costs no store read; a revocation
    /// reaches these routes within the poll interval, as an alias move does. Failures are never remembered.
    /// </summary>
    /// <exception cref="StrataException">The token is missing, malformed, unknown or revoked (unauthorized).</exception>
    public async ValueTask<Security.Principal> AuthenticateAsync(string? token, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 512)
        {
            return await Security.ApiKeys.AuthenticateAsync(_metadata.Keys, token, cancellationToken).ConfigureAwait(false);
        }

        // The secret itself is not kept as a dictionary key: only its hash (hashed on the stack: this runs per request).
        Span<byte> utf8 = stackalloc byte[512 * 3];
        Span<byte> digest = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(utf8[..System.Text.Encoding.UTF8.GetBytes(token, utf8)], digest);
        var id = new KeyDigest(
            System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(digest),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(digest[16..]));
        if (_keys.TryGetValue(id, out var known))
        {
            return known;
        }

        var principal = await Security.ApiKeys.AuthenticateAsync(_metadata.Keys, token, cancellationToken).ConfigureAwait(false);
        if (_keys.Count >= 10_000)
        {
            _keys.Clear();
        }

        _keys[id] = principal;
        return principal;
    }

    /// <summary>Changes whenever the keys may have changed (one revoked, say): an answer of <see cref="AuthenticateAsync"/> kept elsewhere holds only while this stays the same.</summary>
    public int KeyGeneration => Volatile.Read(ref _keyGeneration);

    /// <summary>The endpoints a key is limited to, or null when it may call every endpoint (as <see cref="KeyMayCall"/> reads the list).</summary>
    public IReadOnlyList<string>? KeyEndpoints(string? keyId) =>
        keyId is not null && _keyEndpoints.TryGetValue(keyId, out var allowed) ? allowed : null;

    /// <summary>True when the key may call the endpoint (keys without a list may call every endpoint).</summary>
    public bool KeyMayCall(string? keyId, string endpoint) =>
        KeyEndpoints(keyId) is not { } allowed || allowed.Contains(endpoint, StringComparer.Ordinal);

    /// <summary>
    /// Creates or replaces an endpoint: its models are loaded and verified first, so a deployment that cannot serve is
    /// refused and the endpoint keeps what it served.
    /// </summary>
    /// <exception cref="StrataException">An invalid deployment, an unknown project, model, alias or version, or a package that fails verification.</exception>
    public async Task<EndpointStatus> PutAsync(Deployment deployment, Actor actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        deployment.Validate();
        _cache.RetryNow(); // asked for, so tried now even while a failing version waits for its next retry
        await CheckAsync(deployment, cancellationToken).ConfigureAwait(false);
        await _metadata.Endpoints.PutAsync(deployment.Name, deployment.Project, deployment.ToJson(), actor, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        return Get(deployment.Name);
    }

    /// <summary>Removes an endpoint.</summary>
    /// <exception cref="StrataException">No such endpoint (not found).</exception>
    public async Task DeleteAsync(string name, Actor actor, CancellationToken cancellationToken = default)
    {
        Names.Check("endpoint", name);
        if (!await _metadata.Endpoints.DeleteAsync(name, actor, cancellationToken).ConfigureAwait(false))
        {
            throw new StrataException(ErrorCodes.NotFound, $"no endpoint '{name}'");
        }

        await RefreshAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Limits an API key to a set of endpoints (empty: no limit).</summary>
    /// <exception cref="StrataException">No such key, or an endpoint that does not exist (not found, naming it).</exception>
    public async Task SetKeyEndpointsAsync(string keyId, IReadOnlyList<string> endpoints, Actor actor, CancellationToken cancellationToken = default)
    {
        await _metadata.Endpoints.SetKeyEndpointsAsync(keyId, endpoints, actor, cancellationToken).ConfigureAwait(false);
        _keyEndpoints = await _metadata.Endpoints.GetKeyEndpointsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Re-reads the endpoints and the aliases they serve from the store; versions that changed are loaded and verified
    /// while the old ones keep serving, then switched in. A version that fails to load leaves the endpoint on the old one.
    /// </summary>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _refreshLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The sequence is read first: a change committed during the refresh is then seen by the next poll.
            var sequence = await _metadata.GetChangeSequenceAsync(cancellationToken).ConfigureAwait(false);
            if (sequence != Volatile.Read(ref _seenSequence))
            {
                // A key may have been revoked. (A revocation is a write: a retry of a failed load alone keeps the keys.)
                _keys.Clear();
                Interlocked.Increment(ref _keyGeneration);
            }
            var records = await _metadata.Endpoints.ListAsync(cancellationToken).ConfigureAwait(false);
            _keyEndpoints = await _metadata.Endpoints.GetKeyEndpointsAsync(cancellationToken).ConfigureAwait(false);
            var names = records.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var name in _endpoints.Keys.Where(n => !names.Contains(n)).ToList())
            {
                _reported.TryRemove(name, out _);
                if (_endpoints.TryRemove(name, out var gone))
                {
                    // NOTE: not disposed: requests in flight may still hold its admission lease. Its batchers close;
                    // what they hold is still answered.
                    gone.State?.CloseBatchers();
                }

                RetireShadow(name);
                _shadowReasons.TryRemove(name, out _);
            }

            var complete = true;
            foreach (var record in records)
            {
                complete &= await RefreshEndpointAsync(record, cancellationToken).ConfigureAwait(false);
            }

            _cache.Retain(_endpoints.Values.SelectMany(e => e.State?.Models() ?? []).Select(m => (m.Project, m.Name, m.Version)).ToHashSet());
            _reported.TryRemove(StoreFailure, out _); // the store answered

            // An endpoint that failed for a reason that may pass (the store, not its versions) is tried again at the next poll.
            if (complete)
            {
                Volatile.Write(ref _seenSequence, sequence);
            }
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    /// <summary>Writes the queued prediction log records and closes the open segment (tests; shutdown does it too).</summary>
    public Task FlushPredictionLogAsync(CancellationToken cancellationToken = default) =>
        _log?.FlushAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>
    /// Stops polling and the shadow workers (copies they have not answered are counted as dropped), then writes what the
    /// prediction log holds and closes its open segment.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        // Once: a host and a test (or two owners) may both dispose it, and a second pass would cancel a disposed source.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // No copy is queued from here on (a request still answering counts its copy as dropped), and each shadow worker
        // stops after the copy in hand: it does not work through its backlog, which would hold the log open beyond the
        // host's shutdown window.
        List<ShadowQueue> queues;
        lock (_shadowLock)
        {
            _shadowClosed = true;
            queues = [.. _shadowWorking];
        }

        foreach (var queue in queues)
        {
            queue.Copies.Writer.TryComplete();
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var task in queues.Select(q => (Task?)q.Worker).Prepend(_poller))
        {
            if (task is not null)
            {
                try
                {
                    await task.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        // The copies the shadows never answered are counted as dropped, per endpoint, so answered, failed and dropped
        // still add up to the copies made.
        foreach (var queue in queues)
        {
            while (queue.Copies.Reader.TryRead(out var left))
            {
                _metrics.ShadowDropped.Labels(left.Endpoint).Inc();
            }
        }

        // Last, so the shadow answers given before stopping are written too; the open segment is then closed.
        if (_log is not null)
        {
            await _log.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
        _refreshLock.Dispose();
    }

    /// <summary>
    /// Brings one endpoint up to date with its stored deployment and the versions it names. Any failure stays with this
    /// endpoint (its status shows it) and the others are still refreshed; false when the failure may pass (the store did
    /// not answer, not a version that cannot be served), so the next poll tries again.
    /// </summary>
    private async Task<bool> RefreshEndpointAsync(EndpointRecord record, CancellationToken cancellationToken)
    {
        _endpoints.TryGetValue(record.Name, out var runtime);
        if (runtime is { Unloaded: true } && runtime.Record.Definition == record.Definition)
        {
            return true;
        }

        Deployment deployment;
        try
        {
            deployment = Deployment.FromJson(record.Definition);
        }
        catch (StrataException e)
        {
            LogRefreshFailure(record.Name, e.Message);
            return true;
        }

        if (runtime is null || runtime.Record.Definition != record.Definition || runtime.Record.Project != record.Project)
        {
            var fresh = new EndpointRuntime(record, deployment, _clock) { Reload = runtime?.Reload ?? false }; // a load asked for still re-reads
            if (runtime?.State is { } previous && previous.Deployment.Project == deployment.Project)
            {
                fresh.Swap(previous); // keeps serving what it served until the new models are in
            }

            _endpoints[record.Name] = fresh;
            runtime = fresh;
        }

        try
        {
            var wanted = await ResolveAsync(deployment, cancellationToken).ConfigureAwait(false);
            var current = runtime.State;
            if (runtime.Reload || current is null || current.Deployment != deployment || current.Wanted != wanted)
            {
                // A repository load reads and verifies every package again, cached or not (a package changed on disk since
                // it was first read is refused, not served from memory); a swap or a retry takes what the cache holds.
                var reread = runtime.Reload ? new HashSet<(string, string, int)>() : null;
                runtime.Reload = false;
                current = await LoadStateAsync(deployment, partial: true, reread, cancellationToken).ConfigureAwait(false);
                runtime.Swap(current);
                _metrics.Swaps.Labels(deployment.Name).Inc();
            }

            if (current.Shadow is null)
            {
                RetireShadow(record.Name); // a shadow taken out (or left out): its worker answers what is queued and ends
            }

            // Set whether or not anything was loaded now: the error of an earlier attempt (an alias since moved back) is gone.
            runtime.LastError = current.LeftOut;
            if (current.LeftOut is { } leftOut)
            {
                LogRefreshFailure(record.Name, leftOut);
            }
            else
            {
                _reported.TryRemove(record.Name, out _);
            }

            return true;
        }
        catch (StrataException e) when (e.IsCallerError)
        {
            runtime.LastError = e.Message;
            LogRefreshFailure(record.Name, e.Message);
            return true;
        }
#pragma warning disable CA1031 // one endpoint's failure must not stop the others' refresh (nor the server's start)
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            runtime.LastError = e.Message;
            LogRefreshFailure(record.Name, e.Message);
            return false;
        }
    }

    /// <summary>
    /// The versions a deployment names now. The champion's must resolve (the deployment serves nothing without it); a
    /// challenger's or shadow's alias that does not is null, and loading the state says why.
    /// </summary>
    private async Task<(int Champion, int? Challenger, int? Shadow)> ResolveAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        var champion = await _cache.ResolveAsync(deployment.Project, deployment.ChampionReference, cancellationToken).ConfigureAwait(false);
        return (champion, await TryResolveAsync(deployment.Project, deployment.Challenger, cancellationToken).ConfigureAwait(false),
            await TryResolveAsync(deployment.Project, deployment.Shadow, cancellationToken).ConfigureAwait(false));
    }

    private async Task<int?> TryResolveAsync(string project, string? reference, CancellationToken cancellationToken)
    {
        try
        {
            return reference is null ? null : await _cache.ResolveAsync(project, ModelReference.Parse(reference), cancellationToken).ConfigureAwait(false);
        }
        catch (StrataException e) when (e.IsCallerError)
        {
            return null;
        }
    }

    /// <summary>
    /// Checks a deployment as a <c>PUT</c> does: its batching delay is below its timeout, its burst holds a request, its
    /// project exists, and every model it names loads and fits with the others. (Not part of <see cref="Deployment.Validate"/>, which stored
    /// deployments pass when read: one stored before this check keeps loading.)
    /// </summary>
    /// <exception cref="StrataException">What is wrong, as a caller error.</exception>
    private async Task CheckAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        // A lone request waits the whole delay for company: at or beyond the timeout, every request at a quiet hour is a 504.
        if (deployment.Batching is { } batching && batching.MaxDelayMs >= deployment.Limits.TimeoutMs)
        {
            throw Deployment.Invalid("batching.max_delay_ms", FormattableString.Invariant(
                $"is {batching.MaxDelayMs}, not below limits.timeout_ms ({deployment.Limits.TimeoutMs}): a request arriving alone would wait for company until it timed out"));
        }

        // A request takes a whole token: a bucket smaller than one would refuse every request (read as 1 when stored).
        if (deployment.Limits.Burst is > 0 and < 1)
        {
            throw Deployment.Invalid("limits.burst", FormattableString.Invariant(
                $"is {deployment.Limits.Burst}: a request takes a whole token, so it must be 0 (the rate's size) or at least 1"));
        }

        if (await _metadata.Projects.GetAsync(deployment.Project, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new StrataException(ErrorCodes.NotFound, $"no project '{deployment.Project}'");
        }

        await LoadStateAsync(deployment, partial: false, reread: null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Loads a deployment's models and checks that they fit together. For a new deployment (<paramref name="partial"/>
    /// false: a <c>PUT</c>, a declaration) any failure refuses it. For a stored one being refreshed only the champion's
    /// does: a challenger or shadow that cannot be loaded or checked is left out, the reason in
    /// <see cref="EndpointState.LeftOut"/>, so it never takes the champion's traffic down with it.
    /// </summary>
    private async Task<EndpointState> LoadStateAsync(
        Deployment deployment, bool partial, HashSet<(string, string, int)>? reread, CancellationToken cancellationToken)
    {
        var championVersion = await _cache.ResolveAsync(deployment.Project, deployment.ChampionReference, cancellationToken).ConfigureAwait(false);
        var champion = await _cache.GetAsync(deployment.Project, deployment.ChampionReference.Model, championVersion, reread, cancellationToken).ConfigureAwait(false);
        var problems = new List<string>();
        var (challenger, challengerVersion) = await LoadRoleAsync(deployment, ServingRoles.Challenger, deployment.Challenger, partial, problems, reread, cancellationToken).ConfigureAwait(false);
        var (shadow, shadowVersion) = await LoadRoleAsync(deployment, ServingRoles.Shadow, deployment.Shadow, partial, problems, reread, cancellationToken).ConfigureAwait(false);
        var wanted = (championVersion, challengerVersion, shadowVersion);
        var state = new EndpointState(deployment, champion, challenger, shadow) { Wanted = wanted, LeftOut = Joined(problems) };
        try
        {
            await CheckFieldsAsync(state, cancellationToken).ConfigureAwait(false);
        }
        catch (StrataException e) when (partial && e.IsCallerError && (challenger ?? shadow) is not null)
        {
            // The champion alone, if it passes on its own: then the challenger's or shadow's fields are what did not.
            problems.Add($"the challenger and shadow are not served: {e.Message}");
            state = new EndpointState(deployment, champion, null, null) { Wanted = wanted, LeftOut = Joined(problems) };
            await CheckFieldsAsync(state, cancellationToken).ConfigureAwait(false);
        }

        return state;
    }

    /// <summary>Resolves and loads a challenger or shadow; with <paramref name="partial"/>, a failure is added to <paramref name="problems"/> instead of thrown.</summary>
    private async Task<(LoadedModel? Model, int? Version)> LoadRoleAsync(
        Deployment deployment, string role, string? reference, bool partial, List<string> problems, HashSet<(string, string, int)>? reread, CancellationToken cancellationToken)
    {
        if (reference is null)
        {
            return (null, null);
        }

        var parsed = ModelReference.Parse(reference);
        int? version = null;
        try
        {
            version = await _cache.ResolveAsync(deployment.Project, parsed, cancellationToken).ConfigureAwait(false);
            return (await _cache.GetAsync(deployment.Project, parsed.Model, version.Value, reread, cancellationToken).ConfigureAwait(false), version);
        }
        catch (StrataException e) when (partial && e.IsCallerError)
        {
            problems.Add($"{role} '{reference}' is not served: {e.Message}");
            return (null, version);
        }
    }

    private static string? Joined(List<string> problems) => problems.Count == 0 ? null : string.Join("; ", problems);

    /// <summary>
    /// Refuses a deployment whose models read one field as different kinds, whose feature service does not exist or gives
    /// a field that a model reads as the other kind (every request would fail while the endpoint read as ready), or whose
    /// <c>pii</c> names a field the endpoint never receives: a misspelt name would leave the real field unmasked in the
    /// prediction log without a word.
    /// </summary>
    private async Task CheckFieldsAsync(EndpointState state, CancellationToken cancellationToken)
    {
        var deployment = state.Deployment;
        var models = state.Models().ToList();

        // Every model's inputs, and the sticky key: a field the caller sends for routing, which may well be personal.
        var known = new HashSet<string>(models.SelectMany(m => m.Inputs.Select(i => i.Name)), StringComparer.Ordinal);
        known.UnionWith(state.OtherFields);

        // A field two models read as different kinds (text for one, a number for the other) cannot be sent to both: every
        // request one of them answers would fail the other, a shadow's without a word to the caller.
        var conflicts = models.Distinct()
            .SelectMany(m => m.Inputs.Select(i => (Model: m, Text: i.Kind == Learning.FeatureKind.Categorical, i.Name)))
            .GroupBy(p => p.Name, StringComparer.Ordinal)
            .Where(g => g.Any(p => p.Text) && g.Any(p => !p.Text))
            .Select(g => $"field '{g.Key}' is {string.Join(" but ", g.DistinctBy(p => p.Text).Select(p => $"{(p.Text ? "text" : "a number")} for {p.Model.Name} version {p.Model.Version}"))}")
            .ToList();
        if (conflicts.Count > 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"endpoint '{deployment.Name}' cannot send one request to all its models: {string.Join("; ", conflicts)}");
        }

        if (deployment.FeatureService is { } service)
        {
            var features = _features ?? throw new StrataException(
                ErrorCodes.Conflict, $"endpoint '{deployment.Name}' enriches from feature service '{service}', but this server has no feature store");
            var store = await features.GetAsync(deployment.Project, cancellationToken).ConfigureAwait(false);
            var references = store.Resolve(null, service);
            var needed = Needs(store, service, references).Fields;
            var supplied = references.Select(r => r.Feature).ToHashSet(StringComparer.Ordinal);
            known.UnionWith(needed.Keys);
            known.UnionWith(supplied);
            state.EnrichedInputs = models.Distinct().ToDictionary(m => m, m =>
            {
                // What the service does not supply, then what it needs that the model does not already ask for. A field
                // the service needs is described as the service reads it, even when the model reads it too: a request
                // the service refuses never reaches the model.
                var inputs = m.Inputs.Where(i => !supplied.Contains(i.Name)).Select(i => needed.TryGetValue(i.Name, out var f) ? RequestInput(f) : i).ToList();
                inputs.AddRange(needed.Values.Where(f => !inputs.Exists(i => i.Name == f.Name)).Select(RequestInput));
                return (IReadOnlyList<Learning.ModelInput>)inputs;
            });

            // A feature (or a key the service needs as well) that a model reads as the other kind would fail every request.
            var given = needed.Select(n => (Name: n.Key, n.Value.Type)).Concat(references.Select(r => (Name: r.Feature, store.FieldOf(r).Type)));
            var mismatched = given
                .SelectMany(s => models.Select(m => m.TypeProblem(s.Name, s.Type, $"feature service '{service}'")))
                .OfType<string>()
                .Distinct(StringComparer.Ordinal)
                .ToList();
            if (mismatched.Count > 0)
            {
                throw new StrataException(
                    ErrorCodes.ArgumentInvalid,
                    $"endpoint '{deployment.Name}' cannot read feature service '{service}': {string.Join("; ", mismatched)}");
            }
        }

        // A field only a left-out challenger or shadow reads cannot be told from a misspelling: the check waits for it.
        var unknown = state.LeftOut is null ? deployment.Pii.Where(p => !known.Contains(p)).ToList() : [];
        if (unknown.Count > 0)
        {
            throw new StrataException(
                ErrorCodes.ArgumentInvalid,
                $"field 'pii' names {string.Join(", ", unknown.Select(u => $"'{u}'"))}, which endpoint '{deployment.Name}' never receives " +
                $"(its fields: {string.Join(", ", known.Order(StringComparer.Ordinal))})");
        }
    }

    /// <summary>
    /// A field a feature service needs, as a request sends it: text for a string or a timestamp (ISO 8601, as the feature
    /// routes read one), a number or a boolean otherwise. The protocol's metadata lists it so (BYTES, BOOL, INT64…).
    /// </summary>
    private static Learning.ModelInput RequestInput(Field field) =>
        new(field.Name, field.Type, field.Type is DataType.String or DataType.Timestamp ? Learning.FeatureKind.Categorical : Learning.FeatureKind.Numeric);

    private async Task PollLoopAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.PollInterval, _clock, token).ConfigureAwait(false);
                var sequence = await _metadata.GetChangeSequenceAsync(token).ConfigureAwait(false);
                // An endpoint whose models failed to load is retried on every tick; one unloaded on purpose waits for a load.
                if (sequence != Volatile.Read(ref _seenSequence) || !Ready)
                {
                    await RefreshAsync(token).ConfigureAwait(false);
                }

                _reported.TryRemove(StoreFailure, out _); // the store answered: its next outage is warned about
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // a store outage must not stop the poller: it retries on the next tick
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogRefreshFailure(StoreFailure, e.Message);
            }
        }
    }

    /// <summary>Requests an endpoint's shadow has answered, and copies it dropped (tests).</summary>
    internal (double Answered, double Dropped) ShadowCounts(string endpoint) =>
        (_metrics.ShadowPredictions.Labels(endpoint).Value, _metrics.ShadowDropped.Labels(endpoint).Value);

    /// <summary>Shadow workers running, those of retired queues still answering included (tests).</summary>
    internal int ShadowWorkers
    {
        get
        {
            lock (_shadowLock)
            {
                return _shadowWorking.Count;
            }
        }
    }

    /// <summary>Batched calls of an endpoint and the requests they answered (tests).</summary>
    internal (double Count, double Sum) BatchSizes(string endpoint)
    {
        var child = _metrics.BatchSizes.Labels(endpoint);
        return (child.Count, child.Sum);
    }

    /// <summary>Predictions the log has written, and dropped because its queue was full (tests).</summary>
    internal (double Written, double Dropped) LogCounts() => (_log?.Written ?? 0, _log?.Dropped ?? 0);

    /// <summary>An endpoint's runtime (tests reach its admission control).</summary>
    internal EndpointRuntime RuntimeOf(string name) => Endpoint(name);

    /// <summary>An endpoint's runtime; an unknown name is told as <paramref name="naming"/> words it (the native API's words when null).</summary>
    private EndpointRuntime Endpoint(string name, RequestNaming? naming = null) =>
        _endpoints.TryGetValue(name, out var endpoint) ? endpoint : throw new StrataException(ErrorCodes.NotFound, $"no {(naming ?? RequestNaming.Rows).Named(name)}");

    private EndpointStatus Status(EndpointRuntime e)
    {
        var state = e.State;
        return new EndpointStatus(
            e.Deployment.Name,
            e.Deployment,
            state is not null,
            state is null ? null : Ref(state.Champion),
            state?.Challenger is { } c ? Ref(c) : null,
            state?.Shadow is { } s ? Ref(s) : null,
            e.LastError,
            e.Admission.Running,
            e.Admission.Waiting);
    }

    private static string Ref(LoadedModel m) => RequestNaming.Rows.Serving(m.Name, m.Version);

    /// <summary>
    /// Sets the per-endpoint gauges before a scrape and drops the series that no longer describe anything: every series
    /// of an endpoint that was deleted, and the version of a role an endpoint no longer has (a challenger taken out, an
    /// endpoint unloaded or not loaded yet).
    /// </summary>
    private void UpdateGauges()
    {
        // NOTE: one scrape at a time, so one that read the endpoints earlier cannot set a role a later one has dropped.
        lock (_gaugesLock)
        {
            var served = new HashSet<(string Endpoint, string Role)>();
            foreach (var e in _endpoints.Values)
            {
                var name = e.Deployment.Name;
                _metrics.InFlight.Labels(name).Set(e.Admission.Running);
                _metrics.QueueDepth.Labels(name).Set(e.Admission.Waiting);
                if (e.State is { } state)
                {
                    SetServed(served, name, ServingRoles.Champion, state.Champion);
                    SetServed(served, name, ServingRoles.Challenger, state.Challenger);
                    SetServed(served, name, ServingRoles.Shadow, state.Shadow);
                }
            }

            _metrics.Served.RemoveWhere(labels => !served.Contains((labels[0], labels[1])));
            _metrics.DropEndpoints(name => !_endpoints.ContainsKey(name));
        }
    }

    private void SetServed(HashSet<(string, string)> served, string endpoint, string role, LoadedModel? model)
    {
        if (model is not null)
        {
            _metrics.Served.Labels(endpoint, role).Set(model.Version);
            served.Add((endpoint, role));
        }
    }

    /// <summary>
    /// Warns that an endpoint (or, as <see cref="StoreFailure"/>, the whole refresh) failed, once per reason: a failing
    /// endpoint is retried at every poll, and a warning each time would fill the log with one line a second for as long
    /// as it lasts. It is written again when the reason changes, or when it fails again after a refresh succeeded.
    /// </summary>
    private void LogRefreshFailure(string endpoint, string message)
    {
        if (_reported.TryGetValue(endpoint, out var last) && last == message)
        {
            return;
        }

        _reported[endpoint] = message;
        _options.Warn?.Invoke($"endpoint '{endpoint}' could not be refreshed: {message} (retried in the background; warned again only if the reason changes)");
    }
}

/// <summary>A key's SHA-256, as the authentication cache's key (two halves, so looking it up allocates nothing).</summary>
internal readonly record struct KeyDigest(UInt128 Low, UInt128 High);
