using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Strata.Data.Text;

namespace Strata.Data.JsonLines;

/// <summary>Parses one chunk of JSON Lines with <see cref="Utf8JsonReader"/>, appending each value into its column's builder.</summary>
internal sealed class JsonLinesChunkParser(string input, JsonLinesReadOptions options)
{
    private int _bytesPerRow = 128;

    public ChunkResult Parse(int index, ReadOnlySpan<byte> data, long fileOffset, long firstLine, PlanSet plans)
    {
        var counters = new ChunkCounters();
        var capacity = (int)Math.Min(data.Length / Math.Max(8, Volatile.Read(ref _bytesPerRow)) * 1.2 + 64, 1 << 24);
        var state = new ChunkState(plans, capacity, null, counters);
        var poisoned = ParseInto(data, firstLine, state, counters);
        if (poisoned is not null)
        {
            // Second pass: counts start again, the conflicts that caused it are kept for the report.
            state.Dispose();
            var conflicts = counters.Conflicts;
            counters = new ChunkCounters();
            counters.Conflicts.AddRange(conflicts);
            state = new ChunkState(plans, capacity, poisoned, counters);
            if (ParseInto(data, firstLine, state, counters) is not null)
            {
                state.Dispose();
                throw new InvalidOperationException("a column read as string cannot conflict");
            }
        }

        if (state.Rows > 0)
        {
            Volatile.Write(ref _bytesPerRow, Math.Max(1, data.Length / state.Rows));
        }

        return new ChunkResult(index, fileOffset, data.Length, firstLine, state.Names, state.Builders, state.Rows, counters);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private HashSet<string>? ParseInto(ReadOnlySpan<byte> data, long firstLine, ChunkState state, ChunkCounters counters)
    {
        var line = firstLine;
        var pos = 0;
        while (pos < data.Length)
        {
            var newline = data[pos..].IndexOf((byte)'\n');
            var end = newline < 0 ? data.Length : pos + newline;
            var text = data[pos..end];
            pos = end + 1;
            if (text.Length > 0 && text[^1] == '\r')
            {
                text = text[..^1];
            }

            if (!text.TrimStart(" \t"u8).IsEmpty)
            {
                byte[]? repaired = null;
                if (!Utf8.IsValid(text))
                {
                    if (options.InvalidUtf8 == InvalidUtf8Handling.Error)
                    {
                        throw new DataFormatException(
                            ErrorCodes.DataEncoding,
                            "invalid UTF-8 (read with invalid-utf8=replace to substitute U+FFFD)",
                            new DataLocation(input, line, ByteOffset: FirstInvalid(text)));
                    }

                    repaired = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(text));
                    counters.ReplacedUtf8++;
                }

                ParseLine(repaired ?? text, line, state);
            }

            line++;
        }

        return state.Poisoned;
    }

    private void ParseLine(ReadOnlySpan<byte> text, long line, ChunkState state)
    {
        var reader = new Utf8JsonReader(text, new JsonReaderOptions { MaxDepth = options.MaxDepth, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new DataFormatException(ErrorCodes.DataMalformed, $"expected a JSON object, found {Describe(reader.TokenType)}", new DataLocation(input, line));
            }

            ReadObject(ref reader, text, line, state, prefixLength: 0);
            if (reader.Read())
            {
                throw new DataFormatException(ErrorCodes.DataMalformed, "more than one JSON value on the line", new DataLocation(input, line, ByteOffset: reader.TokenStartIndex));
            }

            state.EndRow(line, this);
        }
        catch (JsonException e)
        {
            throw new DataFormatException(ErrorCodes.DataMalformed, $"invalid JSON ({e.Message})", new DataLocation(input, line, ByteOffset: e.BytePositionInLine), e);
        }
    }

