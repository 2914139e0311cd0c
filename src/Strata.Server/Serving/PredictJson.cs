using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using Strata.Server.Http;
using Strata.Serving;

namespace Strata.Server.Serving;

/// <summary>
/// The native predict API's JSON: <c>{"rows": [{"field": value, …}, …]}</c> in, predictions out. The usual body (one
/// plain row) is read straight from its bytes (<see cref="TryReadOneRow"/>), other well-formed bodies with a
/// <see cref="Utf8JsonReader"/> (<see cref="TryReadRows"/>), and what either leaves with <see cref="JsonDocument"/>
/// under a depth limit, into columns, with every bad value named by row and field.
/// </summary>
internal static partial class PredictJson
{
    /// <summary>Deepest JSON accepted: the body, its rows, a row, a value.</summary>
    public const int MaxDepth = 8;

    /// <summary>Most fields in one request.</summary>
    public const int MaxFields = 10_000;

    /// <summary>Most rows in one request, whatever the endpoint allows (the body limit bounds it too).</summary>
    public const int MaxRows = 100_000;

    /// <summary>Parses a body. Every row is an object of named fields; a field absent from a row is null there.</summary>
    /// <exception cref="StrataException">The body is not of that shape, or holds too many rows or fields.</exception>
    public static PredictionInput ParseRows(JsonElement root)
    {
        try
        {
            return ParseRowsUnchecked(root);
        }
        catch (InvalidOperationException e)
        {
            throw RequestJson.NotUtf8(e);
        }
    }

