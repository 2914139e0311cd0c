using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Strata.Data.Arrow.ArrowFormat;

namespace Strata.Data.Arrow;

/// <summary>
/// Writes Arrow IPC files (Feather v2) that pyarrow, arrow-js and other Arrow readers open. The schema is fixed up front;
/// each <see cref="WriteBatchAsync"/> appends one or more record batches; <see cref="FinishAsync"/> (or disposal) writes
/// the footer. Strings are written dictionary-encoded with int32 indices, timestamps as Timestamp(MICROSECOND, "UTC").
/// </summary>
/// <remarks>
/// String columns of different batches may carry different dictionaries. The file format allows one dictionary per
/// field, extended by deltas, so the writer keeps a unified dictionary per column, rewrites codes into it when needed and
/// emits the new values of each batch as a delta dictionary batch. Not thread-safe.
/// </remarks>
public sealed class ArrowFileWriter : IAsyncDisposable
{
    private const int StagingSize = 1 << 20;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly bool _streamFormat;
    private readonly ArrowWriteOptions _options;
    private readonly WriterDictionary?[] _dictionaries;
    private readonly List<Block> _dictionaryBlocks = [];
    private readonly List<Block> _recordBatchBlocks = [];
    private byte[] _staging;
    private int _staged;
    private long _position;
    private bool _started;
    private bool _finished;
    private bool _faulted;
    private bool _disposed;

    /// <summary>Creates a writer; nothing is written until the first batch (or <see cref="FinishAsync"/>).</summary>
    /// <param name="stream">A writable stream; the file starts at its current position.</param>
    /// <param name="schema">The schema every batch must have (names and types; roles and tags are stored in the file).</param>
    /// <param name="options">Batch size; null for <see cref="ArrowWriteOptions.Default"/>.</param>
    /// <param name="leaveOpen">True to leave <paramref name="stream"/> open on disposal.</param>
    public ArrowFileWriter(Stream stream, Schema schema, ArrowWriteOptions? options = null, bool leaveOpen = false)
        : this(stream, schema, options, leaveOpen, streamFormat: false)
    {
    }

