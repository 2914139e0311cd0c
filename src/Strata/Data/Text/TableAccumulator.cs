using System.Runtime.CompilerServices;

namespace Strata.Data.Text;

/// <summary>
/// Builds the whole table while chunks arrive in order: each chunk's values are copied into growing final arrays and
/// its pooled arrays go straight back to the pool, so memory holds the table plus a few chunks, not the table twice.
/// A column's type widens as chunks show more (int64 → float64 in place); when a column turns out to be string after
/// other kinds were stored, the earlier chunks are read again from the input for that column only.
/// </summary>
internal sealed class TableAccumulator
{
    /// <summary>Re-reads a chunk with the named columns forced to string and every other column skipped.</summary>
    public delegate Task<ChunkResult> Reparser(ChunkResult chunk, IReadOnlySet<string> asString, CancellationToken cancellationToken);

    private readonly string _input;
    private readonly Schema? _declared;
    private readonly Reparser _reparse;
    private readonly ReadReport _report;
    private readonly long _inputBytes;
    private readonly long _maxRows;
    private readonly List<ColumnAccumulator> _columns = [];
    private readonly Dictionary<string, ColumnAccumulator> _byName = new(StringComparer.Ordinal);
    private readonly List<ChunkResult> _history = []; // chunk positions (their builders are released), for re-reads
    private int _capacity;

    public TableAccumulator(string input, Schema? declared, long inputBytes, long maxRows, Reparser reparse, ReadReport report)
    {
        _input = input;
        _declared = declared;
        _inputBytes = inputBytes;
        _maxRows = maxRows;
        _reparse = reparse;
        _report = report;
    }

    public int Rows { get; private set; }

    /// <summary>Column names in order of first appearance.</summary>
    public IEnumerable<string> Columns => _columns.Select(c => c.Name);

