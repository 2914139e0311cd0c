using System.Runtime.CompilerServices;
using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using Strata.Data.Text;

namespace Strata.Data.Csv;

/// <summary>
/// Tokenizes one chunk of CSV (RFC 4180: quoted fields, doubled quotes, embedded newlines, CRLF) and appends each field
/// straight into its column's builder, so the bytes are walked once.
/// </summary>
internal sealed class CsvChunkParser
{
    private readonly string _input;
    private readonly byte _delimiter;
    private readonly string[] _names;
    private readonly CsvReadOptions _options;
    private readonly byte[][] _nullTokens;
    private readonly int _maxNullToken;
    private readonly bool[] _nullTokenFirstByte = new bool[256];
    private readonly Field?[] _declared;
    private int _bytesPerRow = 64;

    public CsvChunkParser(string input, CsvDialect dialect, CsvReadOptions options)
    {
        _input = input;
        _delimiter = dialect.Delimiter;
        _names = dialect.Names;
        _options = options;
        _nullTokens = options.NullValues.Where(v => v.Length > 0).Select(Encoding.UTF8.GetBytes).ToArray();
        _maxNullToken = _nullTokens.Length == 0 ? 0 : _nullTokens.Max(t => t.Length);
        foreach (var token in _nullTokens)
        {
            _nullTokenFirstByte[token[0]] = true;
        }
        _declared = _names.Select(n => options.Schema?.TryIndexOf(n) is >= 0 and var i ? options.Schema[i] : null).ToArray();
    }

    public IReadOnlyList<string> Names => _names;

    /// <summary>
    /// Parses a chunk. A column whose values contradict the kind inferred so far is re-read as string in a second pass
    /// over the chunk (at most one extra pass, covering every such column).
    /// </summary>
    public ChunkResult Parse(int index, ReadOnlySpan<byte> data, long fileOffset, long firstLine, ColumnPlan[] plans)
    {
        var counters = new ChunkCounters();
        var capacity = (int)Math.Min(data.Length / Math.Max(8, Volatile.Read(ref _bytesPerRow)) * 1.2 + 64, 1 << 24);
        var builders = Create(plans, capacity);
        var poisoned = ParseInto(data, firstLine, builders, counters, out var rows);
        if (poisoned is not null)
        {
            // Second pass: counts start again, the conflicts that caused it are kept for the report.
            Dispose(builders);
            var conflicts = counters.Conflicts;
            counters = new ChunkCounters();
            counters.Conflicts.AddRange(conflicts);
            var again = new ColumnPlan[plans.Length];
            for (var i = 0; i < plans.Length; i++)
            {
                again[i] = plans[i].Clone();
                if (poisoned[i])
                {
                    again[i].StartKind = ValueKind.String;
                }
            }

            builders = Create(again, capacity);
            if (ParseInto(data, firstLine, builders, counters, out rows) is not null)
            {
                Dispose(builders);
                throw new InvalidOperationException("a column read as string cannot conflict");
            }
        }

        if (rows > 0)
        {
            Volatile.Write(ref _bytesPerRow, Math.Max(1, data.Length / rows));
        }

        return new ChunkResult(index, fileOffset, data.Length, firstLine, [.. _names], [.. builders], rows, counters);
    }

    private static ColumnChunkBuilder?[] Create(ColumnPlan[] plans, int capacity)
    {
        var builders = new ColumnChunkBuilder?[plans.Length];
        for (var i = 0; i < plans.Length; i++)
        {
            builders[i] = plans[i].Skip ? null : new ColumnChunkBuilder(plans[i], capacity);
        }

        return builders;
    }

    private static void Dispose(ColumnChunkBuilder?[] builders)
    {
        foreach (var b in builders)
        {
            b?.Dispose();
        }
    }

