using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

using Strata.Artifacts;
using Strata.Data.Arrow;
using Strata.Features.PointInTime;
using Strata.Stores;

namespace Strata.Features.OfflineStore;

/// <summary>
/// The offline store of one project on the local disk, so a single machine keeps feature history without a database:
/// per view a folder of Arrow IPC segments partitioned by UTC day of event time, named by a checksummed manifest that
/// is rewritten durably last, so an append is all or nothing.
/// </summary>
/// <remarks>
/// Layout: <c>{folder}/{view}/manifest</c> and <c>{folder}/{view}/seg-{sequence}-p{day}.arrow</c>. Files the manifest does
/// not name (temporaries, segments of an append a crash interrupted) are deleted when the store opens. Appends to a view
/// are serialized; reads take the manifest as it is when they start, and committed segments are never changed or removed,
/// so a read never sees half an append.
/// </remarks>
public sealed class EmbeddedOfflineStore : IOfflineStore
{
    /// <summary>One partition per UTC day of event time.</summary>
    internal const long PartitionMicros = 86_400_000_000;

    /// <summary>The file whose lock serializes a view's appends and recovery across processes.</summary>
    internal const string LockFile = "LOCK";

    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(60);

    // NOTE: segments are written in record batches of this many rows, so a range read holds one such batch at a time.
    private static readonly ArrowWriteOptions SegmentOptions = new() { MaxRowsPerBatch = 1 << 16 };

    private readonly string _folder;
    private readonly ConcurrentDictionary<string, ViewState> _views = new(StringComparer.Ordinal);
    private bool _disposed;

    private EmbeddedOfflineStore(string folder) => _folder = folder;

    /// <inheritdoc />
    public string Backend => "embedded";

    /// <summary>The folder the store lives in.</summary>
    public string Folder => _folder;

    /// <summary>
    /// Opens (creating if needed) the store in <paramref name="folder"/>, typically <c>{home}/offline/{project}</c>, and
    /// deletes what interrupted appends left behind.
    /// </summary>
    /// <exception cref="StrataException">A view's manifest is damaged.</exception>
    public static async Task<EmbeddedOfflineStore> OpenAsync(string folder, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        var full = Path.GetFullPath(folder);
        CreateFolderDurably(full);
        var store = new EmbeddedOfflineStore(full);
        foreach (var viewFolder in Directory.EnumerateDirectories(full))
        {
            var name = Path.GetFileName(viewFolder);
            if (!Names.IsValid(name))
            {
                continue; // not ours
            }

            // Under the view's lock: another process (a server and a CLI on one home) may be between its segment
            // writes and its manifest, and those segments are not leftovers.
            OfflineManifest? manifest;
            using (await FileLock.AcquireAsync(Path.Combine(viewFolder, LockFile), LockWait, $"offline view '{name}'", cancellationToken).ConfigureAwait(false))
            {
                manifest = await LoadAsync(viewFolder, cancellationToken).ConfigureAwait(false);
                Recover(viewFolder, manifest);
            }

            store._views[name] = new ViewState(viewFolder) { Current = manifest };
        }

        return store;
    }

