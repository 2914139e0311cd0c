using System.Runtime.CompilerServices;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Features.OnlineStore;
using Strata.Features.PointInTime;
using Xunit;

namespace Strata.Testing.Conformance;

/// <summary>
/// A push's turns at the views it merges: bounded behind a materialization of one of them in the same process, and
/// taken only for those views, so work on other views never holds it.
/// </summary>
public abstract partial class FeatureStoreConformance
{
    /// <summary>
    /// Beside the first definitions: a second aggregation view over the trips, an aggregation view over the daily stats
    /// file, and a tips source feeding a plain view alone.
    /// </summary>
    private static readonly string DefinitionsWithTurns = WithTipsSource(DefinitionsV1)
        .Replace("feature_views:\n", """
            feature_views:
              - name: tip_last
                entities: [driver]
                source: tips
                features:
                  - { name: tip, type: float64 }

            """, StringComparison.Ordinal)
        .Replace("aggregation_views:\n", """
            aggregation_views:
              - name: trip_peaks
                entities: [driver]
                source: trips
                aggregations:
                  - { name: fare_max_1h, function: max, column: fare, window: 1h }
              - name: rating_trend
                entities: [driver]
                source: driver_stats
                aggregations:
                  - { name: rating_mean_1d, function: mean, column: rating, window: 1d }

            """, StringComparison.Ordinal);

    private static readonly FeatureReference TripPeak = new("trip_peaks", "fare_max_1h");

    /// <summary>Long enough for anything these tests wait for; a wait that used to hang fails here instead.</summary>
    private static TimeSpan Bound => TimeSpan.FromSeconds(10);

    [BackendFact]
    public async Task A_push_behind_a_materialization_in_this_process_is_refused_in_time_naming_it_and_writes_nothing()
    {
        // A push waited for the push lock without a bound: behind a materialization of minutes in the same process it
        // queued until its client gave up, and nothing told it why.
        var store = await StoreAsync();
        var layout = store.Repository.OfflineLayout("driver_trips");
        var t = T0 + Day;
        SetNow(t + (2 * Minute));
        await store.PushAsync("trips", Fares((1, t, 1.0)), PushTarget.OnlineAndOffline);

        // A materialization of the view, held while it reads the history (its offline store waits at a gate).
        var gate = new GatedOfflineStore(store.Offline);
        var materializer = new FeatureStore(Project, store.Repository, store.Version, gate, store.Online, Metadata.Features, Clock);
        var materializing = materializer.MaterializeAsync(t - Hour, t + Hour, ["driver_trips"]);
        await gate.Entered.WaitAsync(Bound);
        store.PushLockWait = TimeSpan.FromMilliseconds(200);
        StrataException refused;
        try
        {
            refused = await Assert.ThrowsAsync<StrataException>(() => store.PushAsync("trips", Fares((1, t + Minute, 2.0)), PushTarget.OnlineAndOffline).WaitAsync(Bound));
        }
        finally
        {
            gate.Open();
        }

        Assert.Equal(ErrorCodes.Conflict, refused.Code);
        Assert.Equal(5, refused.RetryAfterSeconds);
        Assert.StartsWith("feature view 'driver_trips' is held by a materialization of it in this server process", refused.Message, StringComparison.Ordinal);
        Assert.EndsWith("nothing was written; retry shortly", refused.Message, StringComparison.Ordinal);
        await materializing.WaitAsync(Bound);
        Assert.Equal((t, t), await store.Offline.GetEventTimeRangeAsync(layout));
        Assert.Equal(new object?[] { 1L, 1.0 }, (await ReadWindowsAsync(store, 1)).Take(2).Select(v => v.Value));

        // Once the materialization is over, the same push goes through, whole.
        await store.PushAsync("trips", Fares((1, t + Minute, 2.0)), PushTarget.OnlineAndOffline).WaitAsync(Bound);
        Assert.Equal((t, t + Minute), await store.Offline.GetEventTimeRangeAsync(layout));
        Assert.Equal(new object?[] { 2L, 3.0 }, (await ReadWindowsAsync(store, 1)).Take(2).Select(v => v.Value));
    }

