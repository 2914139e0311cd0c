using System.Runtime.CompilerServices;
using Strata.Features;
using Strata.Features.PointInTime;
using Xunit;

namespace Strata.Testing.Conformance;

/// <summary>A push's turn at the online store: bounded behind a materialization in the same process.</summary>
public abstract partial class FeatureStoreConformance
{
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
        Assert.StartsWith("the project's online store is held by a materialization of feature view 'driver_trips' in this server process", refused.Message, StringComparison.Ordinal);
        Assert.EndsWith("nothing was written; retry shortly", refused.Message, StringComparison.Ordinal);
        await materializing.WaitAsync(Bound);
        Assert.Equal((t, t), await store.Offline.GetEventTimeRangeAsync(layout));
        Assert.Equal(new object?[] { 1L, 1.0 }, (await ReadWindowsAsync(store, 1)).Take(2).Select(v => v.Value));

        // Once the materialization is over, the same push goes through, whole.
        await store.PushAsync("trips", Fares((1, t + Minute, 2.0)), PushTarget.OnlineAndOffline).WaitAsync(Bound);
        Assert.Equal((t, t + Minute), await store.Offline.GetEventTimeRangeAsync(layout));
        Assert.Equal(new object?[] { 2L, 3.0 }, (await ReadWindowsAsync(store, 1)).Take(2).Select(v => v.Value));
    }

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
