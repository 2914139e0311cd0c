using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Strata.Data.Arrow;
using Strata.Testing;

namespace Strata.IntegrationTests.Interop;

/// <summary>
/// Arrow IPC files travel both ways between Strata and apache-arrow for JavaScript (tests/interop/arrow-js/roundtrip.mjs)
/// with identical values: every Strata type, nulls, several record batches, growing dictionaries, non-ASCII and empty
/// strings, timestamps before 1970.
/// </summary>
public sealed class ArrowJsInteropTests
{
    [ArrowJsFact]
    public async Task Arrow_js_reads_what_Strata_writes()
    {
        using var folder = new TempFolder("strata-interop");
        var path = folder.File("strata.arrow");
        var batches = StrataBatches();
        var stream = File.Create(path);
        var writer = new ArrowFileWriter(stream, batches[0].Schema);
        await using (writer)
        {
            foreach (var batch in batches)
            {
                await writer.WriteBatchAsync(batch);
            }
        }

        using var json = await RunAsync("read", path);

        var root = json.RootElement;
        var expected = Table.Concat(batches);
        Assert.Equal(batches.Length, root.GetProperty("batches").GetInt32());
        Assert.Equal(expected.RowCount, root.GetProperty("rows").GetInt32());
        var fields = root.GetProperty("fields").EnumerateArray().ToArray();
        Assert.Equal(
            ["Bool", "Int32", "Int64", "Float32", "Float64", "Dictionary<Int32, Utf8>", "Timestamp<MICROSECOND, UTC>"],
            fields.Select(f => f.GetProperty("type").GetString()));
        Assert.Equal(expected.Schema.Select(f => f.Nullable), fields.Select(f => f.GetProperty("nullable").GetBoolean()));
        Assert.Equal("label", fields[4].GetProperty("metadata").GetProperty("strata:role").GetString());
        Assert.Equal("[\"pii:location\"]", fields[5].GetProperty("metadata").GetProperty("strata:tags").GetString());
        for (var c = 0; c < expected.ColumnCount; c++)
        {
            AssertColumn(expected[c], root.GetProperty("columns").GetProperty(expected.Schema[c].Name), fields[c].GetProperty("type").GetString()!);
        }
    }

    [ArrowJsFact]
    public async Task Strata_reads_what_arrow_js_writes()
    {
        using var folder = new TempFolder("strata-interop");
        var path = folder.File("arrow-js.arrow");

        using var json = await RunAsync("write", path);
        await using var reader = await ArrowFileReader.OpenAsync(path);
        var table = await reader.ReadTableAsync();

        var root = json.RootElement;
        Assert.Equal(root.GetProperty("batches").GetInt32(), reader.RecordBatchCount);
        Assert.Equal(root.GetProperty("rows").GetInt32(), table.RowCount);
        var fields = root.GetProperty("fields").EnumerateArray().ToArray();
        Assert.Equal(fields.Select(f => f.GetProperty("name").GetString()), table.Schema.Names);
        Assert.Equal(
            [DataType.Bool, DataType.Int32, DataType.Int64, DataType.Float32, DataType.Float64, DataType.String, DataType.Timestamp,
             DataType.Int32, DataType.Int64, DataType.String, DataType.Timestamp, DataType.Timestamp, DataType.String],
            table.Schema.Select(f => f.Type));
        for (var c = 0; c < table.ColumnCount; c++)
        {
            AssertColumn(table[c], root.GetProperty("columns").GetProperty(table.Schema[c].Name), fields[c].GetProperty("type").GetString()!);
        }

        // The dictionary grew over three batches (delta dictionary batches) and is read as one.
        Assert.Equal(["Zürich", "", "東京", "São Paulo", "emoji 🙂"], table.GetStringColumn("city").Dictionary.Values);
    }

    /// <summary>Three batches whose string columns carry different dictionaries, so the file needs delta dictionaries.</summary>
    private static Table[] StrataBatches()
    {
        var schema = new Schema(
            new Field("flag", DataType.Bool),
            new Field("small", DataType.Int32),
            new Field("big", DataType.Int64, nullable: false),
            new Field("ratio", DataType.Float32),
            new Field("amount", DataType.Float64, role: FieldRole.Label),
            new Field("city", DataType.String, tags: ["pii:location"]),
            new Field("at", DataType.Timestamp, role: FieldRole.EventTime));
        return
        [
            new Table(schema, [
                Columns.Bool(true, null, false),
                Columns.Int32(1, int.MinValue, null),
                Columns.Int64(long.MinValue, -9_007_199_254_740_993, long.MaxValue),
                Columns.Float32(1.5f, float.NaN, -0f),
                Columns.Float64(0.1, null, double.NegativeInfinity),
                Columns.String("Zürich", "", null),
                Columns.Timestamp(-1L, Timestamp.MinValue, null),
            ]),
            new Table(schema, [
                Columns.Bool(false, true),
                Columns.Int32(int.MaxValue, 0),
                Columns.Int64(0, 42),
                Columns.Float32(float.PositiveInfinity, null),
                Columns.Float64(1e300, double.Epsilon),
                Columns.String("東京", "Zürich"),
                Columns.Timestamp(Timestamp.MaxValue, -86_400_000_001L),
            ]),
            new Table(schema, [
                Columns.Bool(null, null, true, false),
                Columns.Int32(null, 7, 8, 9),
                Columns.Int64(1, 2, 3, 4),
                Columns.Float32(0.1f, 2, 3, null),
                Columns.Float64(null, 5, 6, 7),
                Columns.String(null, "São Paulo", "", "emoji 🙂"),
                Columns.Timestamp(1_700_000_000_123_456L, null, 0L, -62_135_596_800_000_000L + 1),
            ]),
        ];
    }

