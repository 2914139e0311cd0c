using System.Buffers.Binary;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Unicode;
using static Strata.Data.Arrow.ArrowFormat;

namespace Strata.Data.Arrow;

/// <summary>
/// Turns record batch and dictionary batch messages into Strata columns. Every buffer offset, length, count and index
/// is checked against the body and the schema; null slots are zeroed, as Strata's columns require.
/// </summary>
internal sealed class ArrowDecoder
{
    private readonly ArrowColumn[] _columns;
    private readonly string? _input;
    private readonly bool _fileFormat;
    private readonly Dictionary<long, ReaderDictionary> _dictionaries = [];

    public ArrowDecoder(Schema schema, ArrowColumn[] columns, string? input, bool fileFormat)
    {
        Schema = schema;
        _columns = columns;
        _input = input;
        _fileFormat = fileFormat;
    }

    public Schema Schema { get; }

    /// <summary>Adds a dictionary batch (a first dictionary, a delta, or in streams a replacement).</summary>
    public void ReadDictionaryBatch(ArrowMessage message)
    {
        var header = message.Header;
        var id = header.GetInt64(DictionaryBatchSlot.Id);
        var isDelta = header.GetBool(DictionaryBatchSlot.IsDelta);
        var location = new DataLocation(_input, ByteOffset: message.BodyOffset);
        var column = _columns.FirstOrDefault(c => c.DictionaryId == id)
            ?? throw new DataFormatException(ErrorCodes.DataMalformed, $"dictionary batch has id {id}, which no field uses", location);
        var data = header.GetTable(DictionaryBatchSlot.Data) ?? throw header.Error("dictionary batch has no data");
        var batch = new BatchReader(data, message, _input, column.Field.Name);
        CheckCompression(data, location);
        var count = batch.Length;
        batch.NextNode(count, out var nullCount);
        var validity = batch.Validity(count, nullCount, out _);
        var exists = _dictionaries.TryGetValue(id, out var dictionary);
        if (!isDelta && exists && _fileFormat)
        {
            throw new DataFormatException(ErrorCodes.DataMalformed, $"dictionary {id} is replaced, which the file format forbids", location.InColumn(column.Field.Name));
        }

        if (!isDelta || dictionary is null)
        {
            dictionary = new ReaderDictionary();
            _dictionaries[id] = dictionary;
        }

        dictionary.Append(batch.Strings(count, column.Kind == ArrowKind.LargeUtf8), validity, batch);
    }

    /// <summary>Decodes a record batch into a table.</summary>
    public Table ReadRecordBatch(ArrowMessage message)
    {
        var header = message.Header;
        CheckCompression(header, new DataLocation(_input, ByteOffset: message.BodyOffset));
        var batch = new BatchReader(header, message, _input, null);
        var rows = batch.Length;
        var columns = new Column[_columns.Length];
        for (var i = 0; i < _columns.Length; i++)
        {
            batch.Field = _columns[i].Field.Name;
            columns[i] = ReadColumn(_columns[i], batch, rows);
            if (!_columns[i].Field.Nullable && columns[i].HasNulls)
            {
                throw batch.Error($"the field is not nullable but holds {columns[i].NullCount} null(s)");
            }
        }

        return new Table(Schema, columns);
    }

    private void CheckCompression(FlatTable recordBatch, DataLocation location)
    {
        if (recordBatch.GetTable(RecordBatchSlot.Compression) is { } compression)
        {
            var codec = CompressionCodec.Name(compression.GetByte(0));
            throw new DataFormatException(
                ErrorCodes.DataUnsupported,
                $"the body is compressed with {codec}, which Strata does not read (field '{_columns.FirstOrDefault()?.Field.Name}' onwards); write it uncompressed",
                location);
        }
    }

