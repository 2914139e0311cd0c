using System.Collections.Concurrent;

namespace Strata.Features.OnlineStore;

public sealed partial class EmbeddedOnlineStore
{
    /// <summary>
    /// Makes the store serve exactly <paramref name="views"/>. Views whose schema is unchanged keep their rows (a new TTL
    /// applies at once); new views start empty; changed and dropped views lose theirs. When any view is changed or
    /// dropped, a snapshot of the new view set is written before the change is published, so the log records of old
    /// layouts lie before the snapshot and are never replayed: a restart with the new views sees exactly the new state,
    /// and a crash before the snapshot's rename leaves the old state (the change was not acknowledged).
    /// </summary>
    /// <remarks>Writes wait for the change; reads do not, and see the old or the new view set.</remarks>
    public async Task ApplyViewsAsync(IReadOnlyList<FeatureViewLayout> views, CancellationToken cancellationToken = default)
    {
        FeatureViewLayout.CheckDistinct(views);

        // The snapshot lock first, as SnapshotAsync takes them, so an apply never interleaves with a snapshot's deletions.
        await _snapshotLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                var current = _served.Indexes;
                var next = new Dictionary<string, ViewIndex>(StringComparer.Ordinal);
                var retitled = new List<(ViewIndex Index, FeatureViewLayout View)>();
                var lostRows = current.Keys.Any(name => !views.Any(v => v.Name == name));
                foreach (var view in views)
                {
                    if (current.TryGetValue(view.Name, out var index) && SameSchema(index.View, view))
                    {
                        next.Add(view.Name, index);
                        retitled.Add((index, view));
                    }
                    else
                    {
                        next.Add(view.Name, new ViewIndex(view));
                        lostRows |= index is not null;
                    }
                }

                var served = new ServedViews(next);
                if (lostRows)
                {
                    var (sequence, captured) = CaptureAndRotate(served);
                    await WriteSnapshotFileAsync(sequence, captured, cancellationToken).ConfigureAwait(false);
                }

                foreach (var (index, view) in retitled)
                {
                    index.View = view;
                }

                _served = served;
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            _snapshotLock.Release();
        }
    }

    private static bool SameSchema(FeatureViewLayout a, FeatureViewLayout b) =>
        a.Fingerprint == b.Fingerprint && string.Equals(a.Schema.ToString(), b.Schema.ToString(), StringComparison.Ordinal);

    /// <summary>
    /// One published set of views with its cache of readers, replaced as a whole by <see cref="ApplyViewsAsync"/> so a
    /// cached reader never outlives the index it reads.
    /// </summary>
    private sealed class ServedViews
    {
        // Bounds the cache against callers that ask for ever new feature lists; past it, readers are built per call.
        private const int MaxCachedReaders = 1024;

        private readonly ConcurrentDictionary<ReaderKey, OnlineFeatureReader> _readers = new(ReaderKeyComparer.Instance);

        public ServedViews(Dictionary<string, ViewIndex> indexes)
        {
            Indexes = indexes;
            Layouts = indexes.Values.Select(i => i.View).ToArray();
        }

        /// <summary>Never mutated once published.</summary>
        public IReadOnlyDictionary<string, ViewIndex> Indexes { get; }

        public IReadOnlyCollection<FeatureViewLayout> Layouts { get; }

        public ViewIndex Index(string view)
        {
            ArgumentNullException.ThrowIfNull(view);
            return Indexes.TryGetValue(view, out var index)
                ? index
                : throw new StrataException(ErrorCodes.NotFound, $"no feature view '{view}' in the online store (views: {string.Join(", ", Indexes.Keys)})");
        }

        public OnlineFeatureReader Reader(string view, IReadOnlyList<string> features)
        {
            ArgumentNullException.ThrowIfNull(view);
            ArgumentNullException.ThrowIfNull(features);
            if (_readers.TryGetValue(new ReaderKey(view, features), out var reader))
            {
                return reader;
            }

            var index = Index(view);
            var positions = new int[features.Count];
            for (var i = 0; i < positions.Length; i++)
            {
                positions[i] = index.View.FeatureIndex(features[i]);
            }

            reader = new OnlineFeatureReader(index, positions);
            if (_readers.Count < MaxCachedReaders)
            {
                _readers.TryAdd(new ReaderKey(view, features.ToArray()), reader); // a copy: the caller may reuse its list
            }

            return reader;
        }
    }

    private readonly record struct ReaderKey(string View, IReadOnlyList<string> Features);

    /// <summary>Compares feature lists by content, without allocating, so a lookup costs a hash of the names.</summary>
    private sealed class ReaderKeyComparer : IEqualityComparer<ReaderKey>
    {
        public static readonly ReaderKeyComparer Instance = new();

        public bool Equals(ReaderKey x, ReaderKey y)
        {
            if (!string.Equals(x.View, y.View, StringComparison.Ordinal) || x.Features.Count != y.Features.Count)
            {
                return false;
            }

            for (var i = 0; i < x.Features.Count; i++)
            {
                if (!string.Equals(x.Features[i], y.Features[i], StringComparison.Ordinal))
                {
                    return false;
                }
            }

            return true;
        }

        public int GetHashCode(ReaderKey obj)
        {
            var hash = default(HashCode);
            hash.Add(obj.View, StringComparer.Ordinal);
            for (var i = 0; i < obj.Features.Count; i++)
            {
                hash.Add(obj.Features[i], StringComparer.Ordinal);
            }

            return hash.ToHashCode();
        }
    }
}
