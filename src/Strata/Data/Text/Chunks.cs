using System.Buffers;

namespace Strata.Data.Text;

/// <summary>A run of whole records read from the input: bytes [FileOffset, FileOffset + Length), starting at line FirstLine.</summary>
internal sealed class RawChunk : IDisposable
{
    private byte[]? _buffer;

    public RawChunk(int index, byte[] buffer, int start, int length, long fileOffset, long firstLine)
    {
        Index = index;
        _buffer = buffer;
        Start = start;
        Length = length;
        FileOffset = fileOffset;
        FirstLine = firstLine;
    }

    public int Index { get; }

    public int Start { get; }

    public int Length { get; }

    public long FileOffset { get; }

    public long FirstLine { get; }

    public ReadOnlySpan<byte> Data => _buffer.AsSpan(Start, Length);

    public void Dispose()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }
}

/// <summary>The parsed columns of one chunk, with where it came from so it can be read again.</summary>
internal sealed class ChunkResult : IDisposable
{
    public ChunkResult(int index, long fileOffset, int length, long firstLine, List<string> names, List<ColumnChunkBuilder?> columns, int rowCount, ChunkCounters counters)
    {
        Index = index;
        FileOffset = fileOffset;
        Length = length;
        FirstLine = firstLine;
        Names = names;
        Columns = columns;
        RowCount = rowCount;
        Counters = counters;
    }

    public int Index { get; }

    public long FileOffset { get; }

    public int Length { get; }

    public long FirstLine { get; }

    /// <summary>Column names in the order the chunk met them (CSV: the header).</summary>
    public List<string> Names { get; }

    /// <summary>One builder per name; null for a column the pass skipped.</summary>
    public List<ColumnChunkBuilder?> Columns { get; }

    public int RowCount { get; set; }

    public ChunkCounters Counters { get; }

    public int IndexOf(string name) => Names.IndexOf(name);

    /// <summary>Frees one column's pooled arrays as soon as it has been assembled.</summary>
    public void Release(int column)
    {
        Columns[column]?.Dispose();
        Columns[column] = null;
    }

    public void Dispose()
    {
        foreach (var c in Columns)
        {
            c?.Dispose();
        }

        Columns.Clear();
    }
}

/// <summary>Finds where a buffer can be cut: the length of its longest prefix that ends on a record boundary, or -1.</summary>
internal delegate int BoundaryFinder(ReadOnlySpan<byte> data);

/// <summary>
/// Reads an input sequentially into chunks that end on record boundaries. A record longer than the limit is an error
/// rather than an ever-growing buffer, so memory stays bounded whatever the input.
/// </summary>
internal sealed class ChunkReader(ReadSource source, long startOffset, long firstLine, int chunkBytes, int maxRecordBytes, BoundaryFinder findBoundary)
{
    private long _offset = startOffset;
    private long _line = firstLine;
    private int _index;

    public long Consumed => _offset;

    /// <summary>The next chunk, or null at the end of the input.</summary>
    public async Task<RawChunk?> NextAsync(CancellationToken cancellationToken)
    {
        if (_offset >= source.Length)
        {
            return null;
        }

        var size = chunkBytes;
        while (true)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(size);
            var read = await source.ReadAtAsync(_offset, buffer.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
            var atEnd = _offset + read >= source.Length;
            var cut = atEnd ? read : findBoundary(buffer.AsSpan(0, read));
            if (cut > 0)
            {
                var chunk = new RawChunk(_index++, buffer, 0, cut, _offset, _line);
                _offset += cut;
                _line += chunk.Data.Count((byte)'\n');
                return chunk;
            }

            ArrayPool<byte>.Shared.Return(buffer);
            if (size >= maxRecordBytes + (long)chunkBytes)
            {
                throw new DataFormatException(
                    ErrorCodes.DataLimit,
                    $"a record is longer than the limit of {maxRecordBytes} bytes (raise it with the max-record-bytes option)",
                    new DataLocation(source.Name, _line));
            }

            size = (int)Math.Min((long)size * 2, maxRecordBytes + (long)chunkBytes);
        }
    }
}
