using System.Collections.Concurrent;
using System.Globalization;

namespace Strata.Features.OnlineStore;

/// <summary>
/// The embedded online feature store: the latest row per entity key per view in memory for microsecond reads, made
/// durable by an append-only checksummed log (fsynced before a write is acknowledged) and periodic snapshots.
/// </summary>
/// <remarks>
/// Files under the folder: <c>log-{first sequence}.wal</c> segments and <c>snapshot-{sequence}.snap</c>. Concurrency:
/// a write is validated without any lock, then queued; the holder of the write lock appends every queued batch and
/// fsyncs once (group commit), and only then applies them to the index, so readers never see an unacknowledged write. Readers take no lock (see <see cref="ViewIndex"/>): each key
/// maps to an immutable row that a write replaces as a whole (copy-on-write per key), so a read sees either the old or
/// the new row, never features from two writes. A snapshot copies the entry references under the lock, rotates the log,
/// and writes the file after releasing it: reads never wait for a snapshot, and writes wait only for the copy.
/// The served views are one immutable <see cref="ServedViews"/> swapped by <see cref="ApplyViewsAsync"/>, so a read sees
/// either the old or the new view set.
/// </remarks>
public sealed partial class EmbeddedOnlineStore : IOnlineStore, IDisposable
{
    private const string LogPrefix = "log-";
    private const string LogSuffix = ".wal";
    private const string SnapshotPrefix = "snapshot-";
    private const string SnapshotSuffix = ".snap";
    private const string LockFile = "LOCK";

    private readonly string _folder;
    private volatile ServedViews _served;
    private readonly OnlineStoreOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SemaphoreSlim _snapshotLock = new(1, 1);
    private readonly PayloadWriter _writer = new();
    private readonly ConcurrentQueue<PendingWrite> _queue = new();
    private FileStream _log;
    private FileStream? _processLock;
    private long _lastSequence;
    private long _logLength;
    private bool _disposed;

    private EmbeddedOnlineStore(string folder, Dictionary<string, ViewIndex> views, OnlineStoreOptions options, FileStream log, long lastSequence)
    {
        _folder = folder;
        _served = new ServedViews(views);
        _options = options;
        _log = log;
        _lastSequence = lastSequence;
        _logLength = log.Length;
    }

    /// <inheritdoc />
    public string Backend => "embedded";

    /// <summary>The registered views.</summary>
    public IReadOnlyCollection<FeatureViewLayout> Views => _served.Layouts;

    /// <summary>The sequence number of the last acknowledged write.</summary>
    public long LastSequence => Volatile.Read(ref _lastSequence);