    /// <summary>Returns the columns that need a string re-read, or null when the chunk is done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool[]? ParseInto(ReadOnlySpan<byte> data, long firstLine, ColumnChunkBuilder?[] builders, ChunkCounters counters, out int rows)
    {
        var columns = _names.Length;
        var delimiter = _delimiter;
        var lenient = _options.LenientQuotes;
        var finder = new SpecialFinder(data, delimiter);
        bool[]? poisoned = null;
        byte[]? scratch = null;
        var line = firstLine;
        var recordLine = line;
        var fieldStart = 0;
        var field = 0;
        rows = 0;
        try
        {
            while (true)
            {
                ReadOnlySpan<byte> value;
                byte terminator;
                var quoted = false;
                if (fieldStart < data.Length && data[fieldStart] == '"')
                {
                    quoted = true;
                    var start = fieldStart + 1;
                    var i = start;
                    var escaped = false;
                    while (true)
                    {
                        var q = data[i..].IndexOf((byte)'"');
                        if (q < 0)
                        {
                            throw Error(ErrorCodes.DataMalformed, "a quoted field is never closed (missing '\"')", line, field);
                        }

                        i += q;
                        if (i + 1 < data.Length && data[i + 1] == '"')
                        {
                            escaped = true;
                            i += 2;
                            continue;
                        }

                        break;
                    }

                    value = data[start..i];
                    line += value.Count((byte)'\n');
                    fieldStart = i + 1;
                    terminator = 0;
                    if (fieldStart < data.Length)
                    {
                        var next = data[fieldStart];
                        if (next == delimiter || next == '\n')
                        {
                            terminator = next;
                            fieldStart++;
                        }
                        else if (next == '\r' && (fieldStart + 1 == data.Length || data[fieldStart + 1] == '\n'))
                        {
                            terminator = (byte)'\n';
                            fieldStart += fieldStart + 1 == data.Length ? 1 : 2;
                        }
                        else
                        {
                            throw Error(ErrorCodes.DataMalformed, $"unexpected {Describe(next)} after the closing quote of a field", line, field);
                        }
                    }

                    if (escaped)
                    {
                        var length = Unescape(value, ref scratch);
                        value = scratch.AsSpan(0, length);
                    }
                }
                else
                {
                    var next = finder.Next(fieldStart);
                    while (next >= 0 && data[next] == '"')
                    {
                        if (!lenient)
                        {
                            throw Error(
                                ErrorCodes.DataMalformed,
                                "a quote inside an unquoted field (quote the whole field and double the quote, or read with lenient quotes)",
                                line,
                                field);
                        }

                        next = finder.Next(next + 1);
                    }

                    if (next < 0)
                    {
                        value = data[fieldStart..];
                        terminator = 0;
                        fieldStart = data.Length;
                    }
                    else
                    {
                        value = data[fieldStart..next];
                        terminator = data[next];
                        fieldStart = next + 1;
                    }

                    if (terminator != delimiter && value.Length > 0 && value[^1] == '\r')
                    {
                        value = value[..^1];
                    }

                    if (field == 0 && terminator != delimiter && value.IsEmpty)
                    {
                        // A blank line separates nothing; the end of the chunk looks the same.
                        if (terminator == 0)
                        {
                            break;
                        }

                        line++;
                        recordLine = line;
                        continue;
                    }
                }

                if (field < columns && builders[field] is { } builder)
                {
                    var status = !quoted && IsNullToken(value) ? builder.AppendNull() : builder.Append(value, TextClass.Text);
                    if (status != AppendStatus.Ok)
                    {
                        HandleStatus(status, builder, builders, field, value, recordLine, line, counters, ref poisoned);
                    }
                }

                field++;
                if (terminator == delimiter)
                {
                    continue;
                }

                if (field == columns || Ragged(field, recordLine, builders, rows, counters))
                {
                    rows++;
                }

                field = 0;
                if (terminator == 0)
                {
                    break;
                }

                line++;
                recordLine = line;
            }
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }

        return poisoned;
    }

