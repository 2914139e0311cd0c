using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using static Strata.Data.Arrow.ArrowFormat;

namespace Strata.Data.Arrow;

/// <summary>
/// Reads Arrow IPC files (Feather v2) from Strata, pyarrow, arrow-js and other writers, with random access to record
/// batches. The input is untrusted: any inconsistency is a <see cref="DataFormatException"/> naming the input and byte
/// offset (<see cref="ErrorCodes.DataMalformed"/>), a type or feature Strata does not read is
/// <see cref="ErrorCodes.DataUnsupported"/>, and sizes beyond <see cref="ArrowReadOptions"/> are
/// <see cref="ErrorCodes.DataLimit"/>.
/// </summary>
/// <remarks>
/// Types are widened to Strata's: 8/16-bit and signed 32-bit integers to int32, unsigned 32-bit and 64-bit integers to
/// int64 (uint64 only when the values fit), half and single floats to float32, Utf8 and LargeUtf8 (plain or
/// dictionary-encoded with any index type) to string, Timestamp of any unit to UTC microseconds, and Date32/Date64 to
/// midnight UTC. A timestamp with a time zone is already a UTC instant; one without a zone (a "naive" wall-clock time)
/// is read as UTC. All dictionaries are loaded when the file is opened; then each batch is read on demand. Not
/// thread-safe.
/// </remarks>
public sealed class ArrowFileReader : IAsyncDisposable, IDisposable
{
    private const int MinimumLength = 8 + 4 + 6;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly ArrowInput _input;
    private ArrowDecoder _decoder = null!;
    private Block[] _batches = [];