    /// <summary>
    /// Opens (or creates) a store in a folder: loads the latest snapshot, replays the log after it, drops a record torn by
    /// a crash at the end of the log, and refuses damage anywhere else with a <see cref="StrataException"/>.
    /// </summary>
    public static EmbeddedOnlineStore Open(string folder, IEnumerable<FeatureViewLayout> views, OnlineStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(views);
        var indexes = new Dictionary<string, ViewIndex>(StringComparer.Ordinal);
        foreach (var view in views)
        {
            if (!indexes.TryAdd(view.Name, new ViewIndex(view)))
            {
                throw new StrataException(ErrorCodes.Conflict, $"feature view '{view.Name}' is registered twice");
            }
        }

        var full = Path.GetFullPath(folder);
        Directory.CreateDirectory(full);

        // One process owns a store: its index lives in that process's memory, so a second writer (a CLI command while
        // `strata serve` runs on the same home) would lose writes or replay half of them.
        var processLock = Artifacts.FileLock.TryAcquire(Path.Combine(full, LockFile))
            ?? throw new StrataException(ErrorCodes.Conflict, $"the online store in {full} is open in another process (a running `strata serve` on this home?); stop it or send the request to that server");
        try
        {
            Artifacts.DurableFile.DeleteTemporaries(full, SnapshotPrefix); // snapshots a crash interrupted before their rename

            var snapshotSequence = LoadLatestSnapshot(full, indexes);
            var lastSequence = snapshotSequence;
            var segments = List(full, LogPrefix, LogSuffix);
            for (var s = 0; s < segments.Count; s++)
            {
                var (path, _) = segments[s];
                var last = s == segments.Count - 1;
                var bytes = File.ReadAllBytes(path);
                var records = LogRecords.Read(bytes, path, allowTornTail: last, out var validLength);
                foreach (var payload in records)
                {
                    var reader = new PayloadReader(payload.Span, path);
                    var kind = (RecordKind)reader.ReadByte();
                    if (kind is not (RecordKind.Batch or RecordKind.Group))
                    {
                        throw LogRecords.Corrupt(path, 0, $"unexpected record kind {(byte)kind} in a log");
                    }

                    var sequence = reader.ReadInt64();
                    if (sequence <= snapshotSequence)
                    {
                        continue; // already in the snapshot
                    }

                    var viewCount = kind == RecordKind.Group ? reader.ReadInt32() : 1;
                    for (var v = 0; v < viewCount; v++)
                    {
                        RowCodec.ReadRows(ref reader, RecordKind.Batch, path, indexes, sequence, static (index, key, row) => index.Apply(key, row));
                    }

                    lastSequence = Math.Max(lastSequence, sequence);
                }

                if (last && validLength < bytes.Length)
                {
                    // Drop the torn tail on disk too, so the next append does not land after garbage.
                    using var truncate = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None);
                    truncate.SetLength(validLength);
                    truncate.Flush(flushToDisk: true);
                }
            }

            var active = segments.Count > 0 ? segments[^1].Path : Path.Combine(full, SegmentName(lastSequence + 1));
            var log = OpenLog(active);
            Artifacts.DurableFile.FsyncDirectory(full);
            return new EmbeddedOnlineStore(full, indexes, options ?? new OnlineStoreOptions(), log, lastSequence) { _processLock = processLock };
        }
        catch
        {
            processLock.Dispose();
            throw;
        }
    }

    /// <summary>A reader of some features of one view, resolved once so each read is a lookup and a copy.</summary>
    public OnlineFeatureReader CreateReader(string view, IEnumerable<string> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var index = Index(view);
        return new OnlineFeatureReader(index, features.Select(index.View.FeatureIndex).ToArray());
    }

    /// <summary>A reader of every feature of one view.</summary>
    public OnlineFeatureReader CreateReader(string view) => CreateReader(view, Index(view).View.Features.Select(f => f.Name));

    /// <summary>Number of entities that have a row in a view.</summary>
    public int EntityCount(string view) => Index(view).Count;

    /// <inheritdoc />
    public Task<long> CountAsync(string view, CancellationToken cancellationToken = default) => Task.FromResult((long)Index(view).Count);

    /// <inheritdoc />
    /// <remarks>
    /// Takes no lock: one process owns the store (the LOCK file), and its feature stores serialize the merges of each view
    /// in that view's turn. Reads and writes go straight to the store.
    /// </remarks>
    public Task<IOnlineMerge> BeginMergeAsync(IReadOnlyList<string> views, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(views);
        foreach (var view in views)
        {
            _ = Index(view);
        }

        return Task.FromResult<IOnlineMerge>(new DirectMerge(this));
    }

    /// <inheritdoc />
    public ValueTask ReadAsync(
        string view, IReadOnlyList<string> features, ReadOnlyMemory<EntityKeyPart> keys, long nowMicros, Memory<FeatureValue> results, CancellationToken cancellationToken = default)
    {
        var reader = _served.Reader(view, features);
        OnlineKeys.Check(reader.View, keys.Span);
        if (!reader.TryReadBatch(keys.Span, nowMicros, results.Span))
        {
            throw OnlineKeys.ShortResults(reader.View, reader.FeatureCount, keys.Length, results.Length);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Writes rows to a view: for each key the row with the newest event time is kept (ties: newer created time, then
    /// the later write). Returns once the batch is fsynced to the log (concurrent writes share one fsync); a bad table is
    /// refused before anything is written.
    /// </summary>
    public async Task WriteAsync(string view, Table rows, CancellationToken cancellationToken = default)
    {
        var index = Index(view);
        var batch = WriteBatch.From(index.View, rows);
        if (batch.Count > 0)
        {
            await CommitAsync([new Part(index, batch)], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes rows of several views as one log record (one sequence): a crash or a failure leaves all of them or none,
    /// as a single view's write. Every table is checked before anything is written.
    /// </summary>
    public async Task WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        var parts = new List<Part>(writes.Count);
        foreach (var write in writes)
        {
            var index = Index(write.View);
            var batch = WriteBatch.From(index.View, write.Rows);
            if (batch.Count > 0)
            {
                parts.Add(new Part(index, batch));
            }
        }

        if (parts.Count > 0)
        {
            await CommitAsync([.. parts], cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task CommitAsync(Part[] parts, CancellationToken cancellationToken)
    {
        // Group commit: the batch joins a queue; whoever holds the lock next appends every queued batch and fsyncs once,
        // so concurrent writers share an fsync. Sequences follow queue order, which is what "the later write" means.
        // Once queued, the batch is committed whether or not its caller still waits, so cancellation stops only before that.
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new PendingWrite(parts);
        _queue.Enqueue(pending);
        await _writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (!pending.Done.Task.IsCompleted)
            {
                CommitQueued();
            }
        }
        finally
        {
            _writeLock.Release();
        }

        await pending.Done.Task.ConfigureAwait(false);
        if (_options.SnapshotAfterLogBytes > 0 && Volatile.Read(ref _logLength) >= _options.SnapshotAfterLogBytes && _snapshotLock.CurrentCount > 0)
        {
            await SnapshotAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Appends and fsyncs every queued batch, then applies them and completes their writers. Callers hold the write lock.</summary>
    private void CommitQueued()
    {
        var group = new List<PendingWrite>();
        while (_queue.TryDequeue(out var next))
        {
            group.Add(next);
        }

        if (_disposed)
        {
            var error = new ObjectDisposedException(GetType().FullName);
            group.ForEach(p => p.Done.TrySetException(error));
            return;
        }

        // A write validated against a view that ApplyViewsAsync has since replaced or dropped must not land in the log
        // with the old layout's fingerprint (replay would refuse it) nor be acknowledged into an index nobody reads.
        // A write of several views is refused whole when one of them is.
        var served = _served.Indexes;
        group.RemoveAll(p =>
        {
            var stale = p.Parts.FirstOrDefault(part => !served.TryGetValue(part.Index.View.Name, out var current) || !ReferenceEquals(current, part.Index));
            if (stale.Index is null)
            {
                return false;
            }

            p.Done.TrySetException(new StrataException(ErrorCodes.Conflict, $"feature view '{stale.Index.View.Name}' was changed or dropped while the write waited; nothing was written"));
            return true;
        });

        var start = _log.Position;
        var sequence = _lastSequence;
        try
        {
            foreach (var p in group)
            {
                p.Sequence = ++sequence;
                _writer.Reset();
                if (p.Parts.Length == 1)
                {
                    var (index, batch) = p.Parts[0];
                    RowCodec.WriteRowsHeader(_writer, RecordKind.Batch, p.Sequence, index.View, batch.Count);
                    WriteRows(index, batch, p.Sequence);
                }
                else
                {
                    // Several views in one record: its checksum makes them land, or be dropped as a torn tail, together.
                    RowCodec.WriteGroupHeader(_writer, p.Sequence, p.Parts.Length);
                    foreach (var (index, batch) in p.Parts)
                    {
                        RowCodec.WriteViewHeader(_writer, index.View, batch.Count);
                        WriteRows(index, batch, p.Sequence);
                    }
                }

                _writer.Seal();
                _log.Write(_writer.Record); // one write(2) per record: a kill leaves whole records and at most a torn tail
            }

            _log.Flush(flushToDisk: true);
        }
        catch (Exception e)
        {
            // Take back a partial append so later records do not follow garbage; none of the group is acknowledged.
            try
            {
                _log.SetLength(start);
                _log.Position = start;
            }
            catch (IOException)
            {
                // The next open drops or refuses what is left, as after a crash.
            }

            group.ForEach(p => p.Done.TrySetException(e));
            return;
        }

        foreach (var p in group)
        {
            foreach (var (index, batch) in p.Parts)
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    index.Apply(batch.Keys[i], batch.Row(i, p.Sequence));
                }
            }
        }

        Volatile.Write(ref _lastSequence, sequence);
        Volatile.Write(ref _logLength, _log.Length);
        group.ForEach(p => p.Done.TrySetResult());
    }

    private void WriteRows(ViewIndex index, WriteBatch batch, long sequence)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            RowCodec.WriteRow(_writer, RecordKind.Batch, index.View, batch.Keys[i], batch.Row(i, sequence));
        }
    }

    /// <summary>One view's checked rows in a write.</summary>
    private readonly record struct Part(ViewIndex Index, WriteBatch Batch);

    /// <summary>A queued write: one view's rows, or several views' written as one record.</summary>
    private sealed class PendingWrite(Part[] parts)
    {
        public Part[] Parts { get; } = parts;

        public long Sequence { get; set; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            DisposeCore();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _writeLock.Wait();
        try
        {
            DisposeCore();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void DisposeCore()
    {
        if (!_disposed)
        {
            _disposed = true;
            _log.Dispose();
            _processLock?.Dispose();
        }
    }

    /// <summary>A merge on the embedded store: its reads and writes are the store's own.</summary>
    private sealed class DirectMerge(EmbeddedOnlineStore store) : IOnlineMerge
    {
        public ValueTask ReadAsync(
            string view, IReadOnlyList<string> features, ReadOnlyMemory<EntityKeyPart> keys, long nowMicros, Memory<FeatureValue> results, CancellationToken cancellationToken = default) =>
            store.ReadAsync(view, features, keys, nowMicros, results, cancellationToken);

        public Task WriteAsync(string view, Table rows, CancellationToken cancellationToken = default) => store.WriteAsync(view, rows, cancellationToken);

        public Task WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => store.WriteAsync(writes, cancellationToken);

        public Task CommitAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private ViewIndex Index(string view)
    {
        ArgumentNullException.ThrowIfNull(view);
        return _served.Index(view);
    }

    private static FileStream OpenLog(string path)
    {
        // Unbuffered, so each record is one write(2); FileShare.None takes an exclusive lock against a second process.
        var log = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        log.Seek(0, SeekOrigin.End);
        return log;
    }

    private static string SegmentName(long firstSequence) => LogPrefix + firstSequence.ToString("D20", CultureInfo.InvariantCulture) + LogSuffix;

    private static string SnapshotName(long sequence) => SnapshotPrefix + sequence.ToString("D20", CultureInfo.InvariantCulture) + SnapshotSuffix;

    /// <summary>Files with a prefix, a 20-digit number and a suffix, in number order.</summary>
    private static List<(string Path, long Number)> List(string folder, string prefix, string suffix)
    {
        var found = new List<(string, long)>();
        foreach (var path in Directory.EnumerateFiles(folder, prefix + "*" + suffix))
        {
            var name = Path.GetFileName(path);
            var digits = name.AsSpan(prefix.Length, name.Length - prefix.Length - suffix.Length);
            if (digits.Length == 20 && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                found.Add((path, number));
            }
        }

        found.Sort((a, b) => a.Item2.CompareTo(b.Item2));
        return found;
    }
}