    public async Task AddAsync(ChunkResult chunk, CancellationToken cancellationToken)
    {
        if ((long)Rows + chunk.RowCount > Array.MaxLength)
        {
            throw new DataFormatException(ErrorCodes.DataLimit, $"more than {Array.MaxLength} rows; read it in batches instead", new DataLocation(_input, chunk.FirstLine));
        }

        if (_capacity == 0)
        {
            // Size the final arrays from the first chunk's bytes per row, so they rarely grow (and are touched once).
            var perRow = chunk.RowCount == 0 ? 64.0 : Math.Max(1.0, (double)chunk.Length / chunk.RowCount);
            _capacity = (int)Math.Clamp(Math.Min(_maxRows, (_inputBytes / perRow * 1.05) + 1024), 1024, Array.MaxLength);
        }

        for (var c = 0; c < chunk.Names.Count; c++)
        {
            if (!_byName.ContainsKey(chunk.Names[c]))
            {
                AddColumn(chunk.Names[c]);
            }
        }

        HashSet<string>? reparseThis = null;
        foreach (var column in _columns)
        {
            var i = chunk.IndexOf(column.Name);
            var builder = i >= 0 ? chunk.Columns[i] : null;
            var kind = builder?.Kind ?? ValueKind.Null;
            if (kind == ValueKind.Null || column.Declared is not null)
            {
                continue;
            }

            var joined = ValueKinds.Join(column.Kind, kind);
            if (joined != ValueKind.String)
            {
                continue;
            }

            if (column.Kind is not ValueKind.Null and not ValueKind.String)
            {
                // Earlier chunks stored another kind: the column starts again as text, re-read from the input.
                if (kind != ValueKind.String && _report.ConflictColumns.Add(column.Name))
                {
                    _report.Warn(
                        $"{_input}: column '{column.Name}' holds {ValueKinds.Describe(column.Kind)} values (from line {column.FirstValueLine}) and " +
                        $"{ValueKinds.Describe(kind)} values (from line {chunk.FirstLine}); it is read as string");
                }

                await RereadAsStringAsync(column, cancellationToken).ConfigureAwait(false);
            }

            if (builder!.StorageKind != ValueKind.String)
            {
                (reparseThis ??= new HashSet<string>(StringComparer.Ordinal)).Add(column.Name);
            }
        }

        ChunkResult? again = null;
        if (reparseThis is not null)
        {
            again = await _reparse(chunk, reparseThis, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            foreach (var column in _columns)
            {
                var source = again is not null && reparseThis!.Contains(column.Name) ? again : chunk;
                var i = source.IndexOf(column.Name);
                var builder = i >= 0 ? source.Columns[i] : null;
                if (builder is null || builder.Kind == ValueKind.Null)
                {
                    column.AppendNulls(chunk.RowCount, _capacity);
                }
                else
                {
                    if (column.Kind == ValueKind.Null)
                    {
                        column.FirstValueLine = chunk.FirstLine;
                    }

                    column.Append(builder, _capacity);
                }
            }
        }
        finally
        {
            again?.Dispose();
        }

        Rows += chunk.RowCount;
        chunk.Dispose();
        _history.Add(chunk);
    }

    /// <summary>The table: columns in order of first appearance (or <paramref name="order"/>), declared fields as declared.</summary>
    public Table Build(IReadOnlyList<string> order)
    {
        foreach (var name in order)
        {
            if (!_byName.ContainsKey(name))
            {
                AddColumn(name);
            }
        }

        var columns = order.Select(n => _byName[n]).ToArray();
        var fields = new Field[columns.Length];
        var built = new Column[columns.Length];
        for (var c = 0; c < columns.Length; c++)
        {
            var column = columns[c];
            column.AppendNulls(Rows - column.Count, Math.Max(_capacity, Rows));
            var type = column.Declared?.Type ?? ValueKinds.ToDataType(column.Kind);
            fields[c] = column.Declared ?? new Field(column.Name, type);
            built[c] = column.Build(type);
        }

        return new Table(new Schema(fields), built);
    }

    private void AddColumn(string name)
    {
        var declared = _declared?.TryIndexOf(name) is >= 0 and var d ? _declared[d] : null;
        var column = new ColumnAccumulator(name, declared);
        column.AppendNulls(Rows, Math.Max(_capacity, Rows));
        _columns.Add(column);
        _byName[name] = column;
    }

    private async Task RereadAsStringAsync(ColumnAccumulator column, CancellationToken cancellationToken)
    {
        column.RestartAsString();
        var only = new HashSet<string>(StringComparer.Ordinal) { column.Name };
        foreach (var past in _history)
        {
            using var again = await _reparse(past, only, cancellationToken).ConfigureAwait(false);
            var i = again.IndexOf(column.Name);
            if (i >= 0 && again.Columns[i] is { Kind: not ValueKind.Null } builder)
            {
                column.Append(builder, _capacity);
            }
            else
            {
                column.AppendNulls(past.RowCount, _capacity);
            }
        }
    }

    /// <summary>One column's final arrays, grown as chunks arrive.</summary>
    private sealed class ColumnAccumulator(string name, Field? declared)
    {
        private bool[]? _bools;
        private int[]? _ints;
        private long[]? _longs;
        private float[]? _floats;
        private double[]? _doubles;
        private int[]? _codes;
        private Utf8StringTable? _strings;
        private byte[]? _validity;
        private int _nulls;

        public string Name { get; } = name;

        public Field? Declared { get; } = declared;

        /// <summary>What the stored values are: Null (none yet), or the storage kind.</summary>
        public ValueKind Kind { get; private set; } = declared is null ? ValueKind.Null : ValueKinds.StorageOf(declared.Type);

        public long FirstValueLine { get; set; }

        public int Count { get; private set; }

        public void RestartAsString()
        {
            _longs = null;
            _doubles = null;
            _bools = null;
            _codes = null;
            _strings = null;
            _validity = null;
            _nulls = 0;
            Count = 0;
            Kind = ValueKind.String;
        }

        public void AppendNulls(int rows, int capacity)
        {
            if (rows <= 0)
            {
                return;
            }

            EnsureValidity(Count + rows, capacity);
            EnsureValues(Count + rows, capacity);
            Count += rows; // bits stay 0 (null) and values stay default in fresh array space
            _nulls += rows;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Append(ColumnChunkBuilder builder, int capacity)
        {
            var rows = builder.Count;
            if (Kind == ValueKind.Null)
            {
                Kind = builder.StorageKind;
            }
            else if (Kind != builder.StorageKind && !(Kind == ValueKind.Float64 && builder.StorageKind == ValueKind.Int64) && !(Kind == ValueKind.Int64 && builder.StorageKind == ValueKind.Float64 && Declared is null))
            {
                // Only possible when a second pass sees other values than the first: the input changed underneath.
                throw new DataFormatException(ErrorCodes.DataMalformed, "the input changed while it was being read", new DataLocation(null, Column: Name));
            }
            else if (Kind == ValueKind.Int64 && builder.StorageKind == ValueKind.Float64 && Declared is null)
            {
                WidenToFloat64();
            }

            EnsureValues(Count + rows, capacity);
            var type = Declared?.Type ?? ValueKinds.ToDataType(Kind);
            switch (type)
            {
                case DataType.Bool:
                    builder.Bools.CopyTo(_bools.AsSpan(Count));
                    break;
                case DataType.Int32:
                    NarrowInt32(builder.Longs, _ints.AsSpan(Count, rows));
                    break;
                case DataType.Int64 or DataType.Timestamp:
                    builder.Longs.CopyTo(_longs.AsSpan(Count));
                    break;
                case DataType.Float32:
                    NarrowFloat32(builder.Doubles, _floats.AsSpan(Count, rows));
                    break;
                case DataType.Float64:
                    CopyAsDouble(builder, _doubles.AsSpan(Count, rows));
                    break;
                default:
                    AppendStrings(builder);
                    break;
            }

            if (builder.Validity is { } bits)
            {
                EnsureValidity(Count + rows, capacity);
                Bitmap.CopyBits(bits, 0, _validity, Count, rows);
                _nulls += builder.NullCount;
            }
            else if (_validity is not null)
            {
                EnsureValidity(Count + rows, capacity);
                SetRange(_validity, Count, rows);
            }

            Count += rows;
        }

        public Column Build(DataType type)
        {
            if (Kind == ValueKind.Null)
            {
                Kind = ValueKinds.StorageOf(type); // only nulls (or no rows): the arrays are all defaults
            }

            var validity = _nulls == 0 ? null : _validity;
            EnsureValues(Count, Count);
            return type switch
            {
                DataType.Bool => new Column<bool>(type, _bools!, 0, Count, validity, 0, _nulls),
                DataType.Int32 => new Column<int>(type, _ints!, 0, Count, validity, 0, _nulls),
                DataType.Int64 or DataType.Timestamp => new Column<long>(type, _longs!, 0, Count, validity, 0, _nulls),
                DataType.Float32 => new Column<float>(type, _floats!, 0, Count, validity, 0, _nulls),
                DataType.Float64 => new Column<double>(type, _doubles!, 0, Count, validity, 0, _nulls),
                _ => new StringColumn((_strings ?? new Utf8StringTable(1)).ToDictionary(), _codes!, 0, Count, validity, 0, _nulls),
            };
        }

        private void AppendStrings(ColumnChunkBuilder builder)
        {
            _strings ??= new Utf8StringTable(64);
            var chunkStrings = builder.Strings!;
            var map = new int[Math.Max(1, chunkStrings.Count)];
            for (var code = 0; code < chunkStrings.Count; code++)
            {
                map[code] = _strings.GetOrAdd(chunkStrings[code]);
            }

            var source = builder.Codes;
            var target = _codes.AsSpan(Count, source.Length);
            for (var i = 0; i < source.Length; i++)
            {
                target[i] = map[source[i]];
            }

            if (builder.Validity is { } bits)
            {
                // Null rows hold the chunk's code 0, which maps elsewhere; restore the invariant.
                for (var i = 0; i < source.Length; i++)
                {
                    if (!Bitmap.Get(bits, i))
                    {
                        target[i] = 0;
                    }
                }
            }
        }

        private void WidenToFloat64()
        {
            var doubles = new double[_longs!.Length];
            for (var i = 0; i < Count; i++)
            {
                doubles[i] = _longs[i];
            }

            _longs = null;
            _doubles = doubles;
            Kind = ValueKind.Float64;
        }

        private void EnsureValues(int needed, int capacity)
        {
            var type = Declared?.Type ?? ValueKinds.ToDataType(Kind);
            if (Kind == ValueKind.Null && Declared is null)
            {
                return; // no values yet: nulls are counted, arrays come with the first value
            }

            switch (type)
            {
                case DataType.Bool: Grow(ref _bools, needed, capacity); break;
                case DataType.Int32: Grow(ref _ints, needed, capacity); break;
                case DataType.Int64 or DataType.Timestamp: Grow(ref _longs, needed, capacity); break;
                case DataType.Float32: Grow(ref _floats, needed, capacity); break;
                case DataType.Float64: Grow(ref _doubles, needed, capacity); break;
                default: Grow(ref _codes, needed, capacity); break;
            }
        }

        private void EnsureValidity(int needed, int capacity)
        {
            if (_validity is null)
            {
                _validity = new byte[Bitmap.ByteLength(Math.Max(needed, capacity))];
                SetRange(_validity, 0, Count);
            }
            else if (Bitmap.ByteLength(needed) > _validity.Length)
            {
                Array.Resize(ref _validity, Bitmap.ByteLength(Math.Max(needed, (int)Math.Min(Array.MaxLength, _validity.Length * 8L * 3 / 2))));
            }
        }

        private static void Grow<T>(ref T[]? array, int needed, int capacity)
        {
            if (array is null)
            {
                array = new T[Math.Max(needed, capacity)];
            }
            else if (needed > array.Length)
            {
                Array.Resize(ref array, (int)Math.Min(Array.MaxLength, Math.Max(needed, array.Length * 3L / 2)));
            }
        }
    }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void CopyAsDouble(ColumnChunkBuilder builder, Span<double> destination)
        {
            if (builder.StorageKind == ValueKind.Float64)
            {
                builder.Doubles.CopyTo(destination);
                return;
            }

            var longs = builder.Longs;
            for (var i = 0; i < longs.Length; i++)
            {
                destination[i] = longs[i];
            }
        }

        private static void NarrowInt32(ReadOnlySpan<long> source, Span<int> destination)
        {
            for (var i = 0; i < source.Length; i++)
            {
                destination[i] = (int)source[i];
            }
        }

        private static void NarrowFloat32(ReadOnlySpan<double> source, Span<float> destination)
        {
            for (var i = 0; i < source.Length; i++)
            {
                destination[i] = (float)source[i];
            }
        }

        private static void SetRange(byte[] bits, int start, int count)
        {
            var i = start;
            var end = start + count;
            while (i < end && (i & 7) != 0)
            {
                Bitmap.Set(bits, i++);
            }

            var wholeBytes = (end - i) >> 3;
            bits.AsSpan(i >> 3, wholeBytes).Fill(0xFF);
            i += wholeBytes << 3;
            while (i < end)
            {
                Bitmap.Set(bits, i++);
            }
        }
}