    /// <summary>
    /// Reads an object's members; a nested object's members get its name and a dot as prefix. Names are matched as
    /// bytes, so a key costs a hash lookup, not a string, per value.
    /// </summary>
    private void ReadObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> text, long line, ChunkState state, int prefixLength)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var nameLength = state.SetName(prefixLength, ref reader);
            reader.Read();
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                ReadObject(ref reader, text, line, state, state.NestName(nameLength));
                continue;
            }

            var column = state.Column(nameLength, this, line);
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    Append(state, column, text[start..(int)reader.BytesConsumed], TextClass.String, line);
                    break;
                case JsonTokenType.Null:
                    Append(state, column, default, null, line);
                    break;
                case JsonTokenType.True:
                    Append(state, column, "true"u8, TextClass.Bool, line);
                    break;
                case JsonTokenType.False:
                    Append(state, column, "false"u8, TextClass.Bool, line);
                    break;
                case JsonTokenType.Number:
                    Append(state, column, reader.ValueSpan, TextClass.Number, line);
                    break;
                default:
                    if (!reader.ValueIsEscaped)
                    {
                        Append(state, column, reader.ValueSpan, TextClass.String, line);
                    }
                    else
                    {
                        var buffer = ArrayPool<byte>.Shared.Rent(reader.ValueSpan.Length);
                        try
                        {
                            var length = reader.CopyString(buffer);
                            Append(state, column, buffer.AsSpan(0, length), TextClass.String, line);
                        }
                        finally
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                        }
                    }

                    break;
            }
        }
    }

    private void Append(ChunkState state, int column, ReadOnlySpan<byte> value, TextClass? cls, long line)
    {
        var name = state.Names[column];
        var builder = state.Builders[column];
        if (builder is null)
        {
            return; // skipped, or found to need a string re-read in this pass
        }

        if (builder.Count > state.Rows)
        {
            throw new DataFormatException(ErrorCodes.DataMalformed, $"duplicate key '{name}'", new DataLocation(input, line, name));
        }

        var status = cls is { } c ? builder.Append(value, c) : builder.AppendNull();
        switch (status)
        {
            case AppendStatus.Ok:
                return;
            case AppendStatus.NeedsString:
                state.Poison(column, $"{input}:{line}: column '{name}' holds {TextValues.Show(value, state.Plan(column).Pii)} among {ValueKinds.Describe(builder.StorageKind)} values; it is read as string");
                return;
            case AppendStatus.NotOfType or AppendStatus.OutOfRange when options.BadValues == BadValueHandling.Null:
                if (builder.AppendNull() != AppendStatus.Ok)
                {
                    throw Error(ErrorCodes.DataNull, $"cannot read {TextValues.Show(value, state.Plan(column).Pii)} as {state.Plan(column).Declared!.Type.Name()}, and the column is not nullable", line, name);
                }

                state.Counters.Nulled(name, line, TextValues.Show(value, state.Plan(column).Pii));
                return;
            case AppendStatus.NotOfType:
                throw Error(ErrorCodes.DataType, $"cannot read {TextValues.Show(value, state.Plan(column).Pii)} as {state.Plan(column).Declared!.Type.Name()}", line, name);
            case AppendStatus.OutOfRange:
                throw Error(ErrorCodes.DataOutOfRange, $"{TextValues.Show(value, state.Plan(column).Pii)} is out of range for {state.Plan(column).Declared!.Type.Name()}", line, name);
            case AppendStatus.NullNotAllowed:
                throw Error(ErrorCodes.DataNull, "null in a column that is not nullable", line, name);
            default:
                throw Error(ErrorCodes.DataEncoding, "invalid UTF-8", line, name);
        }
    }

    internal DataFormatException Error(string code, string detail, long line, string? column) => new(code, detail, new DataLocation(input, line, column));

    internal int MaxColumns => options.MaxColumns;

    private static long FirstInvalid(ReadOnlySpan<byte> text)
    {
        Utf8.ToUtf16(text, new char[text.Length], out var read, out _, replaceInvalidSequences: false);
        return read;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.None => "nothing",
        _ => token.ToString(),
    };

    /// <summary>The columns of one chunk: name → builder, created when a key first appears (earlier rows become nulls).</summary>
    private sealed class ChunkState : IDisposable
    {
        private readonly PlanSet _plans;
        private readonly int _capacity;
        private readonly HashSet<string>? _asString;
        private readonly Utf8StringTable _index = new(); // key bytes → column: codes are handed out in column order
        private byte[] _name = new byte[256];
        private readonly List<ColumnPlan> _columnPlans = [];

        public ChunkState(PlanSet plans, int capacity, HashSet<string>? asString, ChunkCounters counters)
        {
            _plans = plans;
            _capacity = capacity;
            _asString = asString;
            Counters = counters;
        }

        public List<string> Names { get; } = [];

        public List<ColumnChunkBuilder?> Builders { get; } = [];

        public int Rows { get; private set; }

        public HashSet<string>? Poisoned { get; private set; }

        public ChunkCounters Counters { get; }

        public ColumnPlan Plan(int column) => _columnPlans[column];

        /// <summary>Puts the current key (unescaped) after the prefix in the name buffer; returns the full length.</summary>
        public int SetName(int prefixLength, ref Utf8JsonReader reader)
        {
            var needed = prefixLength + (reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length) + 1;
            if (needed > _name.Length)
            {
                Array.Resize(ref _name, Math.Max(needed, _name.Length * 2));
            }

            if (!reader.ValueIsEscaped)
            {
                reader.ValueSpan.CopyTo(_name.AsSpan(prefixLength));
                return prefixLength + reader.ValueSpan.Length;
            }

            return prefixLength + reader.CopyString(_name.AsSpan(prefixLength));
        }

        /// <summary>Turns the current name into a prefix for a nested object's keys (name + '.').</summary>
        public int NestName(int nameLength)
        {
            _name[nameLength] = (byte)'.';
            return nameLength + 1;
        }

        public int Column(int nameLength, JsonLinesChunkParser parser, long line)
        {
            var key = _name.AsSpan(0, nameLength);
            if (_index.TryGet(key, out var column))
            {
                return column;
            }

            var name = Encoding.UTF8.GetString(key);
            if (Names.Count >= parser.MaxColumns)
            {
                throw parser.Error(ErrorCodes.DataLimit, $"more than {parser.MaxColumns} distinct keys", line, name);
            }

            var plan = _plans.For(name);
            if (_asString?.Contains(name) == true && plan.Declared is null)
            {
                plan = plan.Clone();
                plan.StartKind = ValueKind.String;
            }

            var builder = plan.Skip ? null : new ColumnChunkBuilder(plan, _capacity);
            if (builder is not null && builder.AppendNulls(Rows) != AppendStatus.Ok)
            {
                builder.Dispose();
                throw parser.Error(ErrorCodes.DataNull, "a key missing from earlier lines belongs to a column that is not nullable", line, name);
            }

            column = _index.GetOrAdd(key);
            Names.Add(name);
            Builders.Add(builder);
            _columnPlans.Add(plan);
            return column;
        }

        public void Poison(int column, string message)
        {
            Poisoned ??= new HashSet<string>(StringComparer.Ordinal);
            if (Poisoned.Add(Names[column]))
            {
                Counters.Conflicts.Add((Names[column], message));
            }

            Builders[column]?.Dispose();
            Builders[column] = null;
        }

        public void EndRow(long line, JsonLinesChunkParser parser)
        {
            for (var c = 0; c < Builders.Count; c++)
            {
                if (Builders[c] is { } builder && builder.Count == Rows && builder.AppendNull() != AppendStatus.Ok)
                {
                    throw parser.Error(ErrorCodes.DataNull, "the key is missing but the column is not nullable", line, Names[c]);
                }
            }

            Rows++;
        }

        public void Dispose()
        {
            foreach (var b in Builders)
            {
                b?.Dispose();
            }
        }
    }
}
