using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Strata.Features.Aggregation;
using Strata.Features.Definitions;
using Strata.Features.OnDemand;
using Strata.Features.OnlineStore;
using Strata.Features.PointInTime;
using Strata.Features.Streaming;
using Strata.Stores;

namespace Strata.Features;

/// <summary>Where pushed rows go, as Feast's push API names it.</summary>
public enum PushTarget
{
    /// <summary>The online store only.</summary>
    Online,
    /// <summary>The offline store only.</summary>
    Offline,
    /// <summary>Both stores.</summary>
    OnlineAndOffline,
}

/// <summary>What a materialization wrote per view.</summary>
/// <param name="View">The view.</param>
/// <param name="StartMicros">Start of the event-time range (inclusive).</param>
/// <param name="EndMicros">End of the event-time range (exclusive).</param>
/// <param name="Rows">Rows written to the online store.</param>
public sealed record MaterializedView(string View, long StartMicros, long EndMicros, long Rows);

/// <summary>Online feature values of many entities, one column of values per feature, in request order.</summary>
/// <param name="FeatureNames">Output names (<c>feature</c> or <c>view__feature</c>).</param>
/// <param name="References">The features, in the same order.</param>
/// <param name="Values">Per feature, one value per entity row.</param>
public sealed record OnlineFeatures(IReadOnlyList<string> FeatureNames, IReadOnlyList<FeatureReference> References, IReadOnlyList<FeatureValue[]> Values)
{
    /// <summary>
    /// Every stored feature the read took from the online store (on-demand views' inputs included), one value per entity
    /// row: serving counts a row none of them was found for as a miss, which the outputs alone cannot tell when some are
    /// on-demand features (computed, so present, for any entity).
    /// </summary>
    internal IReadOnlyList<FeatureValue[]> Stored { get; init; } = [];
}

/// <summary>
/// One project's feature store: its applied definitions over an offline and an online store. Training sets, online
/// reads, materialization and push all go through here, so both paths use the same definitions and the same code for
/// windows and on-demand features.
/// </summary>
public sealed class FeatureStore
{
    private const int BatchRows = 65_536;

    // Stores check a TTL as event_ts < now − ttl: from this instant no row is beyond it, and no subtraction overflows.
    private const long IgnoringTtl = long.MinValue / 2;

    // A push reads, merges and writes the windows of the aggregation views it feeds, and a materialization of one rebuilds
    // its windows: for one view the two must not interleave, or the later write drops the other's events. So each view of
    // an online store has a turn in this process, shared by the store's feature stores (one per definitions version): a
    // push takes the turns of the aggregation views it merges, in name order (two pushes taking the same views never wait
    // for each other in a cycle, whatever order their definitions list them in), and none when it merges none; a
    // materialization takes its view's alone. So a push waits only behind work on a view it merges, never behind a
    // materialization of another. Plain views need no turn: both stores keep the newest row per key whatever order writes
    // come in (PostgreSQL upserts them in key order, so two writes of the same keys wait for each other rather than
    // deadlock), and a push's write of several views is one write on either. Other processes sharing the store
    // (PostgreSQL replicas) are kept out by the store's merge, which locks the same views, one lock per view.
    private static readonly ConditionalWeakTable<IOnlineStore, ConcurrentDictionary<string, ViewTurn>> ViewTurns = [];

    /// <summary>
    /// How long a push waits for the turns of the aggregation views it merges, all of them together. A push holds a turn
    /// for milliseconds, so a wait this long is behind a materialization of one of those views in this process (minutes,
    /// for a long history), and the caller hears why before the 30 to 60 s after which HTTP clients and proxies commonly
    /// give up: the same bound as a merge's wait for another replica's lock on PostgreSQL.
    /// </summary>
    internal static readonly TimeSpan DefaultPushLockWait = TimeSpan.FromSeconds(15);

    private readonly IOfflineStore _offline;
    private readonly IOnlineStore _online;
    private readonly IFeatureRegistryStore _registry;
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, ViewTurn> _turns;
    private readonly Dictionary<(string View, string Feature), OnDemandExpression> _expressions = [];
    private readonly Dictionary<string, StreamingAggregator> _windows = new(StringComparer.Ordinal);

    // Resolved once per definitions version, so a request's checks are dictionary lookups (the serving path's budget is
    // microseconds; building layouts per request cost more than the read itself).
    private readonly Dictionary<FeatureReference, Field> _fields = [];
    private readonly Dictionary<string, IReadOnlyList<Field>> _joinKeys = new(StringComparer.Ordinal);

    // Each feature service's online read plan, keyed by the service's own list: regrouping 50 references by view per
    // request (with a LINQ closure per on-demand lookup) was most of an enriched request's 45 KB of garbage.
    private readonly Dictionary<IReadOnlyList<FeatureReference>, OnlineReadPlan> _servicePlans = new(ReferenceEqualityComparer.Instance);

