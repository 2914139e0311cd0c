using System.Runtime.CompilerServices;
using System.Buffers;
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
    private readonly SearchValues<byte> _stops;
    private readonly byte[][] _nullTokens;
    private readonly int _maxNullToken;
    private readonly Field?[] _declared;
    private int _bytesPerRow = 64;

    public CsvChunkParser(string input, CsvDialect dialect, CsvReadOptions options)
    {
        _input = input;
        _delimiter = dialect.Delimiter;
        _names = dialect.Names;
        _options = options;
        _stops = options.LenientQuotes
            ? SearchValues.Create([_delimiter, (byte)'\n'])
            : SearchValues.Create([_delimiter, (byte)'\n', (byte)'"']);
        _nullTokens = options.NullValues.Where(v => v.Length > 0).Select(Encoding.UTF8.GetBytes).ToArray();
        _maxNullToken = _nullTokens.Length == 0 ? 0 : _nullTokens.Max(t => t.Length);
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
        bool[]? poisoned = null;
        byte[]? scratch = null;
        var pos = 0;
        var line = firstLine;
        rows = 0;
        try
        {
            while (pos < data.Length)
            {
                // Blank lines separate nothing: skip them (a lone CR before the end counts as blank too).
                var b = data[pos];
                if (b == '\n')
                {
                    pos++;
                    line++;
                    continue;
                }

                if (b == '\r' && (pos + 1 == data.Length || data[pos + 1] == '\n'))
                {
                    pos += pos + 1 == data.Length ? 1 : 2;
                    line++;
                    continue;
                }

                var recordLine = line;
                var field = 0;
                var endedWithNewline = false;
                while (true)
                {
                    ReadOnlySpan<byte> value;
                    var quoted = false;
                    byte terminator = 0;
                    if (pos < data.Length && data[pos] == '"')
                    {
                        quoted = true;
                        var start = pos + 1;
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
                        pos = i + 1;
                        if (pos < data.Length)
                        {
                            var next = data[pos];
                            if (next == delimiter || next == '\n')
                            {
                                terminator = next;
                                pos++;
                            }
                            else if (next == '\r' && (pos + 1 == data.Length || data[pos + 1] == '\n'))
                            {
                                terminator = (byte)'\n';
                                pos += pos + 1 == data.Length ? 1 : 2;
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
                        var rest = data[pos..];
                        var k = rest.IndexOfAny(_stops);
                        if (k < 0)
                        {
                            value = rest;
                            pos = data.Length;
                        }
                        else
                        {
                            terminator = rest[k];
                            if (terminator == '"')
                            {
                                throw Error(
                                    ErrorCodes.DataMalformed,
                                    "a quote inside an unquoted field (quote the whole field and double the quote, or read with lenient quotes)",
                                    line,
                                    field);
                            }

                            value = rest[..k];
                            pos += k + 1;
                        }

                        if (terminator != delimiter && value.Length > 0 && value[^1] == '\r')
                        {
                            value = value[..^1];
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
                    if (terminator != delimiter)
                    {
                        endedWithNewline = terminator == '\n';
                        break;
                    }
                }

                if (field != columns && !Ragged(field, recordLine, builders, rows, counters))
                {
                    if (endedWithNewline)
                    {
                        line++;
                    }

                    continue;
                }

                rows++;
                if (endedWithNewline)
                {
                    line++;
                }
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

        if (value.Length > _maxNullToken)
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