    private static PredictionInput ParseRowsUnchecked(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("rows", out var rows) || rows.ValueKind != JsonValueKind.Array)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "the body must be an object with 'rows': an array of objects of named fields, e.g. {\"rows\": [{\"distance\": 258}]}");
        }

        var seen = false;
        foreach (var property in root.EnumerateObject())
        {
            // A field beside 'rows' would be ignored, and the caller may think it does something ("explain": 3).
            if (!property.NameEquals("rows"))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"unknown field '{property.Name}' in the body (known: rows{(property.NameEquals("explain") ? "; explanations are asked for with ?explain=k" : "")})");
            }

            if (seen)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'rows' appears more than once in the body");
            }

            seen = true;
        }

        var count = rows.GetArrayLength();
        if (count > MaxRows)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"field 'rows' has {count} entries; the limit is {MaxRows}");
        }

        var builders = new Dictionary<string, ColumnBuilder>(StringComparer.Ordinal);
        var r = 0;
        foreach (var row in rows.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Object)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"rows[{r}] must be an object of named fields, not {Kind(row)}");
            }

            foreach (var field in row.EnumerateObject())
            {
                if (!builders.TryGetValue(field.Name, out var builder))
                {
                    if (builders.Count >= MaxFields)
                    {
                        throw new StrataException(ErrorCodes.DataLimit, $"the request has more than {MaxFields} fields");
                    }

                    builder = builders[field.Name] = new ColumnBuilder(count);
                }

                if (field.Value.ValueKind == JsonValueKind.Number && !(field.Value.TryGetDouble(out var number) && double.IsFinite(number)))
                {
                    var text = field.Value.GetRawText();
                    throw new StrataException(ErrorCodes.ArgumentInvalid, $"field '{field.Name}' in rows[{r}] is {(text.Length > 32 ? text[..31] + "…" : text)}, beyond the range of a number (at most ±{double.MaxValue.ToString("R", CultureInfo.InvariantCulture)})");
                }

                if (!builder.Visit(r))
                {
                    // Taking the first or the last would let the log, the checks and the model each read a different one.
                    throw new StrataException(ErrorCodes.ArgumentInvalid, $"field '{field.Name}' appears more than once in rows[{r}]");
                }

                builder.Set(r, field.Value);
            }

            r++;
        }

        return new PredictionInput(count, builders.ToDictionary(b => b.Key, b => b.Value.Build(), StringComparer.Ordinal));
    }

    /// <summary>
    /// Parses the usual body straight from its bytes: <c>{"rows": [{…}, …]}</c> and nothing else, every value a finite
    /// number, text or null. False for anything else, malformed JSON included; <see cref="ParseRows"/> then gives the
    /// same answer it always gives (or the error naming what is wrong), so this is only a shortcut.
    /// </summary>
    public static bool TryParseRows(in ReadOnlySequence<byte> body, [NotNullWhen(true)] out PredictionInput? input) =>
        (body.IsSingleSegment && TryReadOneRow(body.FirstSpan, out input)) || TryReadRows(body, out input);

    /// <summary><see cref="TryParseRows"/> with a JSON reader, for any body of rows (one in many segments included).</summary>
    internal static bool TryReadRows(in ReadOnlySequence<byte> body, [NotNullWhen(true)] out PredictionInput? input)
    {
        input = null;
        try
        {
            // Most requests are one row: read as one in a single pass; a body of more rows is counted, then read again.
            // A body in one segment (nearly all) is read from its span, without the sequence reader's segment checks.
            var options = new JsonReaderOptions { MaxDepth = MaxDepth };
            var reader = body.IsSingleSegment ? new Utf8JsonReader(body.FirstSpan, options) : new Utf8JsonReader(body, options);
            var pass = ReadRows(ref reader, 1, out input);
            if (pass == Pass.MoreRows)
            {
                reader = new Utf8JsonReader(body, options);
                if (!TryCountRows(ref reader, out var count))
                {
                    return false;
                }

                reader = new Utf8JsonReader(body, options);
                pass = ReadRows(ref reader, count, out input);
            }

            return pass == Pass.Read;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    private enum Pass
    {
        Read,
        MoreRows,
        Refused,
    }

    /// <summary>
    /// Reads <c>{"rows": [{…}, …]}</c> expecting at most <paramref name="capacity"/> rows, checking its whole shape (flat
    /// rows of finite numbers, text and nulls; nothing after the body). <see cref="Pass.MoreRows"/> when there are more.
    /// One row is read into its values in the order sent (see <see cref="FieldLayout"/>), more rows into named columns.
    /// </summary>
    private static Pass ReadRows(ref Utf8JsonReader reader, int capacity, out PredictionInput? input)
    {
        input = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject
            || !reader.Read() || reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("rows"u8)
            || !reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            return Pass.Refused;
        }

        var one = capacity == 1 ? StartRow() : null;
        var builders = one is null ? new Dictionary<string, ColumnBuilder>(StringComparer.Ordinal) : null;
        var r = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            if (r == capacity)
            {
                return Pass.MoreRows;
            }

            var position = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = FieldNames.Get(ref reader, position++);
                reader.Read();
                if (one is not null)
                {
                    var added = reader.TokenType switch
                    {
                        JsonTokenType.Null => one.Add(name, double.NaN, null),
                        JsonTokenType.Number when reader.TryGetDouble(out var number) && double.IsFinite(number) => one.Add(name, number, null),
                        JsonTokenType.String => one.Add(name, double.NaN, reader.GetString()),
                        _ => false, // booleans, nested values, numbers beyond double: ParseRows reads them or says what they are
                    };
                    if (!added)
                    {
                        return Pass.Refused;
                    }

                    continue;
                }

                if (!builders!.TryGetValue(name, out var builder))
                {
                    if (builders.Count >= MaxFields)
                    {
                        return Pass.Refused;
                    }

                    builder = builders[name] = new ColumnBuilder(capacity);
                }

                if (!builder.Visit(r))
                {
                    return Pass.Refused; // a name twice in a row: ParseRows names it
                }

                switch (reader.TokenType)
                {
                    case JsonTokenType.Null:
                        break;
                    case JsonTokenType.Number when reader.TryGetDouble(out var number) && double.IsFinite(number):
                        builder.SetNumber(r, number);
                        break;
                    case JsonTokenType.String:
                        builder.SetText(r, reader.GetString());
                        break;
                    case JsonTokenType.True or JsonTokenType.False:
                        builder.SetBoolean(r, reader.TokenType == JsonTokenType.True);
                        break;
                    default:
                        return Pass.Refused; // nested values, numbers beyond double: ParseRows reads them or says what they are
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                return Pass.Refused;
            }

            r++;
        }

        if (reader.TokenType != JsonTokenType.EndArray || !reader.Read() || reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            return Pass.Refused; // nothing may follow the body (a second "rows" included)
        }

        if (one is not null)
        {
            if (r == 0)
            {
                input = new PredictionInput(0, new Dictionary<string, InputColumn>(StringComparer.Ordinal));
                return Pass.Read;
            }

            input = one.Take();
            return input is null ? Pass.Refused : Pass.Read; // a repeated field: ParseRows says what the row holds
        }

        var columns = new Dictionary<string, InputColumn>(builders!.Count, StringComparer.Ordinal);
        foreach (var (name, builder) in builders)
        {
            columns[name] = builder.Build();
        }

        input = new PredictionInput(r, columns);
        return Pass.Read;
    }

    /// <summary>This thread's row, emptied: the scratch space a one-row request's fields are read into.</summary>
    private static RowValues StartRow()
    {
        var row = t_row ??= new RowValues();
        row.Clear();
        return row;
    }

    [ThreadStatic]
    private static RowValues? t_row;

    /// <summary>
    /// A row's names and values as read, in order, before they are copied out at their final size; grown as needed, and
    /// not kept by the thread once large.
    /// </summary>
    private sealed class RowValues
    {
        private const int MaxKept = 1024;
        private string[] _names = new string[64];
        private double[] _numbers = new double[64];
        private string?[] _texts = new string?[64];
        private bool _anyText;

        /// <summary>Fields read so far.</summary>
        public int Count { get; private set; }

        public void Clear()
        {
            if (_anyText)
            {
                Array.Clear(_texts, 0, Count);
            }

            Count = 0;
            _anyText = false;
        }

        /// <summary>Adds a field: its number (NaN for null and text) and its text (null unless text). False past <see cref="MaxFields"/>.</summary>
        public bool Add(string name, double number, string? text)
        {
            if (Count >= MaxFields)
            {
                return false;
            }

            if (Count == _names.Length)
            {
                Array.Resize(ref _names, Count * 2);
                Array.Resize(ref _numbers, Count * 2);
                Array.Resize(ref _texts, Count * 2);
            }

            _names[Count] = name;
            _numbers[Count] = number;
            _texts[Count] = text;
            _anyText |= text is not null;
            Count++;
            return true;
        }

        /// <summary>The row as an input in its layout; null when a name is there twice (the document parser names it).</summary>
        public PredictionInput? Take()
        {
            var fields = Count;
            var layout = FieldLayout.Of(_names.AsSpan(0, fields));
            var input = layout is null ? null : new PredictionInput(layout, _numbers.AsSpan(0, fields).ToArray(), _anyText ? _texts.AsSpan(0, fields).ToArray() : null);
            Clear();
            if (_names.Length > MaxKept)
            {
                t_row = null;
            }

            return input;
        }
    }

    /// <summary>Checks the body's shape (one "rows" array of flat objects, nothing after it) and counts the rows.</summary>
    private static bool TryCountRows(ref Utf8JsonReader reader, out int count)
    {
        count = 0;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject
            || !reader.Read() || reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("rows"u8)
            || !reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            if (++count > MaxRows)
            {
                return false;
            }

            // A row is flat: its values are scalars, so the next end of an object is its own.
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    return false;
                }
            }
        }

        return reader.TokenType == JsonTokenType.EndArray
            && reader.Read() && reader.TokenType == JsonTokenType.EndObject
            && !reader.Read(); // nothing after the body (a second "rows" included)
    }

    /// <summary>
    /// Writes the response: request id, model and version, predictions, class probabilities, explanations. Written by
    /// hand (<see cref="JsonLine"/>): the same bytes a <see cref="Utf8JsonWriter"/> writes, without its per-call checks.
    /// </summary>
    public static void WriteResponse(ArrayBufferWriter<byte> buffer, string requestId, string endpoint, PredictionOutput output)
    {
        var line = new JsonLine(buffer);
        line.Raw("{\"requestId\":"u8);
        line.String(requestId);
        line.Raw(",\"endpoint\":"u8);
        line.String(endpoint);
        line.Raw(",\"model\":"u8);
        line.String(output.Model);
        line.Raw(",\"version\":"u8);
        line.Number((long)output.Version);
        line.Raw(",\"role\":"u8);
        line.String(output.Role);
        line.Raw(",\"predictions\":["u8);
        for (var r = 0; r < output.Rows; r++)
        {
            if (r > 0)
            {
                line.Raw(","u8);
            }

            if (output.Labels is { } labels)
            {
                line.String(labels[r]);
            }
            else
            {
                line.Number(output.Values![r]);
            }
        }

        line.Raw("]"u8);
        if (output.Probabilities is { } probabilities && output.ClassLabels is { } classes)
        {
            var names = ClassNames(classes);
            line.Raw(",\"probabilities\":["u8);
            for (var r = 0; r < output.Rows; r++)
            {
                line.Raw(r == 0 ? "{"u8 : ",{"u8);
                for (var c = 0; c < classes.Count; c++)
                {
                    if (c > 0)
                    {
                        line.Raw(","u8);
                    }

                    line.Raw(names[c]);
                    line.Number(probabilities[(r * classes.Count) + c]);
                }

                line.Raw("}"u8);
            }

            line.Raw("]"u8);
        }

        if (output.Explanations is { } explanations)
        {
            line.Raw(",\"explanations\":["u8);
            for (var r = 0; r < explanations.Count; r++)
            {
                line.Raw(r == 0 ? "["u8 : ",["u8);
                for (var c = 0; c < explanations[r].Count; c++)
                {
                    line.Raw(c == 0 ? "{\"feature\":"u8 : ",{\"feature\":"u8);
                    line.String(explanations[r][c].Feature);
                    line.Raw(",\"contribution\":"u8);
                    line.Number(explanations[r][c].Value);
                    line.Raw("}"u8);
                }

                line.Raw("]"u8);
            }

            line.Raw("]"u8);
        }

        line.Raw("}"u8);
    }

    // The class labels of this thread's last response, escaped as property names: a model's labels are one list, so
    // the next response most likely names the same.
    [ThreadStatic]
    private static IReadOnlyList<string>? t_classes;

    [ThreadStatic]
    private static byte[][]? t_classNames;

    private static byte[][] ClassNames(IReadOnlyList<string> classes)
    {
        if (!ReferenceEquals(t_classes, classes) || t_classNames is null)
        {
            t_classNames = [.. classes.Select(JsonLine.Name)];
            t_classes = classes;
        }

        return t_classNames;
    }

    internal static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "text",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>
    /// Field names seen before, so the names of a request cost no new strings. Bounded, since callers choose names: once
    /// full, new names are still read, just not kept.
    /// </summary>
    private static class FieldNames
    {
        private const int MaxKept = 4096;
        private const int MaxLength = 128;
        private static readonly ConcurrentDictionary<string, string> Kept = new(StringComparer.Ordinal);
        private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> ByChars = Kept.GetAlternateLookup<ReadOnlySpan<char>>();
        private static int _count;

        // The names of this thread's last request by position in its row, as sent: a client sends the same fields in the
        // same order every time, and comparing the bytes is cheaper than transcoding and hashing them.
        private const int Positions = 64;

        [ThreadStatic]
        private static byte[]?[]? t_lastBytes;

        [ThreadStatic]
        private static string?[]? t_lastNames;

        /// <summary>The name of a row's <paramref name="position"/>th field (the reader is on its property name).</summary>
        public static string Get(ref Utf8JsonReader reader, int position) =>
            reader.HasValueSequence || reader.ValueIsEscaped || reader.ValueSpan.Length > MaxLength
                ? reader.GetString()!
                : Get(reader.ValueSpan, position) ?? reader.GetString()!; // the reader throws for text that is not UTF-8, as ParseRows does

        /// <summary>
        /// The name of a row's <paramref name="position"/>th field from its bytes (unescaped, as sent); null when they are
        /// not UTF-8.
        /// </summary>
        public static string? Get(ReadOnlySpan<byte> utf8, int position)
        {
            if (utf8.Length > MaxLength || position >= Positions)
            {
                return Get(utf8);
            }

            var bytes = t_lastBytes ??= new byte[]?[Positions];
            var names = t_lastNames ??= new string?[Positions];
            if (bytes[position] is { } last && utf8.SequenceEqual(last))
            {
                return names[position]!;
            }

            if (Get(utf8) is not { } name)
            {
                return null;
            }

            bytes[position] = utf8.ToArray();
            names[position] = name;
            return name;
        }

        private static string? Get(ReadOnlySpan<byte> utf8)
        {
            if (utf8.Length > MaxLength)
            {
                return System.Text.Unicode.Utf8.IsValid(utf8) ? System.Text.Encoding.UTF8.GetString(utf8) : null;
            }

            Span<char> chars = stackalloc char[MaxLength];
            if (System.Text.Unicode.Utf8.ToUtf16(utf8, chars, out _, out var written, replaceInvalidSequences: false) != OperationStatus.Done)
            {
                return null;
            }

            if (ByChars.TryGetValue(chars[..written], out var known))
            {
                return known;
            }

            var name = new string(chars[..written]);
            if (Volatile.Read(ref _count) < MaxKept && Kept.TryAdd(name, name))
            {
                Interlocked.Increment(ref _count);
            }

            return name;
        }
    }

    /// <summary>
    /// Collects one field's values over the rows; the first non-null value decides numbers, booleans (kept as 1 and 0)
    /// or text, and a value of another kind makes the column mixed.
    /// </summary>
    internal sealed class ColumnBuilder(int rows)
    {
        private double[]? _numbers;
        private string?[]? _texts;
        private bool _mixed;
        private bool? _booleans; // null until the first number or boolean
        private int _lastRow = -1;

        /// <summary>False when the field was already set in this row (a name sent twice).</summary>
        public bool Visit(int row)
        {
            if (_lastRow == row)
            {
                return false;
            }

            _lastRow = row;
            return true;
        }

        public void Set(int row, JsonElement value)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.Null:
                    return;
                case JsonValueKind.Number when value.TryGetDouble(out var number) && double.IsFinite(number):
                    SetNumber(row, number);
                    return;
                case JsonValueKind.True or JsonValueKind.False:
                    SetBoolean(row, value.ValueKind == JsonValueKind.True);
                    return;
                case JsonValueKind.String when _numbers is null:
                    _texts ??= new string?[rows];
                    _texts[row] = value.GetString();
                    return;
                default:
                    _mixed = true;
                    return;
            }
        }

        public void SetNumber(int row, double value)
        {
            if (_texts is not null || _booleans == true || !double.IsFinite(value))
            {
                _mixed = true;
                return;
            }

            _booleans = false;
            _numbers ??= Filled(rows);
            _numbers[row] = value;
        }

        public void SetBoolean(int row, bool value)
        {
            if (_texts is not null || _booleans == false)
            {
                _mixed = true;
                return;
            }

            _booleans = true;
            _numbers ??= Filled(rows);
            _numbers[row] = value ? 1 : 0;
        }

        public void SetText(int row, string? value)
        {
            if (_numbers is not null)
            {
                _mixed = true;
                return;
            }

            _texts ??= new string?[rows];
            _texts[row] = value;
        }

        public void SetMixed() => _mixed = true;

        public InputColumn Build() =>
            _mixed ? InputColumn.OfMixed()
            : _numbers is not null ? _booleans == true ? InputColumn.OfBooleans(_numbers) : InputColumn.OfNumbers(_numbers)
            : _texts is not null ? InputColumn.OfTexts(_texts)
            : InputColumn.OfNulls();

        private static double[] Filled(int rows)
        {
            var values = new double[rows];
            Array.Fill(values, double.NaN);
            return values;
        }
    }
}