    /// <summary>Opens the store of a project over its applied definitions; on-demand expressions are compiled here.</summary>
    public FeatureStore(string project, FeatureRepository repository, int version, IOfflineStore offline, IOnlineStore online, IFeatureRegistryStore registry, TimeProvider? clock = null)
    {
        Project = project;
        Repository = repository;
        Version = version;
        _offline = offline;
        _online = online;
        _registry = registry;
        _clock = clock ?? TimeProvider.System;
        _turns = ViewTurns.GetValue(online, static _ => new ConcurrentDictionary<string, ViewTurn>(StringComparer.Ordinal));
        foreach (var view in repository.FeatureViews.Select(v => (v.Name, v.Entities)).Concat(repository.AggregationViews.Select(v => (v.Name, v.Entities))))
        {
            _joinKeys[view.Name] = repository.JoinKeys(view.Entities);
        }

        foreach (var view in repository.FeatureViews)
        {
            foreach (var feature in view.Features)
            {
                _fields[new FeatureReference(view.Name, feature.Name)] = feature;
            }
        }

        foreach (var view in repository.AggregationViews)
        {
            foreach (var aggregation in view.Aggregations)
            {
                _fields[new FeatureReference(view.Name, aggregation.Name)] = new Field(aggregation.Name, FeatureRepository.AggregateType(aggregation, repository.Source(view.Source)), nullable: true);
            }

            _windows[view.Name] = new StreamingAggregator(repository.OfflineLayout(view.Name), view.Aggregations);
        }

        foreach (var view in repository.OnDemandViews)
        {
            foreach (var feature in view.Features)
            {
                _fields[new FeatureReference(view.Name, feature.Field.Name)] = feature.Field;
            }
        }

        foreach (var service in repository.Services)
        {
            _servicePlans.TryAdd(service.Features, OnlineReadPlan.Of(service.Features, repository));
        }

        foreach (var view in repository.OnDemandViews)
        {
            var inputs = new Schema(view.RequestFields.Concat(view.Inputs.Select(i => FieldOf(i).WithName(i.ToFullName()).WithNullable(true))));
            foreach (var feature in view.Features)
            {
                _expressions[(view.Name, feature.Field.Name)] = OnDemandExpression.Compile(feature.Expression, inputs, feature.Field.Type);
            }
        }
    }

    /// <summary>The project.</summary>
    public string Project { get; }

    /// <summary>The applied definitions.</summary>
    public FeatureRepository Repository { get; }

    /// <summary>The version of the definitions (0 when none were applied).</summary>
    public int Version { get; }

    /// <summary>The offline store.</summary>
    public IOfflineStore Offline => _offline;

    /// <summary>The online store.</summary>
    public IOnlineStore Online => _online;

    /// <summary>How long a push waits for the turns of the views it merges before it is refused as a conflict (tests shorten it).</summary>
    internal TimeSpan PushLockWait { get; set; } = DefaultPushLockWait;

    /// <summary>Told a view's name when a push or materialization through this store finds the view's turn taken and waits (tests).</summary>
    internal Action<string>? WaitingForTurn { get; set; }