    /// <summary>
    /// Finds the next delimiter, newline or quote with 64-byte bitmasks (one vector compare per 32 bytes instead of a
    /// search per field), which is most of the tokenizer's speed on short fields.
    /// </summary>
    private ref struct SpecialFinder
    {
        private readonly ReadOnlySpan<byte> _data;
        private readonly byte _delimiter;
        private ulong _mask;
        private int _base;

        public SpecialFinder(ReadOnlySpan<byte> data, byte delimiter)
        {
            _data = data;
            _delimiter = delimiter;
            _base = int.MinValue / 2;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Next(int from)
        {
            while (from < _data.Length)
            {
                var offset = from - _base;
                if ((uint)offset < 64)
                {
                    var m = _mask >> offset;
                    if (m != 0)
                    {
                        return from + BitOperations.TrailingZeroCount(m);
                    }

                    from = _base + 64;
                    continue;
                }

                Load(from);
            }

            return -1;
        }

        private void Load(int at)
        {
            _base = at;
            ref var start = ref MemoryMarshal.GetReference(_data);
            if (at + 64 <= _data.Length && Vector256.IsHardwareAccelerated)
            {
                var d = Vector256.Create(_delimiter);
                var n = Vector256.Create((byte)'\n');
                var q = Vector256.Create((byte)'"');
                var v0 = Vector256.LoadUnsafe(ref start, (nuint)at);
                var v1 = Vector256.LoadUnsafe(ref start, (nuint)(at + 32));
                ulong m0 = (Vector256.Equals(v0, d) | Vector256.Equals(v0, n) | Vector256.Equals(v0, q)).ExtractMostSignificantBits();
                ulong m1 = (Vector256.Equals(v1, d) | Vector256.Equals(v1, n) | Vector256.Equals(v1, q)).ExtractMostSignificantBits();
                _mask = m0 | (m1 << 32);
                return;
            }

            if (at + 64 <= _data.Length && Vector128.IsHardwareAccelerated)
            {
                var d = Vector128.Create(_delimiter);
                var n = Vector128.Create((byte)'\n');
                var q = Vector128.Create((byte)'"');
                ulong mask = 0;
                for (var k = 0; k < 4; k++)
                {
                    var v = Vector128.LoadUnsafe(ref start, (nuint)(at + (k * 16)));
                    mask |= (ulong)(Vector128.Equals(v, d) | Vector128.Equals(v, n) | Vector128.Equals(v, q)).ExtractMostSignificantBits() << (k * 16);
                }

                _mask = mask;
                return;
            }

            ulong scalar = 0;
            var end = Math.Min(64, _data.Length - at);
            for (var i = 0; i < end; i++)
            {
                var b = _data[at + i];
                if (b == _delimiter || b == '\n' || b == '"')
                {
                    scalar |= 1UL << i;
                }
            }

            _mask = scalar;
        }
    }

    private void HandleStatus(
        AppendStatus status,
        ColumnChunkBuilder builder,
        ColumnChunkBuilder?[] builders,
        int field,
        ReadOnlySpan<byte> value,
        long recordLine,
        long line,
        ChunkCounters counters,
        ref bool[]? poisoned)
    {
        switch (status)
        {
            case AppendStatus.NeedsString:
                poisoned ??= new bool[builders.Length];
                poisoned[field] = true;
                counters.Conflicts.Add((_names[field], $"{_input}:{line}: column '{_names[field]}' holds {Show(value, field)} among {ValueKinds.Describe(builder.StorageKind)} values; it is read as string"));

                // Keep scanning the chunk for other conflicts, but stop storing this column.
                builder.Dispose();
                builders[field] = null;
                break;
            case AppendStatus.NotOfType or AppendStatus.OutOfRange when _options.BadValues == BadValueHandling.Null:
                if (builder.AppendNull() != AppendStatus.Ok)
                {
                    throw Error(ErrorCodes.DataNull, $"cannot read {Show(value, field)} as {TypeOf(field)}, and the column is not nullable", recordLine, field);
                }

                counters.Nulled(_names[field], line, Show(value, field));
                break;
            case AppendStatus.NotOfType:
                throw Error(ErrorCodes.DataType, $"cannot read {Show(value, field)} as {TypeOf(field)}", line, field);
            case AppendStatus.OutOfRange:
                throw Error(ErrorCodes.DataOutOfRange, $"{Show(value, field)} is out of range for {TypeOf(field)}", line, field);
            case AppendStatus.InvalidUtf8 when _options.InvalidUtf8 == InvalidUtf8Handling.Replace:
                var repaired = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(value));
                if (builder.Append(repaired, TextClass.Text) != AppendStatus.Ok)
                {
                    throw Error(ErrorCodes.DataEncoding, "invalid UTF-8", line, field);
                }

                counters.ReplacedUtf8++;
                break;
            case AppendStatus.InvalidUtf8:
                throw Error(ErrorCodes.DataEncoding, "invalid UTF-8 (read with invalid-utf8=replace to substitute U+FFFD)", line, field);
            case AppendStatus.NullNotAllowed:
                throw Error(ErrorCodes.DataNull, "null in a column that is not nullable", line, field);
            default:
                throw new InvalidOperationException($"unexpected append status {status}");
        }
    }

