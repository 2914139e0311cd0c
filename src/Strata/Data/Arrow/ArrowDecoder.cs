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

    /// <summary>
    /// The number of rows a record batch message declares, checked against its body: every column needs some bytes per
    /// row, so a count the body cannot hold is refused before any array is sized for it.
    /// </summary>
    public int RowCount(ArrowMessage message)
    {
        var batch = new BatchReader(message.Header, message, _input, null);
        var rows = batch.Length;
        foreach (var column in _columns)
        {
            var needed = MinimumBytes(column, rows);
            if (needed > message.BodyLength)
            {
                batch.Field = column.Field.Name;
                throw batch.Error($"{rows} rows need at least {needed} bytes, more than the {message.BodyLength}-byte body");
            }
        }

        return rows;
    }

    private static long MinimumBytes(ArrowColumn column, long rows) => column switch
    {
        { DictionaryId: not null } => rows * column.IndexBitWidth / 8,
        { Kind: ArrowKind.Bool } => (rows + 7) / 8,
        { Kind: ArrowKind.Utf8 } => rows == 0 ? 0 : (rows + 1) * 4,
        { Kind: ArrowKind.LargeUtf8 } => rows == 0 ? 0 : (rows + 1) * 8,
        { Kind: ArrowKind.Date, Unit: DateUnit.Day } => rows * 4,
        { Kind: ArrowKind.Timestamp or ArrowKind.Date } => rows * 8,
        _ => rows * column.BitWidth / 8,
    };

    /// <summary>Decodes a record batch into a table of its own.</summary>
    public Table ReadRecordBatch(ArrowMessage message)
    {
        var rows = RowCount(message);
        var sink = new TableSink(this, rows);
        ReadRecordBatch(message, sink, 0, rows);
        return sink.Build();
    }

    /// <summary>
    /// Decodes a record batch into rows [<paramref name="at"/>, at + <paramref name="rows"/>) of <paramref name="sink"/>;
    /// the batch must have exactly that many rows, since the sink's arrays start uninitialized. Columns the sink has no
    /// array for are skipped.
    /// </summary>
    public void ReadRecordBatch(ArrowMessage message, TableSink sink, int at, int rows)
    {
        var header = message.Header;
        CheckCompression(header, new DataLocation(_input, ByteOffset: message.BodyOffset));
        var batch = new BatchReader(header, message, _input, null);
        if (batch.Length != rows || at < 0 || rows > sink.RowCount - at)
        {
            throw batch.Error($"the batch has {batch.Length} rows, not the {rows} its header promised (did the file change while being read?)");
        }

        for (var i = 0; i < _columns.Length; i++)
        {
            batch.Field = _columns[i].Field.Name;
            if (sink.Values[i] is null)
            {
                Skip(_columns[i], batch, rows);
                continue;
            }

            ReadColumn(_columns[i], batch, rows, sink, i, at);
        }
    }

    /// <summary>Steps over a column's node and buffers (validity, then indices or values, or offsets and data).</summary>
    private static void Skip(ArrowColumn column, BatchReader batch, int rows)
    {
        batch.NextNode(rows, out _);
        var buffers = column is { Kind: ArrowKind.Utf8 or ArrowKind.LargeUtf8, DictionaryId: null } ? 3 : 2;
        for (var b = 0; b < buffers; b++)
        {
            batch.NextBufferRange();
        }
    }

    private void CheckCompression(FlatTable recordBatch, DataLocation location)
    {
        if (recordBatch.GetTable(RecordBatchSlot.Compression) is { } compression)
        {
            var codec = CompressionCodec.Name(compression.GetByte(0));
            throw new DataFormatException(
                ErrorCodes.DataUnsupported,
                $"the body is compressed with {codec}, which Strata does not read (field '{_columns.FirstOrDefault()?.Field.Name}' onwards); "
                + "write the file uncompressed (pyarrow: compression='uncompressed')",
                location);
        }
    }

    private void ReadColumn(ArrowColumn column, BatchReader batch, int rows, TableSink sink, int index, int at)
    {
        batch.NextNode(rows, out var nullCount);
        var validity = batch.Validity(rows, nullCount, out var nulls);
        var values = sink.Values[index]!;
        var to = sink.Offset + at; // where the batch's rows go in the arrays
        switch (column.Kind)
        {
            case ArrowKind.Utf8 or ArrowKind.LargeUtf8 when column.DictionaryId is { } id:
                ReadDictionaryCodes(column, id, batch, rows, ((int[])values).AsSpan(to, rows), ref validity, ref nulls, sink, index);
                break;
            case ArrowKind.Utf8 or ArrowKind.LargeUtf8:
                ReadPlainStrings(batch.Strings(rows, column.Kind == ArrowKind.LargeUtf8), validity, ((int[])values).AsSpan(to, rows), sink.PlainStrings(index), batch);
                break;
            case ArrowKind.Bool:
            {
                var bits = batch.NextBuffer();
                batch.CheckLength(bits, Bitmap.ByteLength(rows), "values");
                ArrowBits.Unpack(bits, ((bool[])values).AsSpan(to, rows));
                break;
            }

            case ArrowKind.Int:
                ReadInt(column, batch, rows, values, to, validity);
                break;
            case ArrowKind.Float when column.BitWidth == 16:
                TensorPrimitives.ConvertToSingle(batch.Fixed<Half>(rows), ((float[])values).AsSpan(to, rows));
                break;
            case ArrowKind.Float when column.BitWidth == 32:
                batch.Fixed<float>(rows).CopyTo(((float[])values).AsSpan(to, rows));
                break;
            case ArrowKind.Float:
                batch.Fixed<double>(rows).CopyTo(((double[])values).AsSpan(to, rows));
                break;
            case ArrowKind.Timestamp:
            {
                var target = ((long[])values).AsSpan(to, rows);
                batch.Fixed<long>(rows).CopyTo(target);
                ConvertTimestamps(target, column.Unit, batch, validity);
                break;
            }

            case ArrowKind.Date when column.Unit == DateUnit.Day:
            {
                var target = ((long[])values).AsSpan(to, rows);
                var days = batch.Fixed<int>(rows);
                for (var i = 0; i < target.Length; i++)
                {
                    target[i] = days[i];
                }

                ConvertTimestamps(target, TimeUnit.Second, batch, validity, Timestamp.MicrosPerDay);
                break;
            }

            case ArrowKind.Date:
            {
                var target = ((long[])values).AsSpan(to, rows);
                batch.Fixed<long>(rows).CopyTo(target);
                ConvertTimestamps(target, TimeUnit.Millisecond, batch, validity);
                break;
            }

            default:
                throw new InvalidOperationException($"unexpected kind {column.Kind}");
        }

        if (validity is not null)
        {
            if (!column.Field.Nullable)
            {
                throw batch.Error($"the field is not nullable but holds {nulls} null(s)");
            }

            ZeroNulls(values, to, rows, validity);
        }

        sink.AddValidity(index, at, rows, validity, nulls);
    }

    private static void ZeroNulls(Array values, int at, int rows, byte[] validity)
    {
        switch (values)
        {
            case bool[] b: ArrowBits.ZeroNulls(b.AsSpan(at, rows), validity); break;
            case int[] i: ArrowBits.ZeroNulls(i.AsSpan(at, rows), validity); break;
            case long[] l: ArrowBits.ZeroNulls(l.AsSpan(at, rows), validity); break;
            case float[] f: ArrowBits.ZeroNulls(f.AsSpan(at, rows), validity); break;
            case double[] d: ArrowBits.ZeroNulls(d.AsSpan(at, rows), validity); break;
        }
    }

    private static void ReadInt(ArrowColumn column, BatchReader batch, int rows, Array values, int at, byte[]? validity)
    {
        switch (column.BitWidth, column.Signed)
        {
            case (32, true):
                batch.Fixed<int>(rows).CopyTo(((int[])values).AsSpan(at, rows));
                break;
            case (64, true):
                batch.Fixed<long>(rows).CopyTo(((long[])values).AsSpan(at, rows));
                break;
            case (64, false):
            {
                var target = ((long[])values).AsSpan(at, rows);
                batch.Fixed<long>(rows).CopyTo(target);
                if (validity is not null)
                {
                    ArrowBits.ZeroNulls(target, validity);
                }

                // NOTE: a uint64 above long.MaxValue reads as negative here; valid rows must all fit int64.
                if (target.Length > 0 && TensorPrimitives.Min<long>(target) < 0)
                {
                    var row = target.IndexOfAnyInRange(long.MinValue, -1);
                    throw new DataFormatException(
                        ErrorCodes.DataOutOfRange, $"row {row} holds uint64 {(ulong)target[row]}, beyond int64", batch.Location);
                }

                break;
            }

            case (32, false):
            {
                var target = ((long[])values).AsSpan(at, rows);
                var source = batch.Fixed<uint>(rows);
                for (var i = 0; i < target.Length; i++)
                {
                    target[i] = source[i];
                }

                break;
            }

            default:
            {
                var target = ((int[])values).AsSpan(at, rows);
                switch (column.BitWidth, column.Signed)
                {
                    case (8, true): Widen(batch.Fixed<sbyte>(rows), target); break;
                    case (8, false): Widen(batch.Fixed<byte>(rows), target); break;
                    case (16, true): Widen(batch.Fixed<short>(rows), target); break;
                    default: Widen(batch.Fixed<ushort>(rows), target); break;
                }

                break;
            }
        }
    }

    private static void Widen<T>(ReadOnlySpan<T> source, Span<int> destination)
        where T : unmanaged, IBinaryInteger<T> => TensorPrimitives.ConvertTruncating(source, destination);

    /// <summary>Converts Arrow time units to UTC microseconds in place, refusing values outside years 1..9999.</summary>
    private static void ConvertTimestamps(Span<long> values, short unit, BatchReader batch, byte[]? validity, long? factorOverride = null)
    {
        if (validity is not null)
        {
            ArrowBits.ZeroNulls(values, validity);
        }

        if (values.Length == 0)
        {
            return;
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
        var low = Timestamp.MinValue / multiply;
        var high = Timestamp.MaxValue / multiply;
        if (divide == 1 && (TensorPrimitives.Min<long>(values) < low || TensorPrimitives.Max<long>(values) > high))
        {
            var row = values.IndexOfAnyExceptInRange(low, high);
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
    }

    private static void ReadPlainStrings(Utf8Values values, byte[]? validity, Span<int> codes, Utf8StringTable table, BatchReader batch)
    {
        for (var i = 0; i < codes.Length; i++)
        {
            if (validity is not null && !Bitmap.Get(validity, i))
            {
                codes[i] = 0;
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
    }

    private void ReadDictionaryCodes(
        ArrowColumn column, long id, BatchReader batch, int rows, Span<int> codes, ref byte[]? validity, ref int nulls, TableSink sink, int index)
    {
        if (!_dictionaries.TryGetValue(id, out var dictionary))
        {
            throw batch.Error($"no dictionary batch with id {id} precedes the record batch");
        }

        ReadIndices(column, batch, rows, codes);
        if (validity is not null)
        {
            ArrowBits.ZeroNulls(codes, validity);
        }

        var count = dictionary.ArrowCount;
        if (rows > 0 && (count == 0 ? nulls != rows : TensorPrimitives.Max<uint>(MemoryMarshal.Cast<int, uint>(codes)) >= (uint)count))
        {
            var row = 0;
            while ((validity is not null && !Bitmap.Get(validity, row)) || (uint)codes[row] < (uint)count)
            {
                row++;
            }

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
                    validity ??= Bitmap.AllSet(rows);
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

        sink.SetDictionary(index, dictionary.Snapshot());
    }

    /// <summary>Dictionary indices of any integer width as int codes; values beyond int become -1, which the range check rejects.</summary>
    private static void ReadIndices(ArrowColumn column, BatchReader batch, int rows, Span<int> codes)
    {
        switch (column.IndexBitWidth, column.IndexSigned)
        {
            // Signed or not, a 32-bit index at or beyond 2^31 is out of any dictionary: the unsigned range check catches it.
            case (32, _): batch.Fixed<int>(rows).CopyTo(codes); break;
            case (8, true): Widen(batch.Fixed<sbyte>(rows), codes); break;
            case (8, false): Widen(batch.Fixed<byte>(rows), codes); break;
            case (16, true): Widen(batch.Fixed<short>(rows), codes); break;
            case (16, false): Widen(batch.Fixed<ushort>(rows), codes); break;
            default:
            {
                var wide = batch.Fixed<long>(rows);
                for (var i = 0; i < codes.Length; i++)
                {
                    codes[i] = (ulong)wide[i] <= int.MaxValue ? (int)wide[i] : -1;
                }

                break;
            }
        }
    }

    /// <summary>
    /// Where decoded rows go: arrays for every row of one batch, or of a whole file so batches decode in place without a
    /// later concatenation. Builds the table at the end.
    /// </summary>
    internal sealed class TableSink
    {
        private readonly ArrowDecoder _decoder;
        private readonly Utf8StringTable?[] _plainStrings;
        private readonly StringDictionary?[] _dictionaries;
        private readonly byte[]?[] _validity;
        private readonly int[] _nulls;

        public TableSink(ArrowDecoder decoder, int rows)
            : this(decoder, rows, new Array?[decoder._columns.Length], 0)
        {
            var columns = decoder._columns;
            for (var i = 0; i < columns.Length; i++)
            {
                Values[i] = columns[i].Field.Type switch
                {
                    DataType.Bool => GC.AllocateUninitializedArray<bool>(rows),
                    DataType.Int32 or DataType.String => GC.AllocateUninitializedArray<int>(rows),
                    DataType.Int64 or DataType.Timestamp => GC.AllocateUninitializedArray<long>(rows),
                    DataType.Float32 => GC.AllocateUninitializedArray<float>(rows),
                    _ => GC.AllocateUninitializedArray<double>(rows),
                };
            }

        }

        /// <summary>
        /// A sink writing into arrays it does not own, from position <paramref name="offset"/> on: one file's share of a
        /// table read from several. A null array skips that column.
        /// </summary>
        public TableSink(ArrowDecoder decoder, int rows, Array?[] values, int offset)
        {
            _decoder = decoder;
            RowCount = rows;
            Values = values;
            Offset = offset;
            var columns = decoder._columns.Length;
            _plainStrings = new Utf8StringTable?[columns];
            _dictionaries = new StringDictionary?[columns];
            _validity = new byte[]?[columns];
            _nulls = new int[columns];
        }

        public int RowCount { get; }

        public Array?[] Values { get; }

        /// <summary>Where this sink's row 0 lies in <see cref="Values"/>.</summary>
        public int Offset { get; }

        public Utf8StringTable PlainStrings(int index) => _plainStrings[index] ??= new Utf8StringTable();

        /// <summary>Records the dictionary a batch's codes refer to. Deltas only append, so the latest covers every earlier batch.</summary>
        public void SetDictionary(int index, StringDictionary dictionary) => _dictionaries[index] = dictionary;

        public void AddValidity(int index, int at, int rows, byte[]? bits, int nulls)
        {
            if (bits is null || nulls == 0)
            {
                return;
            }

            if (at == 0 && rows == RowCount)
            {
                _validity[index] = bits;
            }
            else
            {
                // Rows of batches without nulls stay set.
                var all = _validity[index] ??= Bitmap.AllSet(RowCount);
                Bitmap.CopyBits(bits, 0, all, at, rows);
            }

            _nulls[index] += nulls;
        }

        /// <summary>Column <paramref name="index"/>'s validity over this sink's rows (null when none is null) and null count.</summary>
        public (byte[]? Bits, int Nulls) Validity(int index) => (_validity[index], _nulls[index]);

        /// <summary>The dictionary column <paramref name="index"/>'s codes refer to.</summary>
        public StringDictionary Dictionary(int index) => _dictionaries[index] ?? _plainStrings[index]?.ToDictionary() ?? StringDictionary.Empty;

        public Table Build()
        {
            var columns = new Column[Values.Length];
            for (var i = 0; i < columns.Length; i++)
            {
                var type = _decoder._columns[i].Field.Type;
                var (bits, nulls) = (_validity[i], _nulls[i]);
                columns[i] = Values[i] switch
                {
                    bool[] b => new Column<bool>(type, b, 0, RowCount, bits, 0, nulls),
                    int[] codes when type == DataType.String => new StringColumn(Dictionary(i), codes, 0, RowCount, bits, 0, nulls),
                    int[] n => new Column<int>(type, n, 0, RowCount, bits, 0, nulls),
                    long[] l => new Column<long>(type, l, 0, RowCount, bits, 0, nulls),
                    float[] f => new Column<float>(type, f, 0, RowCount, bits, 0, nulls),
                    double[] d => new Column<double>(type, d, 0, RowCount, bits, 0, nulls),
                    _ => throw new InvalidOperationException("unexpected column storage"),
                };
            }

            return new Table(_decoder.Schema, columns);
        }
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
            return _message.Body.AsSpan(_message.BodyStart + offset, length);
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
            if (rows > 0)
            {
                CheckLength(offsetBuffer, ((long)rows + 1) * (large ? 8 : 4), "offsets");
            }

            var offsets = new long[rows + 1];
            if (rows > 0)
            {
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

            return new Utf8Values(_message.Body, _message.BodyStart + dataStart, offsets);
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