    /// <summary>
    /// The features a request names: a feature service, or <c>view:feature</c> references; each checked to exist.
    /// </summary>
    /// <exception cref="StrataException">Both or neither given, or an unknown service, view or feature (not found).</exception>
    public IReadOnlyList<FeatureReference> Resolve(IReadOnlyList<string>? features, string? service)
    {
        if (service is not null && features is { Count: > 0 })
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "give either a feature service or a list of features, not both");
        }

        IReadOnlyList<FeatureReference> references = service is not null
            ? Repository.Service(service).Features
            : features is { Count: > 0 } ? features.Select(FeatureReference.Parse).ToArray()
            : throw new StrataException(ErrorCodes.ArgumentInvalid, "no features asked for: give a feature service or a list of view:feature references");
        foreach (var reference in references)
        {
            FieldOf(reference); // throws not found
        }

        return references;
    }

    /// <summary>The type and tags of a feature.</summary>
    /// <exception cref="StrataException">Unknown view or feature (not found).</exception>
    public Field FieldOf(FeatureReference reference)
    {
        if (_fields.TryGetValue(reference, out var known))
        {
            return known;
        }

        if (Repository.FeatureViews.FirstOrDefault(v => v.Name == reference.View) is { } plain)
        {
            return plain.Features.FirstOrDefault(f => f.Name == reference.Feature) ?? throw UnknownFeature(reference, plain.Features.Select(f => f.Name));
        }

        if (Repository.AggregationViews.FirstOrDefault(v => v.Name == reference.View) is { } windows)
        {
            var aggregation = windows.Aggregations.FirstOrDefault(a => a.Name == reference.Feature) ?? throw UnknownFeature(reference, windows.Aggregations.Select(a => a.Name));
            return new Field(aggregation.Name, FeatureRepository.AggregateType(aggregation, Repository.Source(windows.Source)), nullable: true);
        }

        if (Repository.OnDemandViews.FirstOrDefault(v => v.Name == reference.View) is { } onDemand)
        {
            return onDemand.Features.FirstOrDefault(f => f.Field.Name == reference.Feature)?.Field ?? throw UnknownFeature(reference, onDemand.Features.Select(f => f.Field.Name));
        }

        throw new StrataException(ErrorCodes.NotFound, $"feature view '{reference.View}' is not defined in project '{Project}'");
    }

    /// <summary>The join keys of a stored view (feature or aggregation view).</summary>
    /// <exception cref="StrataException">No such view (not found).</exception>
    public IReadOnlyList<Field> JoinKeys(string view) =>
        _joinKeys.TryGetValue(view, out var keys) ? keys : throw new StrataException(ErrorCodes.NotFound, $"feature view '{view}' is not defined in project '{Project}'");

    /// <summary>
    /// A point-in-time-correct training set: the entity rows (keys, timestamp, labels: carried through in order) with
    /// every asked feature as known at each row's timestamp — feature views through the offline store's join, windowed
    /// aggregates computed as of the row, on-demand features by their compiled expressions.
    /// </summary>
    /// <exception cref="StrataException">No or a non-timestamp timestamp column, a missing key or request column, unknown features, clashing names.</exception>
    public async Task<Table> GetHistoricalFeaturesAsync(
        Table entities,
        string entityTimestamp,
        IReadOnlyList<FeatureReference> features,
        bool fullFeatureNames = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentNullException.ThrowIfNull(features);
        var tsIndex = entities.Schema.TryIndexOf(entityTimestamp);
        if (tsIndex < 0)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"the entity table has no timestamp column '{entityTimestamp}' (columns: {string.Join(", ", entities.Schema.Names)})");
        }

        if (entities.Schema[tsIndex].Type != DataType.Timestamp)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"the entity table's column '{entityTimestamp}' is {entities.Schema[tsIndex].Type.Name()}, not a timestamp");
        }

        foreach (var reference in features)
        {
            FieldOf(reference);
        }

        // Every stored feature the output or an on-demand input needs, fetched under full names.
        var needed = StoredFeatures(features);

        // Refused for windowed views too, though they join in memory: a key the stores cannot hold is the same mistake there.
        foreach (var key in needed.Select(r => r.View).Distinct(StringComparer.Ordinal).SelectMany(JoinKeys).Select(k => k.Name).Distinct(StringComparer.Ordinal))
        {
            if (entities.Schema.TryIndexOf(key) is var index and >= 0 && FeatureText.FirstNul(entities[index]) is var row and >= 0)
            {
                throw FeatureText.Refused($"entity row {row}: join key '{key}'");
            }
        }

        var fetched = new Dictionary<FeatureReference, Column>();
        var plainRequests = needed.Where(r => Repository.FeatureViews.Any(v => v.Name == r.View)).Distinct()
            .GroupBy(r => r.View)
            .Select(g => new HistoricalFeatureRequest(Repository.OfflineLayout(g.Key), g.Select(r => r.Feature).ToArray()))
            .ToArray();
        if (plainRequests.Length > 0)
        {
            // Only the keys and the timestamp go to the store (PostgreSQL uploads them); other columns are carried here.
            var keysOnly = entities.Select(plainRequests.SelectMany(r => r.View.JoinKeys.Select(k => k.Name)).Append(entityTimestamp).Distinct().Where(entities.Schema.Contains).ToArray());
            var joined = await _offline.GetHistoricalFeaturesAsync(keysOnly, entityTimestamp, plainRequests, new PointInTimeJoinOptions { FullFeatureNames = true }, cancellationToken).ConfigureAwait(false);
            foreach (var request in plainRequests)
            {
                foreach (var feature in request.Features)
                {
                    fetched[new FeatureReference(request.View.Name, feature)] = joined[$"{request.View.Name}__{feature}"];
                }
            }
        }

        foreach (var group in needed.Where(r => Repository.AggregationViews.Any(v => v.Name == r.View)).Distinct().GroupBy(r => r.View))
        {
            var view = Repository.AggregationViews.First(v => v.Name == group.Key);
            var aggregations = group.Select(r => view.Aggregations.First(a => a.Name == r.Feature)).ToArray();
            var layout = Repository.OfflineLayout(view.Name);
            var events = await ReadEventsForAsync(layout, aggregations, entities.GetColumn<long>(entityTimestamp), cancellationToken).ConfigureAwait(false);
            var values = WindowedAggregation.AsOf(events, layout, aggregations, entities, entityTimestamp);
            foreach (var aggregation in aggregations)
            {
                fetched[new FeatureReference(view.Name, aggregation.Name)] = values[aggregation.Name];
            }
        }

        var output = new List<(Field Field, Column Column)>();
        output.AddRange(entities.Schema.Select((f, i) => (f, entities[i])));
        var owners = new HashSet<string>(entities.Schema.Names, StringComparer.Ordinal);
        foreach (var reference in features)
        {
            var column = OnDemand(reference.View) is { } onDemand
                ? Evaluate(onDemand, reference.Feature, entities, fetched)
                : fetched[reference];
            var name = fullFeatureNames ? reference.ToFullName() : reference.Feature;
            if (!owners.Add(name))
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"output column '{name}' appears twice; ask for full feature names or rename a feature");
            }

            output.Add((FieldOf(reference).WithName(name).WithNullable(true), column));
        }

        return new Table(new Schema(output.Select(o => o.Field)), output.Select(o => o.Column));
    }

    /// <summary>
    /// What a training set over <paramref name="features"/> reads besides its entity rows: the definitions (version and
    /// digest) and the offline fingerprint of every stored view behind the features, without reading a row. A pipeline's
    /// step cache keys on it, so rows appended or definitions applied since make a cached training set stale.
    /// </summary>
    /// <exception cref="StrataException">Unknown features.</exception>
    public async Task<string> GetTrainingFingerprintAsync(IReadOnlyList<FeatureReference> features, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(features);
        foreach (var reference in features)
        {
            FieldOf(reference);
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"definitions v{Version} {Repository.ComputeDigest()}\n");
        foreach (var view in StoredFeatures(features).Select(r => r.View).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var fingerprint = await _offline.GetFingerprintAsync(Repository.OfflineLayout(view), cancellationToken).ConfigureAwait(false);
            text.Append(CultureInfo.InvariantCulture, $"view {view}: {fingerprint}\n");
        }

        return text.ToString();
    }

    /// <summary>
    /// Latest feature values of many entities from the online store, with Feast's statuses and event times; on-demand
    /// features are computed from them and from request columns by the same expressions as training sets use.
    /// </summary>
    /// <param name="features">The features, in output order.</param>
    /// <param name="entityRows">One row per entity: the join keys of every view asked for, and the request fields of on-demand views.</param>
    /// <param name="fullFeatureNames">Name outputs <c>view__feature</c>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="StrataException">
    /// Unknown features (not found); a missing key or request column, a key of the wrong type, or features whose output
    /// names collide (a feature asked for twice, or two of one name without <paramref name="fullFeatureNames"/>) (invalid argument).
    /// </exception>
    public ValueTask<OnlineFeatures> GetOnlineFeaturesAsync(
        IReadOnlyList<FeatureReference> features,
        Table entityRows,
        bool fullFeatureNames = false,
        CancellationToken cancellationToken = default) =>
        GetOnlineFeaturesAsync(features, entityRows, replaced: null, fullFeatureNames, cancellationToken);

    /// <summary>
    /// The online read, with stored features whose values on-demand features read from <paramref name="replaced"/> (one
    /// value per entity row, of the feature's type) instead of the store: serving's request fields win over stored
    /// values, and the on-demand features must be computed from the values the model receives.
    /// </summary>
    internal async ValueTask<OnlineFeatures> GetOnlineFeaturesAsync(
        IReadOnlyList<FeatureReference> features,
        Table entityRows,
        IReadOnlyDictionary<FeatureReference, Column>? replaced,
        bool fullFeatureNames,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(entityRows);
        var now = NowMicros();
        var count = entityRows.RowCount;
        var plan = _servicePlans.TryGetValue(features, out var planned) ? planned : OnlineReadPlan.Of(features, Repository);
        if ((fullFeatureNames ? plan.FullCollision : plan.Collision) is { } collision)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, collision);
        }

        var stored = new FeatureValue[plan.Needed.Length][];

        // Stored features (and on-demand inputs) read view by view, one store call per view.
        foreach (var group in plan.Groups)
        {
            var layout = OnlineLayout(group.View)
                ?? throw new StrataException(ErrorCodes.NotFound, $"feature view '{group.View}' is not served online (it is offline-only or not applied yet)");
            var keys = EntityKeys(layout, entityRows);
            // Rented: 100 entities × 50 features would otherwise be a large-object allocation per request, and those
            // are only freed by full collections, which show up as the read's p99.
            var names = group.Names;
            var size = count * names.Length;
            var results = System.Buffers.ArrayPool<FeatureValue>.Shared.Rent(size);
            try
            {
                if (group.Aggregations is { } aggregations)
                {
                    await ReadWindowsAsync(_windows[group.View], aggregations, keys, now, count, results.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _online.ReadAsync(layout.Name, names, keys, now, results.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
                }

                for (var f = 0; f < names.Length; f++)
                {
                    var column = new FeatureValue[count];
                    for (var e = 0; e < count; e++)
                    {
                        column[e] = results[(e * names.Length) + f];
                    }

                    stored[group.Needed[f]] = column;
                }
            }
            finally
            {
                System.Buffers.ArrayPool<FeatureValue>.Shared.Return(results, clearArray: true); // values hold strings
            }
        }

        var values = new FeatureValue[features.Count][];
        for (var i = 0; i < features.Count; i++)
        {
            if (plan.OnDemand[i] is { } onDemand)
            {
                var inputs = onDemand.Inputs.ToDictionary(
                    r => r, r => replaced is not null && replaced.TryGetValue(r, out var given) ? given : OnlineValues.ToColumn(FieldOf(r).Type, stored[plan.NeededAt[r]]));
                var column = Evaluate(onDemand, features[i].Feature, entityRows, inputs);
                values[i] = OnlineValues.FromColumn(column);
            }
            else
            {
                values[i] = stored[plan.Source[i]];
            }
        }

        return new OnlineFeatures(fullFeatureNames ? plan.FullNames : plan.Names, features, values) { Stored = stored };
    }

    /// <summary>
    /// Windowed aggregates of many entities as of <paramref name="now"/>: their stored windows read in one store call, each
    /// aggregate computed over the window ending now, into <paramref name="results"/> entity after entity.
    /// </summary>
    private async ValueTask ReadWindowsAsync(
        StreamingAggregator aggregator, int[] aggregations, ReadOnlyMemory<EntityKeyPart> keys, long now, int count, Memory<FeatureValue> results, CancellationToken cancellationToken)
    {
        var windows = System.Buffers.ArrayPool<FeatureValue>.Shared.Rent(count);
        try
        {
            await _online.ReadAsync(aggregator.OnlineLayout.Name, aggregator.WindowColumns, keys, now, windows.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
            for (var e = 0; e < count; e++)
            {
                aggregator.Evaluate(windows[e], now, aggregations, results.Span.Slice(e * aggregations.Length, aggregations.Length));
            }
        }
        finally
        {
            System.Buffers.ArrayPool<FeatureValue>.Shared.Return(windows, clearArray: true); // values hold strings
        }
    }

    private long NowMicros() => _clock.GetUtcNow().ToUnixTimeMilliseconds() * 1000;

    private FeatureViewLayout? OnlineLayout(string view)
    {
        foreach (var layout in _online.Views)
        {
            if (layout.Name == view)
            {
                return layout;
            }
        }

        return null;
    }

    /// <summary>
    /// Copies the latest values with event times in [start, end) from the offline store into the online store, view by
    /// view in batches (bounded memory; reads keep being served). Windowed views get their aggregates as of each
    /// entity's newest event in the range.
    /// </summary>
    /// <exception cref="StrataException">
    /// An end not after the start, an empty list of views (null means every online view), an on-demand or offline-only
    /// view (invalid), an unknown view (not found).
    /// </exception>
    public async Task<IReadOnlyList<MaterializedView>> MaterializeAsync(long startMicros, long endMicros, IReadOnlyList<string>? views = null, CancellationToken cancellationToken = default)
    {
        if (endMicros <= startMicros)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "the materialization's end must be after its start");
        }

        var done = new List<MaterializedView>();
        foreach (var view in OnlineViews(views))
        {
            done.Add(await MaterializeViewAsync(view, startMicros, endMicros, cancellationToken).ConfigureAwait(false));
        }

        return done;
    }

    /// <summary>
    /// Materializes each view from its watermark (the end of its last materialization; the start of its history the
    /// first time) to <paramref name="endMicros"/>, then moves the watermark.
    /// </summary>
    /// <exception cref="StrataException">An empty list of views (null means every online view), an on-demand or offline-only view, an unknown view.</exception>
    public async Task<IReadOnlyList<MaterializedView>> MaterializeIncrementalAsync(long endMicros, Actor actor, IReadOnlyList<string>? views = null, CancellationToken cancellationToken = default)
    {
        var done = new List<MaterializedView>();
        foreach (var view in OnlineViews(views))
        {
            var watermark = await _registry.GetWatermarkAsync(Project, view, cancellationToken).ConfigureAwait(false);
            var start = watermark ?? (await _offline.GetEventTimeRangeAsync(Repository.OfflineLayout(view), cancellationToken).ConfigureAwait(false))?.Min ?? endMicros;
            if (start >= endMicros)
            {
                done.Add(new MaterializedView(view, start, endMicros, 0));
                continue;
            }

            done.Add(await MaterializeViewAsync(view, start, endMicros, cancellationToken).ConfigureAwait(false));
            await _registry.SetWatermarkAsync(Project, view, endMicros, actor, cancellationToken).ConfigureAwait(false);
        }

        return done;
    }

    /// <summary>
    /// Pushes rows of a push source to the views it feeds: checked against the source's declared schema (and for NUL
    /// characters, which no store holds) for every view first, so a bad push writes nothing; the offline rows of every
    /// view are one append. Online, an aggregation view's events are merged into the touched entities' windows in the
    /// online store, so they outlive a restart whether or not they also go to the offline store.
    /// </summary>
    /// <returns>The views written.</returns>
    /// <exception cref="StrataException">Unknown source (not found); not a push source, or columns that do not match (invalid).</exception>
    public async Task<IReadOnlyList<string>> PushAsync(string source, Table rows, PushTarget to, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var definition = Repository.Sources.FirstOrDefault(s => s.Name == source)
            ?? throw new StrataException(ErrorCodes.NotFound, $"push source '{source}' is not defined in project '{Project}'");
        if (definition.Kind != SourceKind.Push || definition.Schema is null)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"source '{source}' is a {definition.Kind} source; only push sources take pushed rows");
        }

        rows = PushSchema.Conform(definition, rows);
        FeatureText.Check(rows, $"rows pushed to '{source}'");
        var offline = to != PushTarget.Online;
        var online = to != PushTarget.Offline;
        if (online)
        {
            _ = _online.Views; // an online store owned by another process refuses here, before the offline append
        }

        // Everything is projected and checked before the first write.
        var plain = Repository.FeatureViews.Where(v => v.Source == source).ToArray();
        var windows = Repository.AggregationViews.Where(v => v.Source == source).ToArray();
        var offlineWrites = new List<(FeatureViewLayout Layout, Table Rows)>();
        var onlineWrites = new List<(string View, Table Rows)>();
        foreach (var view in plain)
        {
            var layout = Repository.OfflineLayout(view.Name);
            var projected = PushSchema.Project(rows, layout, source);
            if (offline && view.Offline)
            {
                offlineWrites.Add((layout, projected));
            }

            if (online && view.Online)
            {
                onlineWrites.Add((view.Name, projected));
            }
        }

        var merges = new List<(string View, StreamingAggregator Aggregator, WindowBatch Batch)>();
        foreach (var view in windows)
        {
            var layout = Repository.OfflineLayout(view.Name);
            var events = PushSchema.Project(rows, layout, source);
            if (offline && view.Offline)
            {
                offlineWrites.Add((layout, events));
            }

            if (online && view.Online)
            {
                var aggregator = _windows[view.Name];
                merges.Add((view.Name, aggregator, aggregator.Prepare(events)));
            }
        }

        // A view the online store does not serve (definitions applied since it opened) would fail after the offline append.
        foreach (var view in onlineWrites.Select(w => w.View).Concat(merges.Select(m => m.View)))
        {
            _ = OnlineLayout(view) ?? throw new StrataException(ErrorCodes.Conflict, $"feature view '{view}' is not served by the online store yet; nothing was written (retry once the definitions are applied)");
        }

        // The turns of the views merged (none for plain views alone), so no materialization of them rebuilds their windows
        // between the read and the write below; refused, after a bounded wait, before anything is written.
        var turns = await EnterTurnsAsync(merges.ConvertAll(m => m.View), $"a push to source '{source}'", PushLockWait, cancellationToken).ConfigureAwait(false);
        try
        {
            // The windows' views stay locked from their read to their write against other processes too (replicas over one
            // PostgreSQL database): otherwise two replicas read the same windows, each merges its own events, and whichever
            // writes second drops the other's. On PostgreSQL the push's online writes are then one transaction. A merge
            // refused after a bounded wait (another replica materializing the view) is refused before any write here.
            var merge = merges.Count == 0 ? null : await _online.BeginMergeAsync(merges.ConvertAll(m => m.View), cancellationToken).ConfigureAwait(false);
            try
            {
                // Merged before the first write, so a window that cannot be read leaves both stores untouched.
                var now = NowMicros();
                foreach (var (view, aggregator, batch) in merges)
                {
                    // The stored windows whatever their age: one beyond the TTL still holds events a newer event's windows need.
                    var stored = new FeatureValue[batch.EntityCount];
                    await merge!.ReadAsync(view, aggregator.WindowColumns, batch.Keys, IgnoringTtl, stored, cancellationToken).ConfigureAwait(false);
                    onlineWrites.Add((view, aggregator.Merge(batch, stored, now)));
                }

                // One append for every view: on PostgreSQL one transaction, so a failure leaves no view with the rows and a
                // retry does not duplicate them.
                if (offlineWrites.Count > 0)
                {
                    await _offline.AppendAsync(offlineWrites.Select(w => new OfflineAppend(w.Layout, w.Rows)).ToArray(), cancellationToken).ConfigureAwait(false);
                }

                // Every view's rows as one write: on either store a failure (or, embedded, a crash) leaves no view with the
                // rows, where the views written before it kept theirs.
                if (onlineWrites.Count > 0)
                {
                    var writes = onlineWrites.ConvertAll(w => new OnlineWrite(w.View, w.Rows));
                    await (merge is null ? _online.WriteAsync(writes, cancellationToken) : merge.WriteAsync(writes, cancellationToken)).ConfigureAwait(false);
                }

                if (merge is not null)
                {
                    await merge.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                if (merge is not null)
                {
                    await merge.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ReleaseTurns(turns);
        }

        return offlineWrites.Select(w => w.Layout.Name).Concat(onlineWrites.Select(w => w.View)).Distinct().ToArray();
    }

    /// <summary>
    /// Reads a file source's rows (path relative to the repository folder, never outside it) and appends them to the
    /// offline store of every view it feeds.
    /// </summary>
    public async Task<long> IngestAsync(string source, Table rows, CancellationToken cancellationToken = default)
    {
        var definition = Repository.Source(source);
        var appends = new List<(FeatureViewLayout, Table)>();
        foreach (var view in Repository.FeatureViews.Where(v => v.Source == source && v.Offline))
        {
            var layout = Repository.OfflineLayout(view.Name);
            appends.Add((layout, PushSchema.Project(rows, layout, definition.Name)));
        }

        foreach (var view in Repository.AggregationViews.Where(v => v.Source == source && v.Offline))
        {
            var layout = Repository.OfflineLayout(view.Name);
            appends.Add((layout, PushSchema.Project(rows, layout, definition.Name)));
        }

        if (appends.Count > 0)
        {
            await _offline.AppendAsync(appends.Select(a => new OfflineAppend(a.Item1, a.Item2)).ToArray(), cancellationToken).ConfigureAwait(false);
        }

        return rows.RowCount;
    }

    private async Task<MaterializedView> MaterializeViewAsync(string view, long start, long end, CancellationToken cancellationToken)
    {
        var layout = Repository.OfflineLayout(view);
        long rows = 0;
        if (Repository.AggregationViews.FirstOrDefault(v => v.Name == view) is { } windows)
        {
            // Each entity's window up to its newest event in the range, from the events of the widest window before it. In the
            // view's turn and as a merge (which locks the view against other replicas' pushes): a push merged between the read
            // and the write would be replaced by the rebuilt window (the same newest event), and its event lost online.
            var widest = windows.Aggregations.Max(a => a.Window).Ticks / TimeSpan.TicksPerMicrosecond;
            // The materialization waits for its turn without a bound: it is an operator's batch job, which may wait behind
            // pushes (milliseconds each) or another materialization rather than fail; the pushes behind it are refused in time.
            // Only this view's turn: pushes into other views, and materializations of them, go on meanwhile.
            var turns = await EnterTurnsAsync([view], "a materialization of it", Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
            try
            {
                var merge = await _online.BeginMergeAsync([view], cancellationToken).ConfigureAwait(false);
                await using (merge.ConfigureAwait(false))
                {
                    var events = await ReadAsync(layout, start - widest, end, cancellationToken).ConfigureAwait(false);
                    var built = _windows[view].Build(events, start, NowMicros());
                    if (built.RowCount > 0)
                    {
                        await merge.WriteAsync(view, built, cancellationToken).ConfigureAwait(false);
                    }

                    await merge.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return new MaterializedView(view, start, end, built.RowCount);
                }
            }
            finally
            {
                ReleaseTurns(turns);
            }
        }

        // A plain view's rows are copied in no turn, as pushes write them: whichever write lands last, the store keeps per
        // key the row with the newest event time, so a push racing the copy keeps every row that is newer than the copy's.
        await foreach (var batch in _offline.ReadAsync(layout, start, end, BatchRows, cancellationToken).ConfigureAwait(false))
        {
            await _online.WriteAsync(view, batch, cancellationToken).ConfigureAwait(false);
            rows += batch.RowCount;
        }

        return new MaterializedView(view, start, end, rows);
    }

    private IEnumerable<string> OnlineViews(IReadOnlyList<string>? views)
    {
        var online = Repository.FeatureViews.Where(v => v.Online).Select(v => v.Name)
            .Concat(Repository.AggregationViews.Where(v => v.Online).Select(v => v.Name))
            .ToArray();
        if (views is null)
        {
            return online;
        }

        if (views.Count == 0)
        {
            // Only no list means every view: an empty one names none (a filter that matched nothing, say).
            throw new StrataException(ErrorCodes.ArgumentInvalid, "the list of views to materialize is empty; give none to materialize every online view");
        }

        foreach (var view in views)
        {
            if (OnDemand(view) is not null)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature view '{view}' is an on-demand view: it is computed when read, so it has nothing to materialize");
            }

            if (!Repository.IsStoredView(view))
            {
                throw new StrataException(ErrorCodes.NotFound, $"feature view '{view}' is not defined in project '{Project}'");
            }

            if (!online.Contains(view))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature view '{view}' is not online, so it is not materialized");
            }
        }

        return views;
    }

    private async Task<Table> ReadEventsForAsync(FeatureViewLayout layout, IReadOnlyList<AggregationDefinition> aggregations, Column<long> timestamps, CancellationToken cancellationToken)
    {
        long min = long.MaxValue, max = long.MinValue;
        for (var i = 0; i < timestamps.Length; i++)
        {
            if (timestamps.IsValid(i))
            {
                min = Math.Min(min, timestamps[i]);
                max = Math.Max(max, timestamps[i]);
            }
        }

        if (min > max)
        {
            return Table.Empty(layout.Schema);
        }

        var widest = aggregations.Max(a => a.Window).Ticks / TimeSpan.TicksPerMicrosecond;
        return await ReadAsync(layout, min - widest, max + 1, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Table> ReadAsync(FeatureViewLayout layout, long start, long end, CancellationToken cancellationToken)
    {
        var parts = new List<Table>();
        await foreach (var batch in _offline.ReadAsync(layout, start, end, BatchRows, cancellationToken).ConfigureAwait(false))
        {
            parts.Add(batch);
        }

        return parts.Count == 0 ? Table.Empty(layout.Schema) : parts.Count == 1 ? parts[0] : Table.Concat(parts);
    }

    private Column Evaluate(OnDemandViewDefinition view, string feature, Table requestRows, Dictionary<FeatureReference, Column> inputs)
    {
        var columns = new List<(Field, Column)>();
        foreach (var field in view.RequestFields)
        {
            var index = requestRows.Schema.TryIndexOf(field.Name);
            if (index < 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"on-demand view '{view.Name}' needs the request field '{field.Name}' ({field.Type.Name()}), which the entity rows do not have");
            }

            columns.Add((field.WithNullable(true), AsType(requestRows[index], field, view.Name)));
        }

        foreach (var input in view.Inputs)
        {
            columns.Add((FieldOf(input).WithName(input.ToFullName()).WithNullable(true), inputs[input]));
        }

        var table = new Table(new Schema(columns.Select(c => c.Item1)), columns.Select(c => c.Item2));
        return _expressions[(view.Name, feature)].Evaluate(table);
    }

    private static Column AsType(Column column, Field field, string view)
    {
        // Request data often arrives as integers where a view declares floats (CSV, JSON): widen numbers, refuse the rest.
        if (column.Type == field.Type)
        {
            return column;
        }

        if (!column.Type.IsNumeric() || !field.Type.IsNumeric())
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"on-demand view '{view}' declares request field '{field.Name}' as {field.Type.Name()}, but it is {column.Type.Name()}");
        }

        var builder = ColumnBuilder.Create(field.Type, column.Length);
        for (var i = 0; i < column.Length; i++)
        {
            if (column.IsNull(i))
            {
                builder.AppendNull();
                continue;
            }

            var value = column.GetValue(i)!;
            builder.AppendObject(Narrowed(value, field.Type) ?? throw new StrataException(
                ErrorCodes.DataOutOfRange,
                $"request field '{field.Name}' of on-demand view '{view}' is {Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)} at row {i + 1}, which {field.Type.Name()} cannot hold"));
        }

        return builder.Build();
    }

    /// <summary>
    /// A number as another numeric type, or null when that type cannot hold it (beyond its range, or a fraction for an
    /// integer): a value that wrapped or was cut would give a training set features the online path never computes.
    /// </summary>
    private static object? Narrowed(object value, DataType type)
    {
        var number = Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture);
        long? whole = value switch
        {
            long l => l,
            int n => n,
            _ when double.IsFinite(number) && number == Math.Floor(number) && number >= long.MinValue && number < 9.2233720368547758E18 => (long)number,
            _ => null,
        };
        return type switch
        {
            DataType.Float64 => number,
            DataType.Float32 => double.IsFinite(number) && Math.Abs(number) > float.MaxValue ? null : (float)number,
            DataType.Int64 => whole,
            _ => whole is >= int.MinValue and <= int.MaxValue ? (int)whole.Value : null,
        };
    }

    /// <summary>The stored features (of feature and aggregation views) asked features read: on-demand ones stand for their inputs.</summary>
    private List<FeatureReference> StoredFeatures(IReadOnlyList<FeatureReference> features)
    {
        var needed = new List<FeatureReference>();
        foreach (var reference in features)
        {
            if (OnDemand(reference.View) is { } onDemand)
            {
                needed.AddRange(onDemand.Inputs);
            }
            else
            {
                needed.Add(reference);
            }
        }

        return needed;
    }

    private OnDemandViewDefinition? OnDemand(string view) => Repository.OnDemandViews.FirstOrDefault(v => v.Name == view);

    private static ReadOnlyMemory<EntityKeyPart> EntityKeys(FeatureViewLayout layout, Table rows)
    {
        var arity = layout.JoinKeys.Count;
        var keys = new EntityKeyPart[rows.RowCount * arity];
        for (var k = 0; k < arity; k++)
        {
            var key = layout.JoinKeys[k];
            var index = rows.Schema.TryIndexOf(key.Name);
            if (index < 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature view '{layout.Name}' is keyed by '{key.Name}', which the entity rows do not have");
            }

            var column = rows[index];
            for (var e = 0; e < rows.RowCount; e++)
            {
                if (column.IsNull(e))
                {
                    throw new StrataException(ErrorCodes.ArgumentInvalid, $"entity row {e}: join key '{key.Name}' is null");
                }

                if (column is StringColumn text && FeatureText.HasNul(text[e]))
                {
                    throw FeatureText.Refused($"entity row {e}: join key '{key.Name}'");
                }

                keys[(e * arity) + k] = column switch
                {
                    StringColumn s => EntityKeyPart.FromString(s[e]!),
                    Column<long> l => EntityKeyPart.FromInt64(l[e]),
                    Column<int> n => EntityKeyPart.FromInt64(n[e]),
                    _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"join key '{key.Name}' must be {key.Type.Name()}, not {column.Type.Name()}"),
                };
            }
        }

        return keys;
    }

    private static StrataException UnknownFeature(FeatureReference reference, IEnumerable<string> features) =>
        new(ErrorCodes.NotFound, $"feature view '{reference.View}' has no feature '{reference.Feature}' (features: {string.Join(", ", features)})");

    /// <summary>
    /// Takes the turns of <paramref name="views"/> for <paramref name="what"/>, in name order, waiting at most
    /// <paramref name="wait"/> for all of them together (infinite: no bound).
    /// </summary>
    /// <returns>The turns taken, for <see cref="ReleaseTurns"/>; none for no views.</returns>
    /// <exception cref="StrataException">A turn still taken once the wait is over (a conflict with a Retry-After, naming its holder); none is held then.</exception>
    private async Task<ViewTurn[]> EnterTurnsAsync(List<string> views, string what, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (views.Count == 0)
        {
            return [];
        }

        var names = views.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var turns = new ViewTurn[names.Length];
        var started = Stopwatch.GetTimestamp();
        var entered = 0;
        try
        {
            for (; entered < names.Length; entered++)
            {
                var left = wait == Timeout.InfiniteTimeSpan ? wait : TimeSpan.FromTicks(Math.Max(0, (wait - Stopwatch.GetElapsedTime(started)).Ticks));
                turns[entered] = _turns.GetOrAdd(names[entered], static _ => new ViewTurn());
                await turns[entered].EnterAsync(names[entered], what, left, wait, WaitingForTurn, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            ReleaseTurns(turns.AsSpan(0, entered));
            throw;
        }

        return turns;
    }

    private static void ReleaseTurns(ReadOnlySpan<ViewTurn> turns)
    {
        for (var i = turns.Length - 1; i >= 0; i--)
        {
            turns[i].Release();
        }
    }

    /// <summary>
    /// The turn of one view of an online store in this process, and what holds it: a push waits a bounded time for it,
    /// then is refused naming the holder (a materialization of the view, usually), as a conflict to retry.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Lives as long as its online store; a SemaphoreSlim whose wait handle is never asked for holds nothing to dispose.")]
    private sealed class ViewTurn
    {
        private readonly SemaphoreSlim _lock = new(1, 1);
        private volatile string? _holder;

        /// <summary>
        /// Takes the turn of <paramref name="view"/> for <paramref name="what"/>, waiting at most <paramref name="wait"/>
        /// (infinite: no bound); a refusal tells the caller's whole bound, <paramref name="bound"/>.
        /// </summary>
        /// <exception cref="StrataException">Still taken once the wait is over (a conflict with a Retry-After; nothing was done).</exception>
        public async Task EnterAsync(string view, string what, TimeSpan wait, TimeSpan bound, Action<string>? waiting, CancellationToken cancellationToken)
        {
            // Free (the common case) costs no timer.
            if (!_lock.Wait(0, CancellationToken.None))
            {
                var holder = _holder;
                var turn = _lock.WaitAsync(wait, cancellationToken); // in the queue before the caller hears it waits
                waiting?.Invoke(view);
                if (!await turn.ConfigureAwait(false))
                {
                    throw StrataException.LockBusy($"feature view '{view}' is held by {_holder ?? holder ?? "another push"} in this server process", bound);
                }
            }

            _holder = what;
        }

        public void Release()
        {
            _holder = null;
            _lock.Release();
        }
    }
}

/// <summary>The audit details of feature data changes, one wording for the server and the CLI.</summary>
public static class FeatureAudit
{
    /// <summary>A push: rows, target and the views written.</summary>
    public static string Push(int rows, PushTarget to, IReadOnlyList<string> views) =>
        $"rows={rows} to={to} views={string.Join(",", views)}";

    /// <summary>A materialization: per view its range and rows.</summary>
    public static string Materialized(IReadOnlyList<MaterializedView> done) =>
        string.Join("; ", done.Select(d => $"{d.View} [{Timestamp.Format(d.StartMicros)}, {Timestamp.Format(d.EndMicros)}) rows={d.Rows}"));

    /// <summary>An ingest of a source's rows into the offline store.</summary>
    public static string Ingested(long rows) => $"rows={rows}";
}
