using System.Buffers;
using System.Text;
using System.Text.Json;
using Strata.Learning;
using Strata.Server.Serving;
using Strata.Serving;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>The native API's body parser: its shortcut from the bytes reads what the document parser reads.</summary>
public sealed class PredictJsonTests
{
    [Fact]
    public void Field_names_are_read_right_whatever_the_previous_bodies_sent_at_the_same_positions()
    {
        // The shortcut remembers the names of the thread's last body by position; each body here moves them about.
        string[] bodies =
        [
            """{"rows": [{"a": 1, "b": 2, "c": "x"}]}""",
            """{"rows": [{"b": 3, "a": 4, "c": "y"}]}""",
            """{"rows": [{"ab": 5, "a": 6}]}""",
            """{"rows": [{"a": 7, "ab": null, "b": 8, "d\u00e9j\u00e0": 9}]}""",
            """{"rows": [{"a": 10}, {"b": 11, "a": 12}, {"c": "z"}]}""",
            """{"rows": [{"a": 13, "b": 14, "c": "w"}]}""",
            """{"rows": [{"\u0061": 15, "b": 16}]}""",
            """{"rows": [{"déjà": 17, "b": 18}]}""",
        ];
        foreach (var body in bodies)
        {
            var bytes = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(body));
            Assert.True(PredictJson.TryParseRows(bytes, out var fast), body);
            using var document = JsonDocument.Parse(body);
            Assert.Equal(Describe(PredictJson.ParseRows(document.RootElement)), Describe(fast));
        }
    }

    [Fact]
    public void A_body_in_many_segments_reads_as_the_same_body_in_one()
    {
        var body = """{"rows": [{"distance": 258.5, "origin": "ORD", "gap": null}, {"distance": 1, "origin": "JFK"}]}"""u8.ToArray();
        Assert.True(PredictJson.TryParseRows(new ReadOnlySequence<byte>(body), out var whole));
        for (var size = 1; size < body.Length; size += 7)
        {
            Assert.True(PredictJson.TryParseRows(Segments(body, size), out var split));
            Assert.Equal(Describe(whole), Describe(split));
        }
    }

    [Fact]
    public void The_hand_written_response_is_byte_for_byte_what_the_json_writer_writes()
    {
        var model = new LoadedModel("fares", "delay", 3, "sha256:0", XGBoostImporter.Load(SharedData.InRepository("tests", "fixtures", "xgboost", "flights_xgb.json")));
        var random = new Random(3);
        var outputs = new List<PredictionOutput>
        {
            new(model, 1) { Labels = ["1"], Probabilities = [0.32683685697820575, 0.6731631430217943] },
            new(model, 2) { Labels = ["1", "0"], Probabilities = [0.25, 0.75, 1, 0], Role = ServingRoles.Challenger },
            new(model, 4) { Values = [1e20, -2.5, 0.1, -0.0] },
            new(model, 0) { Values = [] },
            new(model, 2)
            {
                Labels = ["1", "0"],
                Probabilities = [0.4, 0.6, 0.7, 0.3],
                Explanations = [[new("distance", 0.125), new("dep \"hour\"", -0.0625)], []],
            },
        };
        for (var i = 0; i < 200; i++)
        {
            var p = random.NextDouble();
            outputs.Add(new PredictionOutput(model, 1) { Labels = [p >= 0.5 ? "1" : "0"], Probabilities = [1 - p, p] });
        }

        // Twice over, so the second pass writes numbers the thread has just formatted.
        foreach (var output in outputs.Concat(outputs))
        {
            foreach (var id in new[] { "0123456789abcdef0123456789abcdef", "caller's \"id\" <é>" })
            {
                var byHand = new ArrayBufferWriter<byte>();
                PredictJson.WriteResponse(byHand, id, "flights", output);
                Assert.Equal(ByJsonWriter(id, "flights", output), Encoding.UTF8.GetString(byHand.WrittenSpan));
            }
        }
    }

    [Theory]
    [InlineData("""{"rows": [{"a": 1, "a": 2}]}""", "field 'a' appears more than once in rows[0]")]
    [InlineData("""{"rows": [{"a": 1, "b": 2}, {"a": 2, "b": 1, "a": 3}]}""", "field 'a' appears more than once in rows[1]")]
    [InlineData("""{"rows": [{"a": 1}], "rows": [{"a": 2}]}""", "field 'rows' appears more than once in the body")]
    [InlineData("""{"rows": [{"a": 1}], "explain": 3}""", "unknown field 'explain' in the body (known: rows; explanations are asked for with ?explain=k)")]
    [InlineData("""{"instances": [[1]], "rows": [{"a": 1}]}""", "unknown field 'instances' in the body (known: rows)")]
    public void A_repeated_or_unknown_field_is_left_to_the_document_parser_which_names_it(string body, string message)
    {
        Assert.True(PredictJson.TryParseRows(new ReadOnlySequence<byte>("""{"rows": [{"a": 1, "b": 2}, {"b": 2, "a": 1}]}"""u8.ToArray()), out _));

        Assert.False(PredictJson.TryParseRows(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(body)), out _));
        using var document = JsonDocument.Parse(body);
        Assert.Equal(message, Assert.Throws<StrataException>(() => PredictJson.ParseRows(document.RootElement)).Message);
    }

    [Fact]
    public void The_one_row_reader_reads_what_the_json_reader_reads_or_leaves_the_body_to_it()
    {
        // Bodies built from plain and awkward parts, then mutated: whatever the one-row reader takes, the JSON reader must
        // take too and read to the same names, kinds and bits; the plain ones it must take itself.
        var random = new Random(20261206);
        string[] names = ["distance", "dep_hour", "origin", "a", "b c", "x_1", "d\u00e9j\u00e0", "q\"uote", "déjà", "tab\t", ""];
        string[] values =
        [
            "258", "258.0", "-0", "0", "-0.0", "0.5", "2.77270007", "1418.5", "1e3", "1E-3", "-2.5e+10", "123456789012345678901234567890",
            "0.1000000000000000055511151231257827", "9007199254740993", "4.9e-324", "1e-400", "1.7976931348623157e308", "1e400", "01", "1.",
            ".5", "+1", "-", "1e", "NaN", "null", "true", "false", "\"ORD\"", "\"\"", "\"a\\\"b\"", "\"é\"", "\"\\u0041\"", "[1]", "{}",
        ];
        string[] spaces = ["", " ", "\n", "\t", " \r\n "];
        var accepted = 0;
        var plainTaken = 0;
        var plain = 0;
        for (var n = 0; n < 20_000; n++)
        {
            var sp = () => random.NextDouble() < 0.8 ? "" : spaces[random.Next(spaces.Length)];
            var count = random.Next(0, 6);
            var fields = Enumerable.Range(0, count).Select(_ => (Name: names[random.Next(names.Length)], Value: values[random.Next(values.Length)])).ToList();
            var rows = random.Next(10) == 0 ? 2 : 1;
            var row = "{" + string.Join(",", fields.Select(f => $"{sp()}\"{f.Name}\"{sp()}:{sp()}{f.Value}{sp()}")) + sp() + "}";
            var body = $"{sp()}{{{sp()}\"rows\"{sp()}:{sp()}[{sp()}{string.Join(",", Enumerable.Repeat(row, rows))}{sp()}]{sp()}}}{sp()}";
            var bytes = Encoding.UTF8.GetBytes(body);
            if (random.Next(4) == 0)
            {
                bytes = Mutate(bytes, random);
            }

            var isPlain = rows == 1 && fields.Select(f => f.Name).Distinct().Count() == count
                && fields.All(f => f.Name is "distance" or "dep_hour" or "origin" or "a" or "x_1" or "b c" or "")
                && fields.All(f => f.Value is "258" or "258.0" or "-0" or "0.5" or "2.77270007" or "1e3" or "-2.5e+10" or "null" or "\"ORD\"" or "\"\"" or "123456789012345678901234567890" or "4.9e-324");
            var one = PredictJson.TryReadOneRow(bytes, out var fast);
            if (fast is not null)
            {
                accepted++;
                Assert.True(PredictJson.TryReadRows(new ReadOnlySequence<byte>(bytes), out var read), Encoding.UTF8.GetString(bytes));
                Assert.Equal(Exactly(read), Exactly(fast));
                Assert.NotNull(fast.Layout);
            }

            if (isPlain && bytes.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(body)))
            {
                plain++;
                plainTaken += one ? 1 : 0;
            }
        }

        Assert.Equal(plain, plainTaken);
        Assert.True(accepted > 2_000, $"only {accepted} bodies were read by the one-row reader");
    }

    [Fact]
    public void Numbers_read_from_the_bytes_are_the_doubles_the_full_parser_finds()
    {
        var random = new Random(53);
        var texts = new List<string> { "0", "-0", "5e-324", "2.2250738585072014e-308", "9007199254740992", "9007199254740993", "1e22", "1e23", "1.5e-22", "0.3", "8.589973e9" };
        for (var n = 0; n < 100_000; n++)
        {
            var value = random.Next(4) switch
            {
                0 => BitConverter.Int64BitsToDouble(random.NextInt64()),
                1 => Math.Round(random.NextDouble() * Math.Pow(10, random.Next(-8, 16)), random.Next(0, 10)),
                2 => random.Next(-100_000, 100_000) / Math.Pow(10, random.Next(0, 25)),
                _ => random.NextDouble() * 1e6,
            };
            if (!double.IsFinite(value))
            {
                continue;
            }

            texts.Add(value.ToString(random.Next(5) switch { 0 => "R", 1 => "E16", 2 => "F4", 3 => "G5", _ => "E3" }, System.Globalization.CultureInfo.InvariantCulture));
            texts.Add(new string([.. Enumerable.Range(0, random.Next(1, 25)).Select(_ => (char)('0' + random.Next(10)))]).TrimStart('0') is { Length: > 0 } digits
                ? $"{digits}{(random.Next(2) == 0 ? "" : "e" + random.Next(-40, 40))}"
                : "7");
        }

        foreach (var text in texts)
        {
            var bytes = Encoding.UTF8.GetBytes($$"""{"rows":[{"x":{{text}}}]}""");
            Assert.True(PredictJson.TryReadOneRow(bytes, out var input), text);
            Assert.Equal(BitConverter.DoubleToInt64Bits(double.Parse(text, System.Globalization.CultureInfo.InvariantCulture)), BitConverter.DoubleToInt64Bits(input.NumberAt(0)));
        }
    }

    /// <summary>The response as <see cref="Utf8JsonWriter"/> writes it: what the hand-written one must match.</summary>
    private static string ByJsonWriter(string requestId, string endpoint, PredictionOutput output)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("requestId", requestId);
            json.WriteString("endpoint", endpoint);
            json.WriteString("model", output.Model);
            json.WriteNumber("version", output.Version);
            json.WriteString("role", output.Role);
            json.WriteStartArray("predictions");
            for (var r = 0; r < output.Rows; r++)
            {
                if (output.Labels is { } labels)
                {
                    json.WriteStringValue(labels[r]);
                }
                else
                {
                    json.WriteNumberValue(output.Values![r]);
                }
            }

            json.WriteEndArray();
            if (output.Probabilities is { } probabilities && output.ClassLabels is { } classes)
            {
                json.WriteStartArray("probabilities");
                for (var r = 0; r < output.Rows; r++)
                {
                    json.WriteStartObject();
                    for (var c = 0; c < classes.Count; c++)
                    {
                        json.WriteNumber(classes[c], probabilities[(r * classes.Count) + c]);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            if (output.Explanations is { } explanations)
            {
                json.WriteStartArray("explanations");
                foreach (var row in explanations)
                {
                    json.WriteStartArray();
                    foreach (var c in row)
                    {
                        json.WriteStartObject();
                        json.WriteString("feature", c.Feature);
                        json.WriteNumber("contribution", c.Value);
                        json.WriteEndObject();
                    }

                    json.WriteEndArray();
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The bytes as a sequence of segments of <paramref name="size"/> bytes, as a socket may deliver them.</summary>
    private static ReadOnlySequence<byte> Segments(byte[] bytes, int size)
    {
        var first = new Segment(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
        var last = first;
        for (var at = size; at < bytes.Length; at += size)
        {
            last = last.Append(bytes.AsMemory(at, Math.Min(size, bytes.Length - at)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long index)
        {
            Memory = memory;
            RunningIndex = index;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    /// <summary>Flips, drops or repeats a byte or cuts the end off.</summary>
    private static byte[] Mutate(byte[] bytes, Random random)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        var at = random.Next(bytes.Length);
        return random.Next(4) switch
        {
            0 => [.. bytes[..at], (byte)random.Next(256), .. bytes[(at + 1)..]],
            1 => [.. bytes[..at], .. bytes[(at + 1)..]],
            2 => [.. bytes[..(at + 1)], bytes[at], .. bytes[(at + 1)..]],
            _ => bytes[..at],
        };
    }

    /// <summary>Rows, and per field in name order its kind and values, numbers by their bits.</summary>
    private static string Exactly(PredictionInput input) =>
        input.Rows + ": " + string.Join("; ", input.Columns.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Key + "=" + c.Value.Kind + "["
            + string.Join(",", Enumerable.Range(0, input.Rows).Select(r => c.Value.Kind switch
            {
                InputKind.Number => BitConverter.DoubleToInt64Bits(c.Value.NumberAt(r)).ToString(System.Globalization.CultureInfo.InvariantCulture),
                InputKind.Text => "'" + c.Value.Texts![r] + "'",
                _ => "-",
            })) + "]"));

    private static string Describe(PredictionInput input) =>
        input.Rows + ": " + string.Join("; ", input.Columns.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Key + "=" + c.Value.Kind + "["
            + string.Join(",", Enumerable.Range(0, input.Rows).Select(c.Value.TextAt)) + "]"));
}