    [BackendFact]
    public async Task A_push_into_plain_views_alone_is_not_held_behind_a_materialization_of_an_aggregation_view()
    {
        // Every push took its project's one push lock, so a push feeding plain views alone, which merges no window, was
        // refused behind a materialization of any aggregation view.
        var store = await TurnsStoreAsync();
        var t = T0 + Day;
        SetNow(t + Minute);
        var (materializing, gate) = MaterializeHeld(store, "driver_trips");
        await gate.Entered.WaitAsync(Bound);
        try
        {
            await PushNotHeldAsync(store, "tips", Tips((1, t, 2.5)));
            Assert.False(materializing.IsCompleted);
        }
        finally
        {
            gate.Open();
        }

        await materializing.WaitAsync(Bound);
        var online = await store.GetOnlineFeaturesAsync([new FeatureReference("tip_last", "tip")], Table.From(("driver_id", Columns.Int64(1))));
        Assert.Equal(2.5, online.Values[0][0].Value);
        Assert.Equal((t, t), await store.Offline.GetEventTimeRangeAsync(store.Repository.OfflineLayout("tip_last")));
    }

    [BackendFact]
    public async Task A_push_into_aggregation_views_is_not_held_behind_a_materialization_of_another_aggregation_view()
    {
        var store = await TurnsStoreAsync();
        var t = T0 + Day;
        SetNow(t + Minute);
        var (materializing, gate) = MaterializeHeld(store, "rating_trend");
        await gate.Entered.WaitAsync(Bound);
        try
        {
            // The trips feed driver_trips and trip_peaks: both merged while rating_trend is being rebuilt.
            await PushNotHeldAsync(store, "trips", Fares((1, t, 4.0)));
            Assert.False(materializing.IsCompleted);
        }
        finally
        {
            gate.Open();
        }

        await materializing.WaitAsync(Bound);
        Assert.Equal(1L, (await ReadWindowsAsync(store, 1))[0].Value);
        Assert.Equal(4.0, (await ReadTripPeaksAsync(store, 1))[0].Value);
    }

    [BackendFact]
    public async Task A_push_held_at_its_second_view_is_refused_naming_its_materialization_and_holds_the_first_no_longer()
    {
        var store = await TurnsStoreAsync();
        var t = T0 + Day;
        SetNow(t + Minute);

        // The trips feed driver_trips and trip_peaks, whose turns a push takes in that (name) order: the second is held.
        var (materializing, gate) = MaterializeHeld(store, "trip_peaks");
        await gate.Entered.WaitAsync(Bound);
        store.PushLockWait = TimeSpan.FromMilliseconds(200);
        StrataException refused;
        try
        {
            refused = await Assert.ThrowsAsync<StrataException>(() => store.PushAsync("trips", Fares((1, t, 3.0)), PushTarget.OnlineAndOffline).WaitAsync(Bound));

            // The refused push let go of driver_trips: a materialization of it takes its turn while trip_peaks is still held.
            await store.MaterializeAsync(t - Hour, t + Hour, ["driver_trips"]).WaitAsync(Bound);
            Assert.False(materializing.IsCompleted);
        }
        finally
        {
            gate.Open();
        }

        Assert.Equal(ErrorCodes.Conflict, refused.Code);
        Assert.Equal(5, refused.RetryAfterSeconds);
        Assert.StartsWith("feature view 'trip_peaks' is held by a materialization of it in this server process", refused.Message, StringComparison.Ordinal);
        Assert.EndsWith("nothing was written; retry shortly", refused.Message, StringComparison.Ordinal);
        await materializing.WaitAsync(Bound);
        Assert.Null(await store.Offline.GetEventTimeRangeAsync(store.Repository.OfflineLayout("driver_trips")));
        Assert.Equal(0, await store.Online.CountAsync("driver_trips"));
        Assert.Equal(0, await store.Online.CountAsync("trip_peaks"));

        // Once the materialization is over, the same push goes through, whole.
        await store.PushAsync("trips", Fares((1, t, 3.0)), PushTarget.OnlineAndOffline).WaitAsync(Bound);
        Assert.Equal(1L, (await ReadWindowsAsync(store, 1))[0].Value);
        Assert.Equal(3.0, (await ReadTripPeaksAsync(store, 1))[0].Value);
    }

