using Strata.Features;
using Strata.Features.OnlineStore;
using Xunit;

namespace Strata.Testing.Conformance;

/// <summary>A push's online writes of several views: all of them or none, on either backend.</summary>
public abstract partial class FeatureStoreConformance
{
    /// <summary>Two more views over the trips (a plain one) and over a tips source feeding two plain views alone.</summary>
    private static readonly string DefinitionsWithPlainViews = WithTipsSource(DefinitionsV1)
        .Replace("feature_views:\n", """
            feature_views:
              - name: trip_fares
                entities: [driver]
                source: trips
                features:
                  - { name: fare, type: float64 }
              - name: tip_first
                entities: [driver]
                source: tips
                features:
                  - { name: tip, type: float64 }
              - name: tip_second
                entities: [driver]
                source: tips
                features:
                  - { name: tip, type: float64 }

            """, StringComparison.Ordinal);

    [BackendTheory]
    [InlineData("trips", "driver_trips", "trip_fares")] // a plain view, then an aggregation view's windows (a merge)
    [InlineData("tips", "tip_second", "tip_first")] // plain views alone
    public async Task A_push_whose_online_write_fails_at_its_second_view_leaves_no_view_with_rows(string source, string failing, string first)
    {
        // The push wrote each view's online rows on its own (embedded: a log record each; PostgreSQL without a merge: a
        // transaction each), so a failure or a crash between two views left the first with rows the others lack.
        await ApplyAsync(Metadata, DefinitionsWithPlainViews);
        Clock.Advance(TimeSpan.FromSeconds(2));
        var store = await StoreAsync();
        Assert.Equal(2, store.Version);
        var t = T0 + Day;
        var rows = Table.From(("driver_id", Columns.Int64(1, 2)), ("ts", Columns.Timestamp(t, t)), (source == "trips" ? "fare" : "tip", Columns.Float64(1.5, 2.5)));
        var failingStore = new FeatureStore(Project, store.Repository, store.Version, store.Offline, new FailingOnlineStore(store.Online, failing), Metadata.Features, Clock);

        var error = await Assert.ThrowsAsync<StrataException>(() => failingStore.PushAsync(source, rows, PushTarget.Online).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(ErrorCodes.SchemaInvalid, error.Code);
        Assert.Contains($"'{failing}'", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await store.Online.CountAsync(first));
        Assert.Equal(0, await store.Online.CountAsync(failing));

        // The same push through the store itself writes every view.
        await store.PushAsync(source, rows, PushTarget.Online).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, await store.Online.CountAsync(first));
        Assert.Equal(2, await store.Online.CountAsync(failing));
    }

    /// <summary>
    /// The real online store, but the rows written to one view lose a column on the way, so the store refuses that view's
    /// write, as it would fail on an I/O error: whatever the push wrote before it is what a failure leaves behind.
    /// </summary>
    private sealed class FailingOnlineStore(IOnlineStore inner, string failing) : IOnlineStore
    {
        public string Backend => inner.Backend;

        public IReadOnlyCollection<FeatureViewLayout> Views => inner.Views;

        public Task ApplyViewsAsync(IReadOnlyList<FeatureViewLayout> views, CancellationToken cancellationToken = default) => inner.ApplyViewsAsync(views, cancellationToken);

        public Task WriteAsync(string view, Table rows, CancellationToken cancellationToken = default) => inner.WriteAsync(view, Damage(view, rows), cancellationToken);

        public Task WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => inner.WriteAsync(Damage(writes), cancellationToken);

        public ValueTask ReadAsync(string view, IReadOnlyList<string> features, ReadOnlyMemory<EntityKeyPart> keys, long nowMicros, Memory<FeatureValue> results, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(view, features, keys, nowMicros, results, cancellationToken);

        public Task<long> CountAsync(string view, CancellationToken cancellationToken = default) => inner.CountAsync(view, cancellationToken);

        public async Task<IOnlineMerge> BeginMergeAsync(IReadOnlyList<string> views, CancellationToken cancellationToken = default) =>
            new FailingMerge(await inner.BeginMergeAsync(views, cancellationToken), this);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the inner store belongs to the test's feature stores

        private Table Damage(string view, Table rows) => view == failing ? rows.Select(rows.Schema.Names.SkipLast(1)) : rows;

        private OnlineWrite[] Damage(IReadOnlyList<OnlineWrite> writes) => [.. writes.Select(w => w with { Rows = Damage(w.View, w.Rows) })];

        private sealed class FailingMerge(IOnlineMerge inner, FailingOnlineStore store) : IOnlineMerge
        {
            public ValueTask ReadAsync(string view, IReadOnlyList<string> features, ReadOnlyMemory<EntityKeyPart> keys, long nowMicros, Memory<FeatureValue> results, CancellationToken cancellationToken = default) =>
                inner.ReadAsync(view, features, keys, nowMicros, results, cancellationToken);

            public Task WriteAsync(string view, Table rows, CancellationToken cancellationToken = default) => inner.WriteAsync(view, store.Damage(view, rows), cancellationToken);

            public Task WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => inner.WriteAsync(store.Damage(writes), cancellationToken);

            public Task CommitAsync(CancellationToken cancellationToken = default) => inner.CommitAsync(cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