    /// <summary>Compares a column with the JSON the Node peer prints (raw storage values, see roundtrip.mjs).</summary>
    private static void AssertColumn(Column column, JsonElement values, string arrowType)
    {
        var json = values.EnumerateArray().ToArray();
        Assert.Equal(json.Length, column.Length);
        for (var r = 0; r < json.Length; r++)
        {
            var value = json[r];
            var where = $"column of {arrowType}, row {r}: {value}";
            Assert.True(value.ValueKind == JsonValueKind.Null == column.IsNull(r), where);
            if (value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            switch (column)
            {
                case Column<bool> b:
                    Assert.True(value.GetBoolean() == b[r], where);
                    break;
                case Column<int> i:
                    Assert.True(value.GetInt32() == i[r], where);
                    break;
                case Column<long> l when column.Type == DataType.Timestamp:
                    Assert.True(Micros(arrowType, value) == l[r], $"{where}: Strata has {l[r]}");
                    break;
                case Column<long> l:
                    Assert.True(Int64(value) == l[r], $"{where}: Strata has {l[r]}");
                    break;
                case Column<float> f:
                    var expected = (float)Double(value);
                    Assert.True(float.IsNaN(expected) ? float.IsNaN(f[r]) : BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(f[r]), where);
                    break;
                case Column<double> d:
                    var expectedDouble = Double(value);
                    Assert.True(double.IsNaN(expectedDouble) ? double.IsNaN(d[r]) : BitConverter.DoubleToInt64Bits(expectedDouble) == BitConverter.DoubleToInt64Bits(d[r]), where);
                    break;
                case StringColumn s:
                    Assert.True(value.GetString() == s[r], $"{where}: Strata has '{s[r]}'");
                    break;
                default:
                    Assert.Fail($"unexpected column {column.GetType().Name}");
                    break;
            }
        }
    }

    private static long Int64(JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? long.Parse(value.GetString()!, CultureInfo.InvariantCulture) : value.GetInt64();

    private static double Double(JsonElement value) => value.ValueKind == JsonValueKind.Number
        ? value.GetDouble()
        : value.GetString() switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            "-0" => -0.0,
            var other => throw new FormatException($"unexpected float '{other}'"),
        };

    /// <summary>The UTC microseconds Strata should hold for a raw Arrow time value.</summary>
    private static long Micros(string arrowType, JsonElement value)
    {
        var raw = Int64(value);
        return arrowType switch
        {
            _ when arrowType.StartsWith("Timestamp<MICROSECOND", StringComparison.Ordinal) => raw,
            _ when arrowType.StartsWith("Timestamp<NANOSECOND", StringComparison.Ordinal) => (long)Math.Floor(raw / 1000m),
            _ when arrowType.StartsWith("Timestamp<MILLISECOND", StringComparison.Ordinal) => raw * 1000,
            _ when arrowType.StartsWith("Timestamp<SECOND", StringComparison.Ordinal) => raw * Timestamp.MicrosPerSecond,
            "Date32<DAY>" => raw * Timestamp.MicrosPerDay,
            "Date64<MILLISECOND>" => raw * 1000,
            _ => throw new FormatException($"unexpected time type {arrowType}"),
        };
    }

    private static async Task<JsonDocument> RunAsync(string command, string file)
    {
        if (ArrowJs.MissingPrerequisite() is { } missing)
        {
            Assert.Fail($"{missing} (STRATA_REQUIRE_INTEROP=1 makes the Arrow interop tests mandatory)");
        }

        var start = new ProcessStartInfo(ArrowJs.Node!)
        {
            WorkingDirectory = ArrowJs.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("roundtrip.mjs");
        start.ArgumentList.Add(command);
        start.ArgumentList.Add(file);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node roundtrip.mjs {command} did not finish in 60 s");
        }

        Assert.True(process.ExitCode == 0, $"node roundtrip.mjs {command} {file} exited with {process.ExitCode}: {await stderr}");
        return JsonDocument.Parse(await stdout);
    }
}
