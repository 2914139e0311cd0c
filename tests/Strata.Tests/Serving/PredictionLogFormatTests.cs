using System.Buffers;
using System.Text;
using System.Text.Json;
using Strata.Learning;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Testing;

namespace Strata.Tests.Serving;

public sealed class PredictionLogFormatTests
{
    [Fact]
    public void Numbers_are_written_as_the_json_writer_writes_them_whole_ones_included()
    {
        var values = new List<double>
        {
            0, -0.0, 1, -1, 258, 1418.5, 2.77270007, 0.0454999991, 1e14, -1e14, 999_999_999_999_999, 1e15, -1e15, 1e16, 123456789012345,
            double.Epsilon, -double.Epsilon, 4503599627370496, 9007199254740993, 1e300, -1e-300, 0.1, 1.0 / 3,
        };
        var random = new Random(7);
        for (var i = 0; i < 10_000; i++)
        {
            values.Add(Math.Round((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(0, 18)), random.Next(0, 3)));
        }

        // Measurements of a few digits (written without the shortest round-trip search), around every power of ten where
        // the first digit's place changes, and full-precision values beside them (which it must leave to the search).
        for (var i = 0; i < 100_000; i++)
        {
            var decimals = random.Next(1, 16);
            var text = $"{(random.Next(2) == 0 ? "-" : "")}{random.NextInt64(1, 1_000_000_000_000_000) % (long)Math.Pow(10, decimals)}e{random.Next(-22, 16)}";
            values.Add(double.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
            values.Add(BitConverter.Int64BitsToDouble(random.NextInt64(0x3F00_0000_0000_0000, 0x4330_0000_0000_0000)));
        }

        for (var e = -6; e <= 16; e++)
        {
            var power = Math.Pow(10, e);
            values.AddRange([power, Math.BitDecrement(power), Math.BitIncrement(power), 9.99 * power, 1.25 * power, 9.999999999999999 * power, 0.1 + power]);
        }

        var field = JsonEncodedText.Encode("x");
        foreach (var value in values.Concat(values[..50]).Concat(values[^50..]).Concat([0.25, 0.75, 0.25, 0.75, 0.125]))
        {
            Assert.Equal(Write(json => json.WriteNumber(field, value)), "{\"x\":" + Line(line => line.Number(value)) + "}");
        }
    }

    [Fact]
    public void Milliseconds_are_written_as_the_json_writer_writes_them_rounded_to_four_decimals()
    {
        var values = new List<double> { 0, -0.0, 0.00004, 0.00005, 0.1, 0.12345, 0.99995, 1, 2.5, 10.0001, 1234.56789, 9_999_999_999.99, 1e10, 1e12, -1.5 };
        var random = new Random(5);
        for (var i = 0; i < 20_000; i++)
        {
            values.Add(random.NextDouble() * Math.Pow(10, random.Next(-5, 7)));
        }

        var field = JsonEncodedText.Encode("x");
        foreach (var value in values)
        {
            Assert.Equal(Write(json => json.WriteNumber(field, Math.Round(value, 4))), "{\"x\":" + Line(line => line.Milliseconds(value)) + "}");
        }
    }

    [Fact]
    public void Text_is_escaped_as_the_json_writer_escapes_it()
    {
        string[] texts =
        [
            "", "plain", "ORD-JFK 7", "a\"quote", "back\\slash", "tab\there", "line\nbreak", "\u0001", "<b>&'+`", "~!@#$%^*()_=[]{}|;:,./?",
            "é", "日本", "😀", "\u007f", "\u2028",
        ];
        var random = new Random(11);
        var all = texts.Concat(Enumerable.Range(0, 128).Select(c => "a" + (char)c + "z")).Concat(Enumerable.Range(0, 2_000).Select(_ => new string([.. Enumerable.Range(0, random.Next(0, 12)).Select(_ => (char)random.Next(0, 0x3000))])));
        foreach (var text in all)
        {
            var written = Line(line => line.String(text));
            Assert.Equal(Write(json => json.WriteString("x", text)), "{\"x\":" + written + "}");
            Assert.Equal(text, JsonDocument.Parse(written).RootElement.GetString());
        }

        Assert.Equal("\"x\\u0022\":", Encoding.UTF8.GetString(JsonLine.Name("x\"")));
        Assert.Equal("\"\\uFFFD\"", Line(line => line.String("\ud800")));
    }

    [Fact]
    public async Task A_logged_line_holds_every_input_masked_and_null_ones_included_and_reads_back()
    {
        using var folder = new TempFolder();
        var model = new LoadedModel("fares", "delay", 3, "sha256:0", XGBoostImporter.Load(SharedData.InRepository("tests", "fixtures", "xgboost", "flights_xgb.json")));
        var input = new PredictionInput(2, new Dictionary<string, InputColumn>
        {
            ["distance"] = InputColumn.OfNumbers([258, 1418.5]),
            ["note \"quoted\""] = InputColumn.OfTexts(["<é>\n", null]),
            ["email"] = InputColumn.OfTexts(["a@b.example", "c@d.example"]),
            ["gap"] = InputColumn.OfNulls(),
            ["ratio"] = InputColumn.OfNumbers([double.NaN, -0.0]),
        });
        var classified = new PredictionOutput(model, 2) { Labels = ["1", "0"], Probabilities = [0.25, 0.75, 0.875, 0.125] };
        var valued = new PredictionOutput(model, 2) { Values = [1e20, -2.5], Role = ServingRoles.Shadow };
        var masked = new HashSet<string>(["email"], StringComparer.Ordinal);
        var lines = await LoggedAsync(
            folder.Path,
            new PendingPrediction(1_700_000_000_000_001, "req-\"1\"", "fares", "flights", input, classified, 0.123456, masked),
            new PendingPrediction(1_700_000_000_000_002, "req-2", "fares", "flights", input, valued, 2, masked));
        Assert.Equal(
            "{\"v\":1,\"time\":1700000000000001,\"request_id\":\"req-\\u00221\\u0022\",\"endpoint\":\"fares\",\"project\":\"flights\",\"model\":\"delay\",\"version\":3,\"role\":\"champion\",\"latency_ms\":0.1235,"
            + "\"rows\":[{\"inputs\":{\"distance\":258,\"note \\u0022quoted\\u0022\":\"\\u003C\\u00E9\\u003E\\n\",\"email\":\"***\",\"gap\":null,\"ratio\":null},\"label\":\"1\",\"probabilities\":[0.25,0.75]},"
            + "{\"inputs\":{\"distance\":1418.5,\"note \\u0022quoted\\u0022\":null,\"email\":\"***\",\"gap\":null,\"ratio\":-0},\"label\":\"0\",\"probabilities\":[0.875,0.125]}],"
            + "\"classes\":[\"0\",\"1\"]}",
            lines[0]);

        var records = new List<PredictionRecord>();
        await foreach (var record in PredictionLogReader.ReadAsync(folder.Path))
        {
            records.Add(record);
        }

        Assert.Equal(["req-\"1\"", "req-2"], records.Select(r => r.RequestId));
        Assert.Equal("<é>\n", records[0].Rows[0].Inputs["note \"quoted\""].GetString());
        Assert.Equal(ServingRoles.Shadow, records[1].Role);
        Assert.Equal([1e20, -2.5], records[1].Rows.Select(r => r.Value!.Value));
        Assert.Equal(2, records[1].LatencyMs);
    }

    [Fact]
    public async Task A_row_in_a_layout_is_logged_as_the_same_row_in_columns()
    {
        using var folder = new TempFolder();
        var model = new LoadedModel("fares", "delay", 3, "sha256:0", XGBoostImporter.Load(SharedData.InRepository("tests", "fixtures", "xgboost", "flights_xgb.json")));
        var layout = FieldLayout.Of(["distance", "origin", "email", "gap", "ratio"])!;
        var dense = new PredictionInput(layout, [1418.5, double.NaN, double.NaN, double.NaN, -0.0], [null, "<ORD>", "a@b.example", null, null]);
        var named = new PredictionInput(1, new Dictionary<string, InputColumn>
        {
            ["distance"] = InputColumn.OfNumber(1418.5),
            ["origin"] = InputColumn.OfTexts(["<ORD>"]),
            ["email"] = InputColumn.OfTexts(["a@b.example"]),
            ["gap"] = InputColumn.OfNulls(),
            ["ratio"] = InputColumn.OfNumber(-0.0),
        });
        var output = new PredictionOutput(model, 1) { Labels = ["1"], Probabilities = [0.25, 0.75] };
        var masked = new HashSet<string>(["email"], StringComparer.Ordinal);
        var lines = await LoggedAsync(
            folder.Path,
            new PendingPrediction(1, "r", "fares", "flights", dense, output, 1, masked),
            new PendingPrediction(1, "r", "fares", "flights", named, output, 1, masked));

        Assert.Equal(lines[1], lines[0]);
        Assert.Contains("\"inputs\":{\"distance\":1418.5,\"origin\":\"\\u003CORD\\u003E\",\"email\":\"***\",\"gap\":null,\"ratio\":-0}", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_segment_is_handed_to_the_disk_a_MiB_at_a_time_as_it_is_written()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // sync_file_range is Linux's; elsewhere the log leaves writeback to the OS
        }

        using var folder = new TempFolder();
        var model = new LoadedModel("fares", "delay", 3, "sha256:0", XGBoostImporter.Load(SharedData.InRepository("tests", "fixtures", "xgboost", "flights_xgb.json")));
        var input = new PredictionInput(1, new Dictionary<string, InputColumn> { ["note"] = InputColumn.OfTexts([new string('x', 2000)]) });
        var output = new PredictionOutput(model, 1) { Labels = ["1"], Probabilities = [0.25, 0.75] };
        var ranges = new System.Collections.Concurrent.ConcurrentQueue<(long Offset, long Count, int Result)>();
        var log = new PredictionLog(
            new PredictionLogOptions { Folder = folder.Path, WriteInterval = TimeSpan.FromMilliseconds(1), WritebackStarted = (o, c, r) => ranges.Enqueue((o, c, r)) },
            new MetricRegistry());
        await using (log)
        {
            for (var i = 0; i < 1600; i++) // about 3.3 MB
            {
                while (!log.TryWrite(new PendingPrediction(i, "r" + i, "fares", "flights", input, output, 1, new HashSet<string>())))
                {
                    await Task.Delay(1); // the queue is full: the writer catches up
                }
            }
        }

        var length = new FileInfo(Assert.Single(Directory.GetFiles(folder.Path))).Length;
        var started = ranges.ToArray();
        Assert.NotEmpty(started); // as many ranges as the writer's ticks make: one write may hold several MiB
        Assert.All(started, r => Assert.Equal(0, r.Result)); // the OS took each request (0, not an error number)
        Assert.All(started, r => Assert.InRange(r.Count, PredictionLog.WritebackBytes, length));
        Assert.Equal(0, started[0].Offset);
        for (var i = 1; i < started.Length; i++)
        {
            Assert.Equal(started[i - 1].Offset + started[i - 1].Count, started[i].Offset); // each range follows the last
        }

        Assert.True(length - (started[^1].Offset + started[^1].Count) < PredictionLog.WritebackBytes, "only the last part under a MiB is left to the close's fsync");
    }

    /// <summary>Logs the records into <paramref name="folder"/> and returns its one segment's lines, one per record.</summary>
    private static async Task<string[]> LoggedAsync(string folder, params PendingPrediction[] records)
    {
        var log = new PredictionLog(new PredictionLogOptions { Folder = folder, WriteInterval = TimeSpan.FromMilliseconds(1) }, new MetricRegistry());
        await using (log)
        {
            foreach (var record in records)
            {
                Assert.True(log.TryWrite(record));
            }
        }

        var lines = File.ReadAllLines(Assert.Single(Directory.GetFiles(folder)));
        Assert.Equal(records.Length, lines.Length);
        return lines;
    }

    private static string Line(Action<JsonLine> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(new JsonLine(buffer));
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