    /// <summary>Writes the Arrow streaming format instead (no magic, no footer): for tests of the stream reader.</summary>
    internal ArrowFileWriter(Stream stream, Schema schema, ArrowWriteOptions? options, bool leaveOpen, bool streamFormat)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(schema);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("the stream is not writable", nameof(stream));
        }

        _options = options ?? ArrowWriteOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxRowsPerBatch, 1, nameof(options));
        _stream = stream;
        _leaveOpen = leaveOpen;
        _streamFormat = streamFormat;
        Schema = schema;
        _dictionaries = schema.Select(f => f.Type == DataType.String ? new WriterDictionary() : null).ToArray();
        _staging = ArrayPool<byte>.Shared.Rent(StagingSize);
    }

    /// <summary>The schema of the file.</summary>
    public Schema Schema { get; }

    /// <summary>Record batches written so far.</summary>
    public int RecordBatchCount => _recordBatchBlocks.Count;

    /// <summary>
    /// Appends the rows of <paramref name="batch"/> as one record batch, or several when it has more than
    /// <see cref="ArrowWriteOptions.MaxRowsPerBatch"/> rows. A batch with no rows is written as an empty record batch.
    /// </summary>
    /// <exception cref="StrataException">The batch's names or types differ from the schema, or a non-nullable field holds nulls.</exception>
    public async ValueTask WriteBatchAsync(Table batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_finished)
        {
            throw new InvalidOperationException("the file is finished");
        }

        if (!batch.Schema.HasSameLayout(Schema))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"batch schema {batch.Schema} does not match the file's schema {Schema}");
        }

        for (var i = 0; i < Schema.Count; i++)
        {
            if (!Schema[i].Nullable && batch[i].HasNulls)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"column '{Schema[i].Name}' is not nullable but holds {batch[i].NullCount} null(s)");
            }
        }

        try
        {
            await StartAsync(cancellationToken).ConfigureAwait(false);
            var offset = 0;
            do
            {
                var rows = Math.Min(_options.MaxRowsPerBatch, batch.RowCount - offset);
                var part = rows == batch.RowCount ? batch : batch.Slice(offset, rows);
                await WriteRecordBatchAsync(part, cancellationToken).ConfigureAwait(false);
                offset += rows;
            }
            while (offset < batch.RowCount);

            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _faulted = true;
            throw;
        }
    }

    /// <summary>Writes the end-of-stream marker and the footer, and flushes. Further batches are refused.</summary>
    public async ValueTask FinishAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_finished)
        {
            return;
        }

        try
        {
            await StartAsync(cancellationToken).ConfigureAwait(false);
            Stage(BitConverter.GetBytes(Continuation));
            Stage(stackalloc byte[4]);
            if (!_streamFormat)
            {
                var footer = FlatBufferWriter.Serialize(new FlatTableBuilder()
                    .Int16(FooterSlot.Version, MetadataV5)
                    .Table(FooterSlot.Schema, ArrowSchema.Build(Schema))
                    .Structs(FooterSlot.Dictionaries, Blocks(_dictionaryBlocks), _dictionaryBlocks.Count)
                    .Structs(FooterSlot.RecordBatches, Blocks(_recordBatchBlocks), _recordBatchBlocks.Count));
                Stage(footer);
                Span<byte> length = stackalloc byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(length, footer.Length);
                Stage(length);
                Stage(Magic);
            }

            await FlushAsync(cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            _finished = true;
        }
        catch
        {
            _faulted = true;
            throw;
        }
    }

    /// <summary>Finishes the file unless a write failed, then releases the stream (unless left open).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            // A failed write leaves a torn file; a footer would only make it look valid.
            if (!_finished && !_faulted)
            {
                await FinishAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _disposed = true;
            ArrayPool<byte>.Shared.Return(_staging);
            _staging = [];
            if (!_leaveOpen)
            {
                await _stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async ValueTask StartAsync(CancellationToken cancellationToken)
    {
        if (_started)
        {
            return;
        }

        _started = true;
        if (!_streamFormat)
        {
            Stage(Magic);
            Stage(stackalloc byte[2]);
        }

        await WriteMessageAsync(MessageHeader.Schema, ArrowSchema.Build(Schema), [], 0, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask WriteRecordBatchAsync(Table batch, CancellationToken cancellationToken)
    {
        var rented = new List<Array>();
        try
        {
            var body = new BodyPlan();
            var nodes = new byte[Schema.Count * FieldNodeSize];
            for (var i = 0; i < Schema.Count; i++)
            {
                var column = batch[i];
                BinaryPrimitives.WriteInt64LittleEndian(nodes.AsSpan(i * FieldNodeSize), column.Length);
                BinaryPrimitives.WriteInt64LittleEndian(nodes.AsSpan((i * FieldNodeSize) + 8), column.NullCount);
                body.Add(Validity(column, rented));
                switch (column)
                {
                    case Column<bool> bools:
                        var bits = Rent<byte>(Bitmap.ByteLength(bools.Length), rented);
                        ArrowBits.Pack(bools.Values, bits);
                        body.Add(new BodySlice(bits, 0, Bitmap.ByteLength(bools.Length)));
                        break;
                    case Column<int> ints:
                        body.Add(BodySlice.Of(ints.Buffer, ints.BufferOffset, ints.Length));
                        break;
                    case Column<long> longs:
                        body.Add(BodySlice.Of(longs.Buffer, longs.BufferOffset, longs.Length));
                        break;
                    case Column<float> floats:
                        body.Add(BodySlice.Of(floats.Buffer, floats.BufferOffset, floats.Length));
                        break;
                    case Column<double> doubles:
                        body.Add(BodySlice.Of(doubles.Buffer, doubles.BufferOffset, doubles.Length));
                        break;
                    case StringColumn strings:
                        var dictionary = _dictionaries[i]!;
                        var map = dictionary.MapOf(strings.Dictionary);
                        if (map is null)
                        {
                            body.Add(BodySlice.Of(strings.Buffer, strings.BufferOffset, strings.Length));
                        }
                        else
                        {
                            var codes = Rent<int>(strings.Length, rented);
                            var source = strings.Codes;
                            for (var r = 0; r < source.Length; r++)
                            {
                                codes[r] = map[source[r]];
                            }

                            body.Add(BodySlice.Of(codes, 0, strings.Length));
                        }

                        await WriteDictionaryDeltaAsync(i, cancellationToken).ConfigureAwait(false);
                        break;
                    default:
                        throw new InvalidOperationException($"cannot write a {column.GetType().Name}");
                }
            }

            var header = new FlatTableBuilder()
                .Int64(RecordBatchSlot.Length, batch.RowCount)
                .Structs(RecordBatchSlot.Nodes, nodes, Schema.Count)
                .Structs(RecordBatchSlot.Buffers, body.Descriptors(), body.Count);
            var block = await WriteMessageAsync(MessageHeader.RecordBatch, header, body.Slices, body.Length, cancellationToken).ConfigureAwait(false);
            _recordBatchBlocks.Add(block);
        }
        finally
        {
            foreach (var array in rented)
            {
                Return(array);
            }
        }
    }

    /// <summary>Writes the values of column <paramref name="index"/>'s unified dictionary that the file does not hold yet.</summary>
    private async ValueTask WriteDictionaryDeltaAsync(int index, CancellationToken cancellationToken)
    {
        var dictionary = _dictionaries[index]!;
        if (dictionary.Started && dictionary.Written == dictionary.Count)
        {
            return;
        }

        var (offsets, data, count) = dictionary.Pending();
        var body = new BodyPlan();
        body.Add(default);
        body.Add(BodySlice.Of(offsets, 0, count + 1));
        body.Add(new BodySlice(data, 0, offsets[count]));
        var nodes = new byte[FieldNodeSize];
        BinaryPrimitives.WriteInt64LittleEndian(nodes, count);
        var header = new FlatTableBuilder()
            .Int64(DictionaryBatchSlot.Id, index)
            .Table(DictionaryBatchSlot.Data, new FlatTableBuilder()
                .Int64(RecordBatchSlot.Length, count)
                .Structs(RecordBatchSlot.Nodes, nodes, 1)
                .Structs(RecordBatchSlot.Buffers, body.Descriptors(), body.Count))
            .Bool(DictionaryBatchSlot.IsDelta, dictionary.Started);
        var block = await WriteMessageAsync(MessageHeader.DictionaryBatch, header, body.Slices, body.Length, cancellationToken).ConfigureAwait(false);
        _dictionaryBlocks.Add(block);
        dictionary.Started = true;
        dictionary.Written += count;
    }

    /// <summary>The validity buffer of a column: none without nulls, else a copy starting at bit 0 (slices may start mid-byte).</summary>
    private static BodySlice Validity(Column column, List<Array> rented)
    {
        if (column.NullCount == 0 || column.ValidityBits is not { } source)
        {
            return default;
        }

        var length = Bitmap.ByteLength(column.Length);
        var bits = Rent<byte>(length, rented);
        ArrowBits.CopyToZeroOffset(source, column.ValidityOffset, column.Length, bits);
        return new BodySlice(bits, 0, length);
    }

    /// <summary>
    /// Writes one encapsulated message: continuation marker, metadata length, the Message flatbuffer padded so the body
    /// starts <see cref="Alignment"/>-aligned, then the body buffers each at its aligned offset.
    /// </summary>
    private async ValueTask<Block> WriteMessageAsync(
        byte headerType, FlatTableBuilder header, IReadOnlyList<BodySlice> slices, long bodyLength, CancellationToken cancellationToken)
    {
        var metadata = FlatBufferWriter.Serialize(new FlatTableBuilder()
            .Int16(MessageSlot.Version, MetadataV5)
            .Byte(MessageSlot.HeaderType, headerType)
            .Table(MessageSlot.Header, header)
            .Int64(MessageSlot.BodyLength, bodyLength));
        if (_staged + 8 + metadata.Length > _staging.Length)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        var start = _position + _staged;
        var padding = (int)(AlignUp(start + 8 + metadata.Length, Alignment) - (start + 8 + metadata.Length));
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, Continuation);
        BinaryPrimitives.WriteInt32LittleEndian(prefix[4..], metadata.Length + padding);
        Stage(prefix);
        Stage(metadata);
        await PadAsync(padding, cancellationToken).ConfigureAwait(false);
        var bodyStart = _position + _staged;
        foreach (var slice in slices)
        {
            await PadAsync((int)(AlignUp(_position + _staged - bodyStart, Alignment) - (_position + _staged - bodyStart)), cancellationToken).ConfigureAwait(false);
            await CopyAsync(slice, cancellationToken).ConfigureAwait(false);
        }

        await PadAsync((int)(bodyStart + bodyLength - (_position + _staged)), cancellationToken).ConfigureAwait(false);
        return new Block(start, 8 + metadata.Length + padding, bodyLength);
    }

    private async ValueTask CopyAsync(BodySlice slice, CancellationToken cancellationToken)
    {
        var done = 0L;
        while (done < slice.Length)
        {
            if (_staged == _staging.Length)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            var n = (int)Math.Min(slice.Length - done, _staging.Length - _staged);
            slice.Bytes(done, n).CopyTo(_staging.AsSpan(_staged));
            _staged += n;
            done += n;
        }
    }

    private async ValueTask PadAsync(int count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            if (_staged == _staging.Length)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            var n = Math.Min(count, _staging.Length - _staged);
            _staging.AsSpan(_staged, n).Clear();
            _staged += n;
            count -= n;
        }
    }

    /// <summary>Copies metadata into the staging buffer, growing it for metadata larger than the buffer (a schema of many thousand fields).</summary>
    private void Stage(ReadOnlySpan<byte> bytes)
    {
        if (_staged + bytes.Length > _staging.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(_staged + bytes.Length);
            _staging.AsSpan(0, _staged).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_staging);
            _staging = larger;
        }

        bytes.CopyTo(_staging.AsSpan(_staged));
        _staged += bytes.Length;
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_staged == 0)
        {
            return;
        }

        await _stream.WriteAsync(_staging.AsMemory(0, _staged), cancellationToken).ConfigureAwait(false);
        _position += _staged;
        _staged = 0;
    }

    private static byte[] Blocks(List<Block> blocks)
    {
        var raw = new byte[blocks.Count * BlockSize];
        for (var i = 0; i < blocks.Count; i++)
        {
            var at = raw.AsSpan(i * BlockSize);
            BinaryPrimitives.WriteInt64LittleEndian(at, blocks[i].Offset);
            BinaryPrimitives.WriteInt32LittleEndian(at[8..], blocks[i].MetadataLength);
            BinaryPrimitives.WriteInt64LittleEndian(at[16..], blocks[i].BodyLength);
        }

        return raw;
    }

    private static long AlignUp(long value, int alignment) => (value + alignment - 1) & ~(long)(alignment - 1);

    private static T[] Rent<T>(int length, List<Array> rented)
    {
        var array = ArrayPool<T>.Shared.Rent(Math.Max(length, 1));
        rented.Add(array);
        return array;
    }

    private static void Return(Array array)
    {
        switch (array)
        {
            case byte[] bytes: ArrayPool<byte>.Shared.Return(bytes); break;
            case int[] ints: ArrayPool<int>.Shared.Return(ints); break;
        }
    }

    private readonly record struct Block(long Offset, int MetadataLength, long BodyLength);

    /// <summary>Bytes of an array of unmanaged values, written without conversion (Strata's layout is Arrow's).</summary>
    private readonly record struct BodySlice(Array? Source, long ByteStart, long Length)
    {
        public static BodySlice Of<T>(T[] array, int start, int count)
            where T : unmanaged => new(array, (long)start * Unsafe.SizeOf<T>(), (long)count * Unsafe.SizeOf<T>());

        public ReadOnlySpan<byte> Bytes(long offset, int count) =>
            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AddByteOffset(ref MemoryMarshal.GetArrayDataReference(Source!), (nint)(ByteStart + offset)), count);
    }

    /// <summary>The buffers of one message body, each at an <see cref="Alignment"/>-aligned offset.</summary>
    private sealed class BodyPlan
    {
        private readonly List<(long Offset, long Length)> _descriptors = [];

        public List<BodySlice> Slices { get; } = [];

        public long Length { get; private set; }

        public int Count => _descriptors.Count;

        public void Add(BodySlice slice)
        {
            var offset = slice.Length == 0 ? Length : AlignUp(Length, Alignment);
            _descriptors.Add((offset, slice.Length));
            if (slice.Length > 0)
            {
                Slices.Add(slice);
                Length = AlignUp(offset + slice.Length, Alignment);
            }
        }

        public byte[] Descriptors()
        {
            var raw = new byte[_descriptors.Count * BufferSize];
            for (var i = 0; i < _descriptors.Count; i++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * BufferSize), _descriptors[i].Offset);
                BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan((i * BufferSize) + 8), _descriptors[i].Length);
            }

            return raw;
        }
    }

    /// <summary>
    /// A string column's dictionary as the file sees it: the first dictionary met is used as is; when another appears,
    /// a merged table starting with the first's values takes over and later batches' codes are rewritten into it.
    /// </summary>
    private sealed class WriterDictionary
    {
        private StringDictionary? _first;
        private Utf8StringTable? _merged;
        private StringDictionary? _lastSource;
        private int[]? _lastMap;

        public bool Started { get; set; }

        public int Written { get; set; }

        public int Count => _merged?.Count ?? _first?.Count ?? 0;

        /// <summary>How to rewrite codes of <paramref name="source"/> into the file's dictionary; null when they are the same.</summary>
        public int[]? MapOf(StringDictionary source)
        {
            if (_first is null)
            {
                _first = source;
                return null;
            }

            if (ReferenceEquals(source, _first))
            {
                return null;
            }

            if (ReferenceEquals(source, _lastSource))
            {
                return _lastMap;
            }

            if (_merged is null)
            {
                _merged = new Utf8StringTable(Math.Max(16, _first.Count * 2));
                for (var code = 0; code < _first.Count; code++)
                {
                    _merged.GetOrAdd(_first.GetUtf8(code));
                }
            }

            var map = ColumnConcat.Remap(source, _merged);
            var identity = true;
            for (var i = 0; i < source.Count && identity; i++)
            {
                identity = map[i] == i;
            }

            _lastSource = source;
            _lastMap = identity ? null : map;
            return _lastMap;
        }

        /// <summary>The values not written yet, as Arrow offsets (from 0) and UTF-8 data.</summary>
        public (int[] Offsets, byte[] Data, int Count) Pending()
        {
            var count = Count - Written;
            var offsets = new int[count + 1];
            if (_merged is null)
            {
                // Only the first dictionary so far: copy its Arrow layout straight.
                var source = _first ?? StringDictionary.Empty;
                var from = source.Offsets[Written];
                for (var i = 0; i <= count; i++)
                {
                    offsets[i] = source.Offsets[Written + i] - from;
                }

                return (offsets, source.Data[from..].ToArray(), count);
            }

            var length = 0L;
            for (var i = 0; i < count; i++)
            {
                length += _merged[Written + i].Length;
            }

            if (length > Array.MaxLength)
            {
                throw new StrataException(ErrorCodes.DataLimit, $"a dictionary delta of {length} bytes exceeds the largest array");
            }

            var data = new byte[length];
            var at = 0;
            for (var i = 0; i < count; i++)
            {
                var value = _merged[Written + i];
                value.CopyTo(data.AsSpan(at));
                at += value.Length;
                offsets[i + 1] = at;
            }

            return (offsets, data, count);
        }
    }
}