    private Column ReadColumn(ArrowColumn column, BatchReader batch, int rows)
    {
        batch.NextNode(rows, out var nullCount);
        var validity = batch.Validity(rows, nullCount, out var nulls);
        if (column.DictionaryId is { } id)
        {
            return ReadDictionaryColumn(column, id, batch, rows, validity, nulls);
        }

        switch (column.Kind)
        {
            case ArrowKind.Bool:
            {
                var bits = batch.NextBuffer();
                batch.CheckLength(bits, Bitmap.ByteLength(rows), "values");
                var values = GC.AllocateUninitializedArray<bool>(rows);
                ArrowBits.Unpack(bits, values);
                return Finish(DataType.Bool, values, validity, nulls);
            }

            case ArrowKind.Int:
                return ReadInt(column, batch, rows, validity, nulls);
            case ArrowKind.Float when column.BitWidth == 16:
            {
                var values = new float[rows];
                TensorPrimitives.ConvertToSingle(batch.Fixed<Half>(rows), values);
                return Finish(DataType.Float32, values, validity, nulls);
            }

            case ArrowKind.Float when column.BitWidth == 32:
                return Finish(DataType.Float32, batch.Fixed<float>(rows).ToArray(), validity, nulls);
            case ArrowKind.Float:
                return Finish(DataType.Float64, batch.Fixed<double>(rows).ToArray(), validity, nulls);
            case ArrowKind.Timestamp:
                return ReadTimestamp(batch.Fixed<long>(rows).ToArray(), column.Unit, batch, validity, nulls);
            case ArrowKind.Date when column.Unit == DateUnit.Day:
            {
                var days = batch.Fixed<int>(rows);
                var values = new long[rows];
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = days[i];
                }

                return ReadTimestamp(values, TimeUnit.Second, batch, validity, nulls, Timestamp.MicrosPerDay);
            }

            case ArrowKind.Date:
                return ReadTimestamp(batch.Fixed<long>(rows).ToArray(), TimeUnit.Millisecond, batch, validity, nulls);
            case ArrowKind.Utf8 or ArrowKind.LargeUtf8:
                return ReadPlainStrings(batch.Strings(rows, column.Kind == ArrowKind.LargeUtf8), validity, nulls, batch);

            default:
                throw new InvalidOperationException($"unexpected kind {column.Kind}");
        }
    }

    private static Column ReadInt(ArrowColumn column, BatchReader batch, int rows, byte[]? validity, int nulls)
    {
        switch (column.BitWidth, column.Signed)
        {
            case (32, true):
                return Finish(DataType.Int32, batch.Fixed<int>(rows).ToArray(), validity, nulls);
            case (64, true):
                return Finish(DataType.Int64, batch.Fixed<long>(rows).ToArray(), validity, nulls);
            case (64, false):
            {
                var values = batch.Fixed<long>(rows).ToArray();
                if (validity is not null)
                {
                    ArrowBits.ZeroNulls<long>(values, validity);
                }

                // NOTE: a uint64 above long.MaxValue reads as negative here; valid rows must all fit int64.
                if (values.Length > 0 && TensorPrimitives.Min<long>(values) < 0)
                {
                    var row = Array.FindIndex(values, v => v < 0);
                    throw new DataFormatException(
                        ErrorCodes.DataOutOfRange, $"row {row} holds uint64 {(ulong)values[row]}, beyond int64", batch.Location);
                }

                return Finish(DataType.Int64, values, validity, nulls);
            }

            case (32, false):
            {
                var source = batch.Fixed<uint>(rows);
                var values = new long[rows];
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = source[i];
                }

                return Finish(DataType.Int64, values, validity, nulls);
            }

            default:
            {
                var values = new int[rows];
                switch (column.BitWidth, column.Signed)
                {
                    case (8, true): Widen(batch.Fixed<sbyte>(rows), values); break;
                    case (8, false): Widen(batch.Fixed<byte>(rows), values); break;
                    case (16, true): Widen(batch.Fixed<short>(rows), values); break;
                    default: Widen(batch.Fixed<ushort>(rows), values); break;
                }

                return Finish(DataType.Int32, values, validity, nulls);
            }
        }
    }

    private static void Widen<T>(ReadOnlySpan<T> source, Span<int> destination)
        where T : unmanaged, IBinaryInteger<T> => TensorPrimitives.ConvertTruncating(source, destination);

    /// <summary>Converts Arrow time units to UTC microseconds, refusing values outside years 1..9999.</summary>
    private static Column<long> ReadTimestamp(long[] values, short unit, BatchReader batch, byte[]? validity, int nulls, long? factorOverride = null)
    {
        if (validity is not null)
        {
            ArrowBits.ZeroNulls<long>(values, validity);
        }

        if (values.Length == 0)
        {
            return new Column<long>(DataType.Timestamp, values, 0, 0);
        }

        var (multiply, divide) = factorOverride is { } f
            ? (f, 1L)
            : unit switch
            {
                TimeUnit.Second => (Timestamp.MicrosPerSecond, 1L),
                TimeUnit.Millisecond => (1000L, 1L),
                TimeUnit.Microsecond => (1L, 1L),
                _ => (1L, 1000L),
            };

        // Check the extremes once; after that the conversion cannot overflow. Nanoseconds always fit (years 1677..2262).
        var min = TensorPrimitives.Min<long>(values);
        var max = TensorPrimitives.Max<long>(values);
        if (divide == 1 && (min < Timestamp.MinValue / multiply || max > Timestamp.MaxValue / multiply))
        {
            var row = Array.FindIndex(values, v => v < Timestamp.MinValue / multiply || v > Timestamp.MaxValue / multiply);
            throw new DataFormatException(
                ErrorCodes.DataOutOfRange, $"row {row} holds timestamp {values[row]} (unit {unit}), outside years 1..9999", batch.Location);
        }

        if (multiply != 1)
        {
            TensorPrimitives.Multiply(values, multiply, values);
        }
        else if (divide != 1)
        {
            for (var i = 0; i < values.Length; i++)
            {
                // Floor division, so instants before 1970 round towards the past like every other unit does.
                values[i] = Math.DivRem(values[i], divide, out var rem) - (rem < 0 ? 1 : 0);
            }
        }

        return new Column<long>(DataType.Timestamp, values, 0, values.Length, validity, 0, validity is null ? 0 : nulls);
    }

    private static Column<T> Finish<T>(DataType type, T[] values, byte[]? validity, int nulls)
        where T : unmanaged
    {
        if (validity is not null)
        {
            ArrowBits.ZeroNulls<T>(values, validity);
        }

        return new Column<T>(type, values, 0, values.Length, validity, 0, validity is null ? 0 : nulls);
    }

    private static StringColumn ReadPlainStrings(Utf8Values values, byte[]? validity, int nulls, BatchReader batch)
    {
        var rows = values.Count;
        var table = new Utf8StringTable();
        var codes = new int[rows];
        for (var i = 0; i < rows; i++)
        {
            if (validity is not null && !Bitmap.Get(validity, i))
            {
                continue;
            }

            var bytes = values[i];
            var before = table.Count;
            codes[i] = table.GetOrAdd(bytes);

            // Checking each distinct value once is enough: a repeat is byte-equal to a checked one.
            if (table.Count != before && !Utf8.IsValid(bytes))
            {
                throw new DataFormatException(ErrorCodes.DataEncoding, $"row {i} is not valid UTF-8", batch.Location);
            }
        }

        return new StringColumn(table.ToDictionary(), codes, 0, rows, validity, 0, validity is null ? 0 : nulls);
    }

    private StringColumn ReadDictionaryColumn(ArrowColumn column, long id, BatchReader batch, int rows, byte[]? validity, int nulls)
    {
        if (!_dictionaries.TryGetValue(id, out var dictionary))
        {
            throw batch.Error($"no dictionary batch with id {id} precedes the record batch");
        }

        var codes = ReadIndices(column, batch, rows);
        if (validity is not null)
        {
            ArrowBits.ZeroNulls<int>(codes, validity);
        }

        var count = dictionary.ArrowCount;
        if (rows > 0 && (count == 0 ? nulls != rows : TensorPrimitives.Max<uint>(MemoryMarshal.Cast<int, uint>(codes.AsSpan())) >= (uint)count))
        {
            var row = Enumerable.Range(0, rows).First(r => (validity is null || Bitmap.Get(validity, r)) && (uint)codes[r] >= (uint)count);
            throw batch.Error($"row {row} has dictionary index {codes[row]}, outside the {count}-value dictionary {id}");
        }

        if (!dictionary.Identity)
        {
            var map = dictionary.Map;
            for (var i = 0; i < codes.Length; i++)
            {
                var code = map[codes[i]];
                if (code < 0)
                {
                    // The dictionary holds a null there: the row is null.
                    if (validity is null)
                    {
                        validity = Bitmap.AllSet(rows);
                    }

                    if (Bitmap.Get(validity, i))
                    {
                        Bitmap.Clear(validity, i);
                        nulls++;
                    }

                    code = 0;
                }

                codes[i] = code;
            }
        }

        return new StringColumn(dictionary.Snapshot(), codes, 0, rows, validity, 0, validity is null ? 0 : nulls);
    }

    /// <summary>Dictionary indices of any integer width as int codes; values that do not fit int are left negative for the range check.</summary>
    private static int[] ReadIndices(ArrowColumn column, BatchReader batch, int rows)
    {
        if (column.IndexBitWidth == 32)
        {
            // Signed or not, an index at or beyond 2^31 is out of any dictionary: the unsigned range check catches it.
            return batch.Fixed<int>(rows).ToArray();
        }

        var codes = new int[rows];
        switch (column.IndexBitWidth, column.IndexSigned)
        {
            case (8, true): Widen(batch.Fixed<sbyte>(rows), codes); break;
            case (8, false): Widen(batch.Fixed<byte>(rows), codes); break;
            case (16, true): Widen(batch.Fixed<short>(rows), codes); break;
            case (16, false): Widen(batch.Fixed<ushort>(rows), codes); break;
            default:
            {
                var wide = batch.Fixed<long>(rows);
                for (var i = 0; i < codes.Length; i++)
                {
                    // Indices beyond int become -1, which the range check rejects (unless the row is null).
                    codes[i] = (ulong)wide[i] <= int.MaxValue ? (int)wide[i] : -1;
                }

                break;
            }
        }

        return codes;
    }

    /// <summary>Walks the nodes and buffers of one record batch in schema order.</summary>
    private sealed class BatchReader
    {
        private readonly FlatVector _nodes;
        private readonly FlatVector _buffers;
        private readonly ArrowMessage _message;
        private readonly string? _input;
        private int _node;
        private int _buffer;

        public BatchReader(FlatTable recordBatch, ArrowMessage message, string? input, string? field)
        {
            _message = message;
            _input = input;
            Field = field;
            _nodes = recordBatch.GetVector(RecordBatchSlot.Nodes, FieldNodeSize);
            _buffers = recordBatch.GetVector(RecordBatchSlot.Buffers, BufferSize);
            var length = recordBatch.GetInt64(RecordBatchSlot.Length);
            if (length < 0 || length > Array.MaxLength)
            {
                throw Error($"record count {length} is invalid");
            }

            Length = (int)length;
        }

        public int Length { get; }

        public string? Field { get; set; }

        public DataLocation Location => new(_input, ByteOffset: _message.BodyOffset, Column: Field);

        public DataFormatException Error(string detail) => new(ErrorCodes.DataMalformed, detail, Location);

        public void NextNode(int rows, out long nullCount)
        {
            if (_node >= _nodes.Count)
            {
                throw Error($"the batch describes {_nodes.Count} field node(s), fewer than the schema's fields");
            }

            var length = _nodes.Int64At(_node, 0);
            nullCount = _nodes.Int64At(_node, 8);
            _node++;
            if (length != rows)
            {
                throw Error($"field node has {length} rows, the batch has {rows}");
            }

            if (nullCount < 0 || nullCount > length)
            {
                throw Error($"null count {nullCount} is outside [0, {length}]");
            }
        }

        public ReadOnlySpan<byte> NextBuffer()
        {
            var (offset, length) = NextBufferRange();
            return _message.Body.AsSpan(offset, length);
        }

        public (int Offset, int Length) NextBufferRange()
        {
            if (_buffer >= _buffers.Count)
            {
                throw Error($"the batch describes {_buffers.Count} buffer(s), fewer than its fields need");
            }

            var offset = _buffers.Int64At(_buffer, 0);
            var length = _buffers.Int64At(_buffer, 8);
            _buffer++;
            if (offset < 0 || length < 0 || offset > _message.BodyLength - length)
            {
                throw Error($"buffer {_buffer - 1} at [{offset}, {offset} + {length}) lies outside the {_message.BodyLength}-byte body");
            }

            return ((int)offset, (int)length);
        }

        public void CheckLength(ReadOnlySpan<byte> buffer, long needed, string what)
        {
            if (buffer.Length < needed)
            {
                throw Error($"{what} buffer of {buffer.Length} bytes is shorter than the {needed} bytes {Length} rows need");
            }
        }

        /// <summary>The validity bitmap as a fresh array, or null when no row is null.</summary>
        public byte[]? Validity(int rows, long nullCount, out int nulls)
        {
            var buffer = NextBuffer();
            nulls = 0;
            if (nullCount == 0 || rows == 0)
            {
                return null;
            }

            CheckLength(buffer, Bitmap.ByteLength(rows), "validity");
            var bits = buffer[..Bitmap.ByteLength(rows)].ToArray();
            nulls = rows - Bitmap.CountSet(bits, 0, rows);
            return nulls == 0 ? null : bits;
        }

        /// <summary>The next buffer as <paramref name="rows"/> fixed-width values.</summary>
        public ReadOnlySpan<T> Fixed<T>(int rows)
            where T : unmanaged
        {
            var buffer = NextBuffer();
            var size = (long)rows * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            CheckLength(buffer, size, "values");
            return MemoryMarshal.Cast<byte, T>(buffer[..(int)size]);
        }

        /// <summary>The next two buffers as string offsets (int32, or int64 for LargeUtf8) and UTF-8 data, checked to be in bounds.</summary>
        public Utf8Values Strings(int rows, bool large)
        {
            var offsetBuffer = NextBuffer();
            var width = large ? 8 : 4;
            var offsets = new long[rows + 1];
            if (rows > 0)
            {
                CheckLength(offsetBuffer, ((long)rows + 1) * width, "offsets");
                for (var i = 0; i <= rows; i++)
                {
                    offsets[i] = large
                        ? BinaryPrimitives.ReadInt64LittleEndian(offsetBuffer[(i * 8)..])
                        : BinaryPrimitives.ReadInt32LittleEndian(offsetBuffer[(i * 4)..]);
                }
            }

            var (dataStart, dataLength) = NextBufferRange();
            if (offsets[0] < 0)
            {
                throw Error($"first offset {offsets[0]} is negative");
            }

            for (var i = 0; i < rows; i++)
            {
                if (offsets[i + 1] < offsets[i])
                {
                    throw Error($"offsets decrease at row {i} ({offsets[i]} then {offsets[i + 1]})");
                }
            }

            if (offsets[rows] > dataLength)
            {
                throw Error($"offsets end at byte {offsets[rows]}, past the {dataLength}-byte data buffer");
            }

            return new Utf8Values(_message.Body, dataStart, offsets);
        }
    }

    /// <summary>String values of a batch: checked offsets into the body.</summary>
    private readonly struct Utf8Values(byte[] body, int dataStart, long[] offsets)
    {
        public int Count => offsets.Length - 1;

        public ReadOnlySpan<byte> this[int index] => body.AsSpan(dataStart + (int)offsets[index], (int)(offsets[index + 1] - offsets[index]));
    }

    /// <summary>
    /// One dictionary id's values as read so far: unique UTF-8 values (Arrow allows duplicates, Strata does not) and the
    /// map from Arrow index to Strata code (-1 where the dictionary holds a null).
    /// </summary>
    private sealed class ReaderDictionary
    {
        private readonly Utf8StringTable _table = new();
        private int[] _map = new int[16];
        private StringDictionary? _snapshot;

        public int ArrowCount { get; private set; }

        public bool Identity { get; private set; } = true;

        public ReadOnlySpan<int> Map => _map.AsSpan(0, ArrowCount);

        public void Append(Utf8Values values, byte[]? validity, BatchReader batch)
        {
            var count = values.Count;
            if ((long)ArrowCount + count > Array.MaxLength)
            {
                throw new DataFormatException(ErrorCodes.DataLimit, "the dictionary's deltas add up to more values than an array holds", batch.Location);
            }

            if (ArrowCount + count > _map.Length)
            {
                Array.Resize(ref _map, Math.Max(ArrowCount + count, _map.Length * 2));
            }

            for (var i = 0; i < count; i++)
            {
                var index = ArrowCount + i;
                if (validity is not null && !Bitmap.Get(validity, i))
                {
                    _map[index] = -1;
                    Identity = false;
                    continue;
                }

                var bytes = values[i];
                var before = _table.Count;
                var code = _table.GetOrAdd(bytes);
                if (_table.Count != before && !Utf8.IsValid(bytes))
                {
                    throw new DataFormatException(ErrorCodes.DataEncoding, $"dictionary value {i} is not valid UTF-8", batch.Location);
                }

                _map[index] = code;
                Identity &= code == index;
            }

            ArrowCount += count;
            _snapshot = null;
        }

        public StringDictionary Snapshot() => _snapshot ??= _table.ToDictionary();
    }
}
