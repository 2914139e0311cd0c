namespace Strata.Features.OnlineStore;

public sealed partial class EmbeddedOnlineStore
{
    private const int SnapshotChunkRows = 4096;

    /// <summary>
    /// Writes a snapshot of every view (temp file, fsync, rename, folder fsync) and then deletes the log segments and
    /// older snapshots it makes redundant. A crash at any point leaves a state that opens to the same data.
    /// </summary>
    public async Task SnapshotAsync(CancellationToken cancellationToken = default)
    {
        // One snapshot at a time, so deletions of older files never race a snapshot that is still being written.
        await _snapshotLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SnapshotCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _snapshotLock.Release();
        }
    }

    private async Task SnapshotCoreAsync(CancellationToken cancellationToken)
    {
        long sequence;
        List<(ViewIndex Index, KeyValuePair<byte[], EntityRow>[] Rows)> captured;
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            (sequence, captured) = CaptureAndRotate(_served);
        }
        finally
        {
            _writeLock.Release();
        }

        await WriteSnapshotFileAsync(sequence, captured, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Copies the rows of <paramref name="views"/> and starts a new log segment. Callers hold the write lock.</summary>
    private (long Sequence, List<(ViewIndex Index, KeyValuePair<byte[], EntityRow>[] Rows)> Captured) CaptureAndRotate(ServedViews views)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var sequence = _lastSequence;
        var captured = views.Indexes.Values.Select(v => (v, v.Capture())).ToList();

        // Later writes go to a new segment, so every segment before it holds only sequences ≤ the snapshot's.
        var next = Path.Combine(_folder, SegmentName(sequence + 1));
        if (!string.Equals(_log.Name, next, StringComparison.Ordinal))
        {
            var log = OpenLog(next);
            Artifacts.DurableFile.FsyncDirectory(_folder);
            _log.Dispose();
            _log = log;
            Volatile.Write(ref _logLength, 0);
        }

        return (sequence, captured);
    }

    /// <summary>Writes the snapshot file durably, then deletes the log segments and older snapshots it makes redundant.</summary>
    private async Task WriteSnapshotFileAsync(long sequence, List<(ViewIndex Index, KeyValuePair<byte[], EntityRow>[] Rows)> captured, CancellationToken cancellationToken)
    {
        await Artifacts.DurableFile.WriteAsync(
            Path.Combine(_folder, SnapshotName(sequence)),
            (stream, ct) => WriteSnapshotAsync(stream, sequence, captured, ct),
            cancellationToken).ConfigureAwait(false);

        var activeStart = sequence + 1;
        foreach (var (path, first) in List(_folder, LogPrefix, LogSuffix))
        {
            if (first < activeStart)
            {
                File.Delete(path);
            }
        }

        foreach (var (path, at) in List(_folder, SnapshotPrefix, SnapshotSuffix))
        {
            if (at < sequence)
            {
                File.Delete(path);
            }
        }

        Artifacts.DurableFile.FsyncDirectory(_folder);
    }

    private static async Task WriteSnapshotAsync(
        Stream stream,
        long sequence,
        List<(ViewIndex Index, KeyValuePair<byte[], EntityRow>[] Rows)> captured,
        CancellationToken cancellationToken)
    {
        var writer = new PayloadWriter(1 << 16);
        writer.WriteByte((byte)RecordKind.SnapshotStart);
        writer.WriteInt64(sequence);
        writer.Seal();
        await stream.WriteAsync(writer.Record.ToArray(), cancellationToken).ConfigureAwait(false);
        long total = 0;
        foreach (var (index, rows) in captured)
        {
            for (var start = 0; start < rows.Length; start += SnapshotChunkRows)
            {
                var count = Math.Min(SnapshotChunkRows, rows.Length - start);
                writer.Reset();
                RowCodec.WriteRowsHeader(writer, RecordKind.SnapshotRows, sequence, index.View, count);
                for (var i = start; i < start + count; i++)
                {
                    RowCodec.WriteRow(writer, RecordKind.SnapshotRows, index.View, rows[i].Key, rows[i].Value);
                }

                writer.Seal();
                await stream.WriteAsync(writer.Record.ToArray(), cancellationToken).ConfigureAwait(false);
                total += count;
            }
        }

        writer.Reset();
        writer.WriteByte((byte)RecordKind.SnapshotEnd);
        writer.WriteInt64(sequence);
        writer.WriteInt64(total);
        writer.Seal();
        await stream.WriteAsync(writer.Record.ToArray(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads the newest snapshot into the indexes and returns the sequence it covers (0 when there is none).</summary>
    private static long LoadLatestSnapshot(string folder, Dictionary<string, ViewIndex> indexes)
    {
        var snapshots = List(folder, SnapshotPrefix, SnapshotSuffix);
        if (snapshots.Count == 0)
        {
            return 0;
        }

        // Snapshots are renamed into place whole, so the newest one must be intact; damage is refused, not skipped.
        var (path, number) = snapshots[^1];
        var records = LogRecords.Read(File.ReadAllBytes(path), path, allowTornTail: false, out _);
        if (records.Count < 2)
        {
            throw LogRecords.Corrupt(path, 0, "a snapshot without its start and end records");
        }

        var first = new PayloadReader(records[0].Span, path);
        if ((RecordKind)first.ReadByte() != RecordKind.SnapshotStart || first.ReadInt64() != number)
        {
            throw LogRecords.Corrupt(path, 0, "the first record is not this snapshot's start");
        }

        long total = 0;
        for (var r = 1; r < records.Count - 1; r++)
        {
            var reader = new PayloadReader(records[r].Span, path);
            if ((RecordKind)reader.ReadByte() != RecordKind.SnapshotRows)
            {
                throw LogRecords.Corrupt(path, 0, $"record {r} is not a rows record");
            }

            var sequence = reader.ReadInt64();
            RowCodec.ReadRows(ref reader, RecordKind.SnapshotRows, path, indexes, sequence, (index, key, row) =>
            {
                index.Apply(key, row);
                total++;
            });
        }

        var end = new PayloadReader(records[^1].Span, path);
        if ((RecordKind)end.ReadByte() != RecordKind.SnapshotEnd || end.ReadInt64() != number || end.ReadInt64() != total)
        {
            throw LogRecords.Corrupt(path, 0, "the last record is not this snapshot's end");
        }

        return number;
    }
}