    /// <inheritdoc />
    public Task AppendAsync(FeatureViewLayout view, Table rows, CancellationToken cancellationToken = default) =>
        AppendAsync([new OfflineAppend(view, rows)], cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Every view is locked (in name order) and its manifest read and checked before the first segment is written; the
    /// segments of every view are written next, and the manifests last, one view after another.
    /// </remarks>
    public async Task AppendAsync(IReadOnlyList<OfflineAppend> appends, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var work = OfflineRows.CheckAll(appends).Select(a => new PendingAppend(a.View, a.Rows, State(a.View))).ToArray();
        var locked = new List<PendingAppend>();
        try
        {
            foreach (var append in work)
            {
                var state = append.State;
                await state.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
                locked.Add(append);

                // Appends from other processes are serialized by the view's lock file and seen by re-reading the manifest.
                CreateFolderDurably(state.Folder);
                append.ProcessLock = await FileLock.AcquireAsync(Path.Combine(state.Folder, LockFile), LockWait, $"offline view '{append.View.Name}'", cancellationToken).ConfigureAwait(false);
                state.Current = await LoadAsync(state.Folder, cancellationToken).ConfigureAwait(false);
                if (state.Current is not null)
                {
                    OfflineRows.CheckSignature(append.View, state.Current.Signature);
                }
            }

            foreach (var append in work)
            {
                append.Next = await WriteSegmentsAsync(append, cancellationToken).ConfigureAwait(false);
            }

            foreach (var append in work)
            {
                await CommitAsync(append, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var append in locked)
            {
                foreach (var path in append.Written)
                {
                    TryDelete(path); // never committed; the next open would delete them anyway
                }

                append.ProcessLock?.Dispose();
                append.State.Lock.Release();
            }
        }
    }

    /// <summary>Writes a view's segments (one per UTC day of event time) and gives the manifest that would commit them.</summary>
    private static async Task<OfflineManifest> WriteSegmentsAsync(PendingAppend append, CancellationToken cancellationToken)
    {
        var (view, rows, state) = (append.View, append.Rows, append.State);
        var current = state.Current ?? new OfflineManifest(OfflineRows.Signature(view), 1, []);
        CreateFolderDurably(state.Folder);
        var sequence = current.NextSequence;
        var added = new List<OfflineSegment>();
        foreach (var (partition, indices) in SplitByPartition(rows.GetColumn<long>(view.EventTimestampColumn)))
        {
            var part = indices.Length == rows.RowCount ? rows : rows.Take(indices);
            var ts = part.GetColumn<long>(view.EventTimestampColumn);
            var file = OfflineManifest.SegmentFile(sequence, partition);
            var path = Path.Combine(state.Folder, file);
            append.Written.Add(path);
            await DurableFile.WriteAsync(path, (stream, ct) => WriteSegmentAsync(stream, part, ct), cancellationToken).ConfigureAwait(false);
            added.Add(new OfflineSegment(file, partition, sequence++, part.RowCount, Min(ts), Max(ts)));
        }

        return current.With(added, sequence);
    }

    /// <summary>Writes a view's new manifest durably: its segments are then committed.</summary>
    private static async Task CommitAsync(PendingAppend append, CancellationToken cancellationToken)
    {
        var state = append.State;
        try
        {
            await DurableFile.WriteAllBytesAsync(Path.Combine(state.Folder, OfflineManifest.FileName), append.Next!.Serialize(), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The rename may have happened before the failure (e.g. the folder fsync failed): what is on disk decides.
            // Segments the manifest on disk names are committed and stay; the rest go when the append ends.
            var onDisk = await LoadAsync(state.Folder, CancellationToken.None).ConfigureAwait(false);
            state.Current = onDisk;
            if (onDisk is not null)
            {
                append.Written.RemoveAll(path => onDisk.Segments.Any(s => s.File == Path.GetFileName(path)));
            }

            throw;
        }

        append.Written.Clear(); // committed
        state.Current = append.Next;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Table> ReadAsync(
        FeatureViewLayout view,
        long startMicros,
        long endMicros,
        int batchRows,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        var (state, manifest) = await SnapshotAsync(view, cancellationToken).ConfigureAwait(false);
        if (manifest is null || endMicros <= startMicros)
        {
            yield break;
        }

        var pending = new List<Table>();
        var pendingRows = 0;
        foreach (var segment in manifest.Segments.Where(s => s.Overlaps(startMicros, endMicros - 1)))
        {
            var reader = await ArrowFileReader.OpenAsync(Path.Combine(state.Folder, segment.File), cancellationToken: cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                for (var b = 0; b < reader.RecordBatchCount; b++)
                {
                    var batch = InRange(
                        (await reader.ReadBatchAsync(b, cancellationToken).ConfigureAwait(false)).WithSchema(view.Schema),
                        view.EventTimestampColumn,
                        startMicros,
                        endMicros);
                    if (batch.RowCount == 0)
                    {
                        continue;
                    }

                    pending.Add(batch);
                    pendingRows += batch.RowCount;
                    while (pendingRows >= batchRows)
                    {
                        var all = Table.Concat(pending);
                        yield return all.Slice(0, batchRows);
                        pending.Clear();
                        pendingRows -= batchRows;
                        if (pendingRows > 0)
                        {
                            pending.Add(all.Slice(batchRows, pendingRows));
                        }
                    }
                }
            }
        }

        if (pendingRows > 0)
        {
            yield return Table.Concat(pending);
        }
    }

    /// <inheritdoc />
    public async Task<(long Min, long Max)?> GetEventTimeRangeAsync(FeatureViewLayout view, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var (_, manifest) = await SnapshotAsync(view, cancellationToken).ConfigureAwait(false);
        (long, long)? range = manifest is null || manifest.Segments.Count == 0
            ? null
            : (manifest.Segments.Min(s => s.MinEventTs), manifest.Segments.Max(s => s.MaxEventTs));
        return range;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The digest of the committed manifest (it names every segment, and segments never change) and its write time, which
    /// tells a view deleted and pushed again with the same row counts from the original.
    /// </remarks>
    public async Task<string> GetFingerprintAsync(FeatureViewLayout view, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var state = State(view);
        var path = Path.Combine(state.Folder, OfflineManifest.FileName);
        if (!File.Exists(path))
        {
            return "empty";
        }

        var written = File.GetLastWriteTimeUtc(path).Ticks;
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        return string.Create(CultureInfo.InvariantCulture, $"manifest {Convert.ToHexStringLower(SHA256.HashData(bytes))} {written}");
    }

    /// <inheritdoc />
    public async Task<Table> GetHistoricalFeaturesAsync(
        Table entities,
        string entityTimestamp,
        IReadOnlyList<HistoricalFeatureRequest> views,
        PointInTimeJoinOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentException.ThrowIfNullOrEmpty(entityTimestamp);
        ArgumentNullException.ThrowIfNull(views);
        foreach (var request in views)
        {
            OfflineRows.CheckRequest(request);
        }

        OfflineRows.CheckEntityKeys(entities, views);

        var range = OfflineRows.EntityRange(entities, entityTimestamp);
        var sources = new FeatureViewSource[views.Count];
        for (var v = 0; v < views.Count; v++)
        {
            var request = views[v];
            var (state, manifest) = await SnapshotAsync(request.View, cancellationToken).ConfigureAwait(false);
            var rows = Table.Empty(request.View.Schema);
            if (manifest is not null && range is { } r)
            {
                // Only partitions that can hold a row some entity may take: event time in [min − TTL, max].
                var from = OfflineRows.Lowest(request.View, r.Min);
                var segments = manifest.Segments.Where(s => s.Overlaps(from, r.Max)).ToArray();

                // Segments are read side by side, only the columns the join reads, each straight into its rows of one table.
                var layout = request.View;
                var needed = layout.JoinKeys.Select(k => k.Name).Append(layout.EventTimestampColumn)
                    .Concat(layout.CreatedTimestampColumn is { } created ? [created] : [])
                    .Concat(request.Features).Distinct(StringComparer.Ordinal).ToArray();
                if (segments.Length > 0)
                {
                    var paths = segments.Select(s => Path.Combine(state.Folder, s.File)).ToArray();
                    rows = (await ArrowFileSet.ReadAsync(paths, needed, Environment.ProcessorCount, cancellationToken).ConfigureAwait(false))
                        .WithSchema(new Schema(needed.Select(n => layout.Schema[n])));
                }
            }

            sources[v] = OfflineRows.Source(request, rows);
        }

        return PointInTimeJoin.Join(entities, entityTimestamp, sources, options);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _disposed = true;
        return ValueTask.CompletedTask;
    }

    private ViewState State(FeatureViewLayout view)
    {
        var name = OfflineRows.CheckName(view);
        return _views.GetOrAdd(name, n => new ViewState(Path.Combine(_folder, n)));
    }

    private async Task<(ViewState State, OfflineManifest? Manifest)> SnapshotAsync(FeatureViewLayout view, CancellationToken cancellationToken)
    {
        // Re-read from disk: another process on the same home may have appended since (the manifest is small and
        // replaced by rename, so what is read is always a committed state).
        var state = State(view);
        var manifest = Directory.Exists(state.Folder) ? await LoadAsync(state.Folder, cancellationToken).ConfigureAwait(false) : null;
        state.Current = manifest;
        if (manifest is not null)
        {
            OfflineRows.CheckSignature(view, manifest.Signature);
        }

        return (state, manifest);
    }

    private static async Task<OfflineManifest?> LoadAsync(string viewFolder, CancellationToken cancellationToken)
    {
        var path = Path.Combine(viewFolder, OfflineManifest.FileName);
        return File.Exists(path)
            ? OfflineManifest.Parse(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false), path)
            : null;
    }

    /// <summary>Deletes every file of a view folder that its manifest does not name.</summary>
    private static void Recover(string viewFolder, OfflineManifest? manifest)
    {
        var keep = new HashSet<string>(StringComparer.Ordinal) { OfflineManifest.FileName, LockFile };
        if (manifest is not null)
        {
            keep.UnionWith(manifest.Segments.Select(s => s.File));
        }

        var deleted = false;
        foreach (var file in Directory.EnumerateFiles(viewFolder))
        {
            if (!keep.Contains(Path.GetFileName(file)))
            {
                File.Delete(file);
                deleted = true;
            }
        }

        if (deleted)
        {
            DurableFile.FsyncDirectory(viewFolder);
        }
    }

    /// <summary>Creates a folder and its missing parents, flushing each new entry into its parent folder.</summary>
    /// <remarks>
    /// DurableFile flushes the view folder after each rename, but not the view folder's own entry: without this a power
    /// cut after the first acknowledged append of a view (or of a new store) could lose the whole folder.
    /// </remarks>
    private static void CreateFolderDurably(string folder)
    {
        if (Directory.Exists(folder))
        {
            return;
        }

        var parent = Path.GetDirectoryName(folder);
        if (parent is not null)
        {
            CreateFolderDurably(parent);
        }

        Directory.CreateDirectory(folder);
        if (parent is not null)
        {
            DurableFile.FsyncDirectory(parent);
        }
    }

    private static async Task WriteSegmentAsync(Stream stream, Table rows, CancellationToken cancellationToken)
    {
        var writer = new ArrowFileWriter(stream, rows.Schema, SegmentOptions, leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            await writer.WriteBatchAsync(rows, cancellationToken).ConfigureAwait(false);
            await writer.FinishAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Row indices per partition, each list in input order, partitions ascending.</summary>
    private static List<(long Partition, int[] Rows)> SplitByPartition(Column<long> eventTs)
    {
        var values = eventTs.Values;
        var byPartition = new SortedDictionary<long, List<int>>();
        List<int>? last = null;
        var lastPartition = 0L;
        for (var i = 0; i < values.Length; i++)
        {
            var partition = Partition(values[i]);
            if (last is null || partition != lastPartition)
            {
                if (!byPartition.TryGetValue(partition, out last))
                {
                    byPartition[partition] = last = [];
                }

                lastPartition = partition;
            }

            last.Add(i);
        }

        return byPartition.Select(p => (p.Key, p.Value.ToArray())).ToList();
    }

    internal static long Partition(long eventMicros) => Math.DivRem(eventMicros, PartitionMicros) switch
    {
        (var q, < 0) => q - 1,
        (var q, _) => q,
    };

    private static Table InRange(Table batch, string eventTimestamp, long start, long end)
    {
        var ts = batch.GetColumn<long>(eventTimestamp).Values;
        var keep = new List<int>();
        for (var i = 0; i < ts.Length; i++)
        {
            if (ts[i] >= start && ts[i] < end)
            {
                keep.Add(i);
            }
        }

        return keep.Count == ts.Length ? batch : batch.Take(keep.ToArray());
    }

    private static long Min(Column<long> column)
    {
        var values = column.Values;
        var min = long.MaxValue;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
        }

        return min;
    }

    private static long Max(Column<long> column)
    {
        var values = column.Values;
        var max = long.MinValue;
        foreach (var v in values)
        {
            max = Math.Max(max, v);
        }

        return max;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>One view's part of an append while it runs: its locks, the segment files written so far, the manifest to commit.</summary>
    private sealed class PendingAppend(FeatureViewLayout view, Table rows, ViewState state)
    {
        public FeatureViewLayout View { get; } = view;

        public Table Rows { get; } = rows;

        public ViewState State { get; } = state;

        public FileStream? ProcessLock { get; set; }

        public List<string> Written { get; } = [];

        public OfflineManifest? Next { get; set; }
    }

    private sealed class ViewState(string folder)
    {
        public string Folder { get; } = folder;

        public SemaphoreSlim Lock { get; } = new(1, 1);

        public volatile OfflineManifest? Current;
    }
}