    private ArrowFileReader(Stream stream, bool leaveOpen, ArrowInput input)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        _input = input;
    }

    /// <summary>The schema from the file's footer.</summary>
    public Schema Schema => _decoder.Schema;

    /// <summary>Number of record batches in the file.</summary>
    public int RecordBatchCount => _batches.Length;

    /// <summary>Opens a file and reads its footer and dictionaries.</summary>
    public static async Task<ArrowFileReader> OpenAsync(string path, ArrowReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read,
            BufferSize = 1 << 16,
            Options = FileOptions.Asynchronous | FileOptions.RandomAccess,
        });
        try
        {
            return await OpenAsync(stream, (options ?? ArrowReadOptions.Default) with { InputName = options?.InputName ?? path }, leaveOpen: false, cancellationToken)
                .ConfigureAwait(false);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens a file held in a seekable stream (from its current position) and reads its footer and dictionaries.</summary>
    public static async Task<ArrowFileReader> OpenAsync(
        Stream stream, ArrowReadOptions? options = null, bool leaveOpen = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek || !stream.CanRead)
        {
            throw new ArgumentException("an Arrow file needs a readable, seekable stream; use ArrowStreamReader for the streaming format", nameof(stream));
        }

        options ??= ArrowReadOptions.Default;
        options.Validate();
        var reader = new ArrowFileReader(stream, leaveOpen, new ArrowInput(stream, options.InputName, options));
        try
        {
            await reader.ReadFooterAsync(cancellationToken).ConfigureAwait(false);
            return reader;
        }
        catch
        {
            // The caller never sees the reader, so release what it would have released.
            if (!leaveOpen)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Reads record batch <paramref name="index"/> as a table.</summary>
    public async ValueTask<Table> ReadBatchAsync(int index, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _batches.Length);
        var block = _batches[index];
        using var message = await ReadBlockAsync(block, MessageHeader.RecordBatch, "record batch", withBody: true, cancellationToken).ConfigureAwait(false);
        return _decoder.ReadRecordBatch(message);
    }

    /// <summary>Reads the record batches in order, one at a time, so memory holds one batch.</summary>
    public async IAsyncEnumerable<Table> ReadBatchesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < _batches.Length; i++)
        {
            yield return await ReadBatchAsync(i, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads every record batch into one table (an empty table when the file has none).</summary>
    public async Task<Table> ReadTableAsync(CancellationToken cancellationToken = default)
    {
        // Batch headers first, to size each column once; then every batch decodes straight into its rows.
        var rows = await ReadBatchRowCountsAsync(cancellationToken).ConfigureAwait(false);
        var sink = new ArrowDecoder.TableSink(_decoder, TotalRows(rows, _input.Name));
        await ReadIntoAsync(sink, rows, cancellationToken).ConfigureAwait(false);
        return sink.Build();
    }

    internal ArrowDecoder Decoder => _decoder;

    /// <summary>Each record batch's row count, from the batch headers alone (no body is read).</summary>
    internal async Task<int[]> ReadBatchRowCountsAsync(CancellationToken cancellationToken)
    {
        var rows = new int[_batches.Length];
        for (var i = 0; i < _batches.Length; i++)
        {
            using var header = await ReadBlockAsync(_batches[i], MessageHeader.RecordBatch, "record batch", withBody: false, cancellationToken)
                .ConfigureAwait(false);
            rows[i] = _decoder.RowCount(header);
        }

        return rows;
    }

    /// <summary>Decodes every record batch into <paramref name="sink"/>, one after another from its row 0.</summary>
    internal async Task ReadIntoAsync(ArrowDecoder.TableSink sink, int[] rows, CancellationToken cancellationToken)
    {
        var at = 0;
        for (var i = 0; i < _batches.Length; i++)
        {
            using var message = await ReadBlockAsync(_batches[i], MessageHeader.RecordBatch, "record batch", withBody: true, cancellationToken)
                .ConfigureAwait(false);
            _decoder.ReadRecordBatch(message, sink, at, rows[i]);
            at += rows[i];
        }
    }

    /// <summary>The sum of row counts, refused when one table could not hold it.</summary>
    internal static int TotalRows(IEnumerable<int> rows, string? input)
    {
        var total = 0L;
        foreach (var count in rows)
        {
            total += count;
            if (total > Array.MaxLength)
            {
                throw new DataFormatException(
                    ErrorCodes.DataLimit, $"the file holds more than {Array.MaxLength} rows, more than one table can", new DataLocation(input));
            }
        }

        return (int)total;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _leaveOpen ? ValueTask.CompletedTask : _stream.DisposeAsync();

    private async ValueTask ReadFooterAsync(CancellationToken cancellationToken)
    {
        var length = _input.Length!.Value;
        if (length < MinimumLength)
        {
            throw _input.Malformed(0, $"{length} bytes are too few for an Arrow file");
        }

        var head = await _input.ReadBytesAsync(8, "file header", cancellationToken).ConfigureAwait(false);
        if (!head.AsSpan().StartsWith(Magic))
        {
            var hint = BinaryPrimitives.ReadUInt32LittleEndian(head) == Continuation ? " (it looks like an Arrow stream: use ArrowStreamReader)" : "";
            throw _input.Malformed(0, "not an Arrow file: it does not start with ARROW1" + hint);
        }

        _input.Seek(length - 10);
        var tail = await _input.ReadBytesAsync(10, "file trailer", cancellationToken).ConfigureAwait(false);
        if (!tail.AsSpan(4).SequenceEqual(Magic))
        {
            throw _input.Malformed(length - 6, "the file does not end with ARROW1 (truncated or still being written?)");
        }

        var footerLength = BinaryPrimitives.ReadInt32LittleEndian(tail);
        if (footerLength <= 0 || footerLength > length - MinimumLength)
        {
            throw _input.Malformed(length - 10, $"footer length {footerLength} does not fit the {length}-byte file");
        }

        if (footerLength > _input.Options.MaxMetadataBytes)
        {
            throw new DataFormatException(
                ErrorCodes.DataLimit,
                $"the footer of {footerLength} bytes exceeds the metadata limit of {_input.Options.MaxMetadataBytes}",
                new DataLocation(_input.Name, ByteOffset: length - 10));
        }

        var footerStart = length - 10 - footerLength;
        _input.Seek(footerStart);
        var footerBytes = await _input.ReadBytesAsync(footerLength, "footer", cancellationToken).ConfigureAwait(false);
        var footer = new FlatBuffer(footerBytes, 0, footerLength, _input.Name, footerStart, "footer").Root();
        var schemaTable = footer.GetTable(FooterSlot.Schema) ?? throw footer.Error("the footer has no schema");
        var (schema, columns) = ArrowSchema.Read(schemaTable, _input.Options);
        _decoder = new ArrowDecoder(schema, columns, _input.Name, fileFormat: true);
        var dictionaries = ReadBlocks(footer, FooterSlot.Dictionaries, footerStart);
        _batches = ReadBlocks(footer, FooterSlot.RecordBatches, footerStart);
        CheckDisjoint([.. dictionaries, .. _batches]);

        // Deltas apply in footer order; every batch then sees the complete dictionary, as the file format intends.
        foreach (var block in dictionaries)
        {
            using var message = await ReadBlockAsync(block, MessageHeader.DictionaryBatch, "dictionary batch", withBody: true, cancellationToken)
                .ConfigureAwait(false);
            _decoder.ReadDictionaryBatch(message);
        }
    }

    private Block[] ReadBlocks(FlatTable footer, int slot, long dataEnd)
    {
        var vector = footer.GetVector(slot, BlockSize);
        var blocks = new Block[vector.Count];
        for (var i = 0; i < blocks.Length; i++)
        {
            var offset = vector.Int64At(i, 0);
            var metadataLength = vector.Int32At(i, 8);
            var bodyLength = vector.Int64At(i, 16);
            var at = footer.Buffer.Location(vector.ElementPosition(i)).ByteOffset ?? 0;
            if (offset < 8 || metadataLength < 8 || bodyLength < 0
                || offset > dataEnd || metadataLength > dataEnd - offset || bodyLength > dataEnd - offset - metadataLength)
            {
                throw _input.Malformed(at, $"block {i} (offset {offset}, metadata {metadataLength}, body {bodyLength}) lies outside the file's data");
            }

            if (metadataLength - 8 > _input.Options.MaxMetadataBytes)
            {
                throw new DataFormatException(
                    ErrorCodes.DataLimit,
                    $"message metadata of {metadataLength} bytes exceeds the limit of {_input.Options.MaxMetadataBytes}",
                    new DataLocation(_input.Name, ByteOffset: offset));
            }

            blocks[i] = new Block(offset, metadataLength, bodyLength);
        }

        return blocks;
    }

    /// <summary>
    /// Messages in a file never share bytes; refusing footers whose blocks overlap keeps a small file from making the
    /// reader parse the same large message over and over.
    /// </summary>
    private void CheckDisjoint(Block[] blocks)
    {
        Array.Sort(blocks, (a, b) => a.Offset.CompareTo(b.Offset));
        for (var i = 1; i < blocks.Length; i++)
        {
            var previous = blocks[i - 1];
            if (previous.Offset + previous.MetadataLength + previous.BodyLength > blocks[i].Offset)
            {
                throw _input.Malformed(blocks[i].Offset, $"the footer's blocks at {previous.Offset} and {blocks[i].Offset} overlap");
            }
        }
    }

    private async ValueTask<ArrowMessage> ReadBlockAsync(Block block, byte expected, string what, bool withBody, CancellationToken cancellationToken)
    {
        var message = await _input.ReadBlockAsync(block.Offset, block.MetadataLength, block.BodyLength, withBody, cancellationToken).ConfigureAwait(false);
        if (message.HeaderType != expected)
        {
            message.Dispose();
            throw _input.Malformed(block.Offset, $"the footer lists a {what} here, but the message is of type {message.HeaderType}");
        }

        return message;
    }

    private readonly record struct Block(long Offset, int MetadataLength, long BodyLength);
}
