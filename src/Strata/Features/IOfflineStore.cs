using Strata.Features.PointInTime;

namespace Strata.Features;

/// <summary>
/// The history of a project's feature views, for training sets and materialization. Two backends — Arrow IPC segments
/// partitioned by event time (embedded) and PostgreSQL tables with the point-in-time join pushed into SQL — and one
/// conformance suite holds them to identical results.
/// </summary>
public interface IOfflineStore : IAsyncDisposable
{
    /// <summary>"embedded" or "postgres".</summary>
    string Backend { get; }

    /// <summary>
    /// Appends rows (the layout's schema: keys, event time, created time if any, features) durably: all of them or,
    /// after a crash or a bad table, none. A layout whose schema differs from the stored one is refused.
    /// </summary>
    Task AppendAsync(FeatureViewLayout view, Table rows, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends rows to several views as one write, as a push or an ingest to a source that feeds them needs: every view's
    /// rows and stored layout are checked before anything is written, so a bad table or a changed view writes nothing.
    /// PostgreSQL commits them in one transaction; the embedded store writes each view's manifest in turn, so only a
    /// crash or an I/O failure between two of them can leave the first appended without the rest.
    /// </summary>
    /// <exception cref="ArgumentException">A view appears twice.</exception>
    Task AppendAsync(IReadOnlyList<OfflineAppend> appends, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the rows whose event time is in [<paramref name="startMicros"/>, <paramref name="endMicros"/>), in
    /// batches of at most <paramref name="batchRows"/> rows, so materialization runs in bounded memory. Order within
    /// the range is unspecified. An unknown view yields nothing.
    /// </summary>
    IAsyncEnumerable<Table> ReadAsync(FeatureViewLayout view, long startMicros, long endMicros, int batchRows, CancellationToken cancellationToken = default);

    /// <summary>The smallest and largest stored event times of a view, or null when it has no rows.</summary>
    Task<(long Min, long Max)?> GetEventTimeRangeAsync(FeatureViewLayout view, CancellationToken cancellationToken = default);

    /// <summary>
    /// A short text that changes whenever the view's stored rows change (an append, the view dropped and made again),
    /// read without reading rows, so a cached training set can tell it is stale. It may also change when the rows did not
    /// (a failed append); it never stays the same across a committed append.
    /// </summary>
    Task<string> GetFingerprintAsync(FeatureViewLayout view, CancellationToken cancellationToken = default);

    /// <summary>
    /// The point-in-time join (see <see cref="PointInTimeJoin"/> for the exact rule): for every entity row and view, the
    /// latest row with <c>event_ts ≤ entity_ts</c> within the TTL, ties broken by created time; entity columns carried
    /// through in input order. Views with no stored rows give nulls.
    /// </summary>
    Task<Table> GetHistoricalFeaturesAsync(
        Table entities,
        string entityTimestamp,
        IReadOnlyList<HistoricalFeatureRequest> views,
        PointInTimeJoinOptions? options = null,
        CancellationToken cancellationToken = default);
}

/// <summary>Rows for one view of a many-view append.</summary>
/// <param name="View">The view's layout.</param>
/// <param name="Rows">The rows, in the layout's schema.</param>
public sealed record OfflineAppend(FeatureViewLayout View, Table Rows);

/// <summary>Which features of one stored view a point-in-time join takes.</summary>
/// <param name="View">The view's layout.</param>
/// <param name="Features">The features to take, in output order.</param>
public sealed record HistoricalFeatureRequest(FeatureViewLayout View, IReadOnlyList<string> Features)
{
    /// <summary>The entity table's columns matched to the view's join keys by position; null when the names are the same.</summary>
    public IReadOnlyList<string>? EntityKeys { get; init; }
}