    /// <summary>Handles a record whose field count differs from the header's; returns whether the row is kept.</summary>
    private bool Ragged(int fields, long line, ColumnChunkBuilder?[] builders, int rows, ChunkCounters counters)
    {
        var columns = _names.Length;
        switch (_options.RaggedRows)
        {
            case RaggedRowHandling.Skip:
                foreach (var b in builders)
                {
                    b?.Truncate(rows);
                }

                counters.SkippedRows++;
                return false;
            case RaggedRowHandling.Fill:
                for (var c = fields; c < columns; c++)
                {
                    if (builders[c] is { } b && b.AppendNull() != AppendStatus.Ok)
                    {
                        throw Error(ErrorCodes.DataNull, $"a short record (expected {columns} fields, found {fields}) leaves a non-nullable column empty", line, c);
                    }
                }

                counters.FilledRows++;
                return true;
            default:
                throw new DataFormatException(ErrorCodes.DataMalformed, $"expected {columns} fields, found {fields}", new DataLocation(_input, line));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool IsNullToken(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return true;
        }

        // Most values fail on length or first byte, so the token comparisons below rarely run.
        if (value.Length > _maxNullToken || !_nullTokenFirstByte[value[0]])
        {
            return false;
        }

        foreach (var token in _nullTokens)
        {
            if (value.SequenceEqual(token))
            {
                return true;
            }
        }

        return false;
    }

    private static int Unescape(ReadOnlySpan<byte> value, [System.Diagnostics.CodeAnalysis.NotNull] ref byte[]? scratch)
    {
        if (scratch is null || scratch.Length < value.Length)
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }

            scratch = ArrayPool<byte>.Shared.Rent(Math.Max(value.Length, 256));
        }

        var length = 0;
        for (var i = 0; i < value.Length; i++)
        {
            scratch[length++] = value[i];
            if (value[i] == '"')
            {
                i++; // NOTE: the tokenizer only accepts doubled quotes inside a quoted field, so the next byte is '"'
            }
        }

        return length;
    }

    private string TypeOf(int field) => _declared[field]?.Type.Name() ?? "the inferred type";

    private string Show(ReadOnlySpan<byte> value, int field) => TextValues.Show(value, field < _declared.Length && (_declared[field]?.IsPii ?? false));

    private static string Describe(byte b) => b switch
    {
        (byte)'"' => "quote",
        (byte)' ' => "space",
        _ when b < 32 || b > 126 => $"byte 0x{b:X2}",
        _ => $"'{(char)b}'",
    };

    private DataFormatException Error(string code, string detail, long line, int field) =>
        new(code, detail, new DataLocation(_input, line, field < _names.Length ? _names[field] : $"#{field + 1}"));
}
