using Strata.Features.OnlineStore;

namespace Strata.Features;

/// <summary>
/// The latest feature values per entity key of a project's views, for serving. Two backends — an in-memory index with a
/// durable log and snapshots (embedded) and PostgreSQL (shared by server replicas) — and one conformance suite holds
/// them to identical results.
/// </summary>
public interface IOnlineStore : IAsyncDisposable
{
    /// <summary>"embedded" or "postgres".</summary>
    string Backend { get; }

    /// <summary>The views the store serves.</summary>
    IReadOnlyCollection<FeatureViewLayout> Views { get; }

    /// <summary>
    /// Makes the store serve exactly these views: new views start empty, views whose layout changed lose their values,
    /// views no longer listed are dropped, unchanged views keep theirs.
    /// </summary>
    Task ApplyViewsAsync(IReadOnlyList<FeatureViewLayout> views, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes rows (the view's layout) so that per key the row with the newest event time is kept (ties: newer created
    /// time, then the later write). Returns once durable; a bad table is refused before anything is written.
    /// </summary>
    Task WriteAsync(string view, Table rows, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes rows of several views (a push feeding them) as one: durable all together or, on a failure or a crash, not
    /// at all, so no view is left with rows the others lack. Each as <see cref="WriteAsync(string, Table, CancellationToken)"/>;
    /// a bad table among them is refused before anything is written.
    /// </summary>
    Task WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads features of many entities: <paramref name="keys"/> holds the key parts of entity after entity (one per join
    /// key, in key order), and the values of entity i land at [i × features, (i + 1) × features) of
    /// <paramref name="results"/>, each with a status, the row's event time and the value.
    /// </summary>
    /// The TTL is checked against <c>nowMicros</c> (UTC microseconds).
    /// <exception cref="StrataException">Unknown view or feature (not found), or a key part of the wrong type.</exception>
    ValueTask ReadAsync(string view, IReadOnlyList<string> features, ReadOnlyMemory<EntityKeyPart> keys, long nowMicros, Memory<FeatureValue> results, CancellationToken cancellationToken = default);

    /// <summary>Number of entities with a row in a view.</summary>
    Task<long> CountAsync(string view, CancellationToken cancellationToken = default);

    /// <summary>
    /// Begins a read-merge-write of rows of <paramref name="views"/> (an aggregation view's windows): until it is committed
    /// or disposed, no other merge over any of those views, in any process sharing the store, begins, so a row read
    /// through it and written back through it loses no write of another merge. PostgreSQL locks the views for the merge's
    /// transaction, one lock per view, waiting a bounded time for each; the embedded store has one process, whose callers
    /// serialize merges themselves.
    /// </summary>
    /// <exception cref="StrataException">
    /// An unknown view (not found); a view another process's merge still holds once the wait is over (a conflict with a
    /// <see cref="StrataException.RetryAfterSeconds"/>: nothing was begun).
    /// </exception>
    Task<IOnlineMerge> BeginMergeAsync(IReadOnlyList<string> views, CancellationToken cancellationToken = default);
}

/// <summary>
/// A read-merge-write begun by <see cref="IOnlineStore.BeginMergeAsync"/>: reads and writes as the store's own, with the
/// views locked against other merges until <see cref="CommitAsync"/> or disposal. On PostgreSQL its writes are one
/// transaction, which disposal without a commit rolls back; the embedded store's writes are durable as each returns.
/// </summary>
public interface IOnlineMerge : IAsyncDisposable
{
    /// <summary>As <see cref="IOnlineStore.ReadAsync"/>.</summary>
    ValueTask ReadAsync(string view, IReadOnlyList<string> features, ReadOnlyMemory<EntityKeyPart> keys, long nowMicros, Memory<FeatureValue> results, CancellationToken cancellationToken = default);

    /// <summary>As <see cref="IOnlineStore.WriteAsync(string, Table, CancellationToken)"/>; on PostgreSQL durable once committed.</summary>
    Task WriteAsync(string view, Table rows, CancellationToken cancellationToken = default);

    /// <summary>As <see cref="IOnlineStore.WriteAsync(IReadOnlyList{OnlineWrite}, CancellationToken)"/>: all of them or none; on PostgreSQL durable once committed.</summary>
    Task WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default);

    /// <summary>Makes the writes durable and lets the next merge over these views begin.</summary>
    Task CommitAsync(CancellationToken cancellationToken = default);
}

/// <summary>Rows of one view in a write of several (<see cref="IOnlineStore.WriteAsync(IReadOnlyList{OnlineWrite}, CancellationToken)"/>).</summary>
/// <param name="View">The view.</param>
/// <param name="Rows">Rows in the view's layout.</param>
public sealed record OnlineWrite(string View, Table Rows);
