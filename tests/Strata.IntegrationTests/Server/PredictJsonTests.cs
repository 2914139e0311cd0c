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

    [Fact]
    public void A_repeated_field_is_left_to_the_document_parser_which_names_it()
    {
        Assert.True(PredictJson.TryParseRows(new ReadOnlySequence<byte>("""{"rows": [{"a": 1, "b": 2}]}"""u8.ToArray()), out _));

        Assert.False(PredictJson.TryParseRows(new ReadOnlySequence<byte>("""{"rows": [{"a": 1, "a": 2}]}"""u8.ToArray()), out _));
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

    private static string Describe(PredictionInput input) =>
        input.Rows + ": " + string.Join("; ", input.Columns.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Key + "=" + c.Value.Kind + "["
            + string.Join(",", Enumerable.Range(0, input.Rows).Select(c.Value.TextAt)) + "]"));
}