    [BackendFact]
    public async Task Pushes_through_definitions_listing_their_views_in_either_order_take_turns_without_a_deadlock()
    {
        // Two feature stores over one online store (definitions versions, say) whose definitions list the trips' two
        // aggregation views in opposite orders: taking turns in their own order, each push could hold the view the other
        // waits for.
        var store = await TurnsStoreAsync();
        var reversed = new FeatureStore(
            Project, store.Repository with { AggregationViews = [.. store.Repository.AggregationViews.Reverse()] }, store.Version, store.Offline, store.Online, Metadata.Features, Clock);
        Assert.Equal(new[] { "driver_trips", "trip_peaks" }, store.Repository.AggregationViews.Where(v => v.Source == "trips").Select(v => v.Name));
        Assert.Equal(new[] { "trip_peaks", "driver_trips" }, reversed.Repository.AggregationViews.Where(v => v.Source == "trips").Select(v => v.Name));
        var t = T0 + Day;
        SetNow(t + Minute);

        // Both pushes queue behind a materialization of driver_trips, the first view in name order, one after the other.
        var (materializing, gate) = MaterializeHeld(store, "driver_trips");
        await gate.Entered.WaitAsync(Bound);
        Task first, second;
        try
        {
            var firstWaits = WaitingAt(store);
            first = store.PushAsync("trips", Fares((1, t, 2.0)), PushTarget.Online);
            Assert.Equal("driver_trips", await firstWaits.WaitAsync(Bound));
            var secondWaits = WaitingAt(reversed);
            second = reversed.PushAsync("trips", Fares((1, t + Second, 5.0)), PushTarget.Online);
            Assert.Equal("driver_trips", await secondWaits.WaitAsync(Bound));

            // The second's definitions list trip_peaks first, yet it waits holding nothing: trip_peaks is free.
            await store.MaterializeAsync(t - Hour, t + Hour, ["trip_peaks"]).WaitAsync(Bound);
        }
        finally
        {
            gate.Open();
        }

        await materializing.WaitAsync(Bound);
        await Task.WhenAll(first, second).WaitAsync(Bound);
        Assert.Equal(new object?[] { 2L, 7.0 }, (await ReadWindowsAsync(store, 1)).Take(2).Select(v => v.Value));
        Assert.Equal(5.0, (await ReadTripPeaksAsync(store, 1))[0].Value);
    }

    [BackendFact]
    public async Task Concurrent_pushes_into_plain_views_alone_lose_no_newer_row()
    {
        // They take no turn, so their writes of the same keys interleave: each key keeps the row with the newest event.
        var store = await TurnsStoreAsync();
        var t = T0 + Day;
        SetNow(t + Minute);
        var random = new Random(7);
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
        {
            var ids = Enumerable.Range(1, 40).Select(id => (long)id).OrderBy(_ => random.Next()).ToArray();
            return Task.Run(() => store.PushAsync("tips", Tips([.. ids.Select(id => (id, t + (i * Second), (double)i))]), PushTarget.Online));
        })).WaitAsync(Bound * 3);

        var online = await store.GetOnlineFeaturesAsync([new FeatureReference("tip_last", "tip")], Table.From(("driver_id", Columns.Int64([.. Enumerable.Range(1, 40).Select(id => (long?)id)]))));
        Assert.All(online.Values[0], v => Assert.Equal(15.0, v.Value));
    }

    /// <summary>The store over <see cref="DefinitionsWithTurns"/>, applied as version 2.</summary>
    private async Task<FeatureStore> TurnsStoreAsync()
    {
        await ApplyAsync(Metadata, DefinitionsWithTurns);
        Clock.Advance(TimeSpan.FromSeconds(2));
        var store = await StoreAsync();
        Assert.Equal(2, store.Version);
        return store;
    }

    /// <summary>A materialization of a view through another feature store over the same stores, held at a gate while it reads the history (in its turn).</summary>
    private (Task Materializing, GatedOfflineStore Gate) MaterializeHeld(FeatureStore store, string view)
    {
        var t = T0 + Day;
        var gate = new GatedOfflineStore(store.Offline);
        var materializer = new FeatureStore(Project, store.Repository, store.Version, gate, store.Online, Metadata.Features, Clock);
        return (materializer.MaterializeAsync(t - Hour, t + Hour, [view]), gate);
    }

    /// <summary>Pushes online and offline, and fails at once should the push wait for any view's turn.</summary>
    private static async Task PushNotHeldAsync(FeatureStore store, string source, Table rows)
    {
        var waits = WaitingAt(store);
        var push = store.PushAsync(source, rows, PushTarget.OnlineAndOffline);
        var first = await Task.WhenAny(push, waits).WaitAsync(Bound);
        Assert.True(first == push, $"the push to '{source}' waited for the turn of feature view '{(waits.IsCompleted ? waits.Result : null)}'");
        await push;
    }

    /// <summary>The view whose turn the store's next push or materialization finds taken.</summary>
    private static Task<string> WaitingAt(FeatureStore store)
    {
        var waiting = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        store.WaitingForTurn = view => waiting.TrySetResult(view);
        return waiting.Task;
    }

    private static Table Tips(params (long Id, long Ts, double Tip)[] rows) => Table.From(
        ("driver_id", Columns.Int64([.. rows.Select(r => (long?)r.Id)])),
        ("ts", Columns.Timestamp([.. rows.Select(r => (long?)r.Ts)])),
        ("tip", Columns.Float64([.. rows.Select(r => (double?)r.Tip)])));

    private static async Task<FeatureValue[]> ReadTripPeaksAsync(FeatureStore store, long id) =>
        (await store.GetOnlineFeaturesAsync([TripPeak], Table.From(("driver_id", Columns.Int64(id))))).Values[0];

    /// <summary>An offline store whose reads wait at a gate (a long materialization, held inside its turn).</summary>
    private sealed class GatedOfflineStore(IOfflineStore inner) : IOfflineStore
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes once a read waits at the gate.</summary>
        public Task Entered => _entered.Task;

        public string Backend => inner.Backend;

        public void Open() => _open.TrySetResult();

        public async IAsyncEnumerable<Table> ReadAsync(FeatureViewLayout view, long startMicros, long endMicros, int batchRows, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            _entered.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
            await foreach (var batch in inner.ReadAsync(view, startMicros, endMicros, batchRows, cancellationToken))
            {
                yield return batch;
            }
        }

        public Task AppendAsync(FeatureViewLayout view, Table rows, CancellationToken cancellationToken = default) => inner.AppendAsync(view, rows, cancellationToken);

        public Task AppendAsync(IReadOnlyList<OfflineAppend> appends, CancellationToken cancellationToken = default) => inner.AppendAsync(appends, cancellationToken);

        public Task<(long Min, long Max)?> GetEventTimeRangeAsync(FeatureViewLayout view, CancellationToken cancellationToken = default) => inner.GetEventTimeRangeAsync(view, cancellationToken);

        public Task<string> GetFingerprintAsync(FeatureViewLayout view, CancellationToken cancellationToken = default) => inner.GetFingerprintAsync(view, cancellationToken);

        public Task<Table> GetHistoricalFeaturesAsync(
            Table entities, string entityTimestamp, IReadOnlyList<HistoricalFeatureRequest> views, PointInTimeJoinOptions? options = null, CancellationToken cancellationToken = default) =>
            inner.GetHistoricalFeaturesAsync(entities, entityTimestamp, views, options, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the inner store belongs to the test's feature stores
    }
}
