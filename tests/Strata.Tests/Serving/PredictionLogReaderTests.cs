using System.Text;
using Strata.Monitoring;
using Strata.Serving;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>
/// Reading segments back: the byte reader finds the records a text reader finds (line ends, damaged lines, a byte order
/// mark, damaged UTF-8), and a read resumed at a returned offset, or by a new feed at a stored position, reads on from there.
/// </summary>
public sealed class PredictionLogReaderTests : IDisposable
{
    private readonly TempFolder _folder = new("strata-log-reader");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task The_byte_reader_finds_the_records_a_text_reader_finds_whatever_the_line_ends()
    {
        var bytes = Concat(
            new byte[] { 0xEF, 0xBB, 0xBF },
            Line("r1"), "\r\n",
            "\n",
            Line("r2"), "\r",
            "{\"v\":1,\"time\":", "\n", // torn
            Line("r3", version: 99), "\n", // a format this reader does not know
            "[1, 2", "\r\n",
            Line("r4", input: "caf|").Split('|')[0], new byte[] { 0xC3, 0x28 }, Line("r4", input: "caf|").Split('|')[1], "\n", // damaged UTF-8 in a string
            Line("r5"), "\r\r\n",
            Line("r6")); // no line end at all
        var path = _folder.WriteBytes("00001.jsonl", bytes);

        var records = await ReadAsync(path, 0);

        Assert.Equal(["r1", "r2", "r4", "r5", "r6"], records.Select(r => r.Record.RequestId));
        Assert.Equal(await TextReaderIdsAsync(path), records.Select(r => r.Record.RequestId));
        Assert.Equal("caf\uFFFD(", records[2].Record.Rows[0].Inputs["name"].GetString());
        Assert.Equal(bytes.Length, records[^1].End);
    }

    [Fact]
    public async Task Lines_across_the_read_buffer_and_every_resume_offset_read_on_from_there()
    {
        // Lines of varying length and line ends, past several 64 KB buffers, so line ends (a \r\n too) fall on their edges.
        var random = new Random(5);
        var ends = new[] { "\n", "\r\n", "\r" };
        var text = new StringBuilder();
        for (var i = 0; i < 1500; i++)
        {
            text.Append(Line($"r{i}", input: new string('x', random.Next(0, 400)))).Append(ends[random.Next(ends.Length)]);
        }

        var path = _folder.WriteText("00001.jsonl", text.ToString());

        var records = await ReadAsync(path, 0);

        Assert.Equal(await TextReaderIdsAsync(path), records.Select(r => r.Record.RequestId));
        Assert.Equal(1500, records.Count);
        foreach (var k in new[] { 0, 1, 99, 100, 777, 1498, 1499 })
        {
            var rest = await ReadAsync(path, records[k].End);
            Assert.Equal(records.Skip(k + 1).Select(r => r.Record.RequestId), rest.Select(r => r.Record.RequestId));
        }
    }

    [Fact]
    public async Task A_new_feed_at_a_stored_position_starts_where_the_last_read_stopped_unless_the_segment_changed()
    {
        var path = _folder.WriteText("00001.jsonl", string.Concat(Enumerable.Range(1, 10).Select(i => Line($"r{i}", time: i) + "\n")));
        var first = new PredictionLogFeed(_folder.Path, "e");
        var taken = new List<string>();
        await foreach (var record in first.ReadRecordsAsync(until: 7))
        {
            taken.Add(record.RequestId);
        }

        Assert.Equal(("00001.jsonl", 6L), (first.Position.Segment, first.Position.Records));

        // The first line blanked, the file's length kept: only a read that starts at the remembered offset still finds
        // r7 as the record after the sixth.
        var bytes = await File.ReadAllBytesAsync(path);
        Array.Fill(bytes, (byte)' ', 0, Line("r1", time: 1).Length);
        await File.WriteAllBytesAsync(path, bytes);
        Assert.Equal(["r7", "r8", "r9", "r10"], await RestAsync(first.Position));

        // A segment whose length changed is not the one that was read: it is read from its start.
        await File.AppendAllTextAsync(path, Line("r11", time: 11) + "\n");
        Assert.Equal(["r8", "r9", "r10", "r11"], await RestAsync(first.Position));
    }

    private async Task<List<string>> RestAsync(PredictionLogPosition position)
    {
        var feed = new PredictionLogFeed(_folder.Path, "e", position: position);
        var ids = new List<string>();
        await foreach (var record in feed.ReadRecordsAsync())
        {
            ids.Add(record.RequestId);
        }

        return ids;
    }

    private static async Task<List<(PredictionRecord Record, long End)>> ReadAsync(string path, long offset)
    {
        var records = new List<(PredictionRecord, long)>();
        await foreach (var record in PredictionLogReader.ReadSegmentAsync(path, offset))
        {
            records.Add(record);
        }

        return records;
    }

    /// <summary>What a text reader makes of the file: its lines, each parsed as a record or passed over.</summary>
    private static async Task<List<string>> TextReaderIdsAsync(string path)
    {
        var ids = new List<string>();
        using var reader = new StreamReader(path);
        while (await reader.ReadLineAsync() is { } line)
        {
            try
            {
                if (line.Length > 0 && PredictionLogReader.Parse(line) is { } record)
                {
                    ids.Add(record.RequestId);
                }
            }
            catch (System.Text.Json.JsonException)
            {
            }
        }

        return ids;
    }

    private static string Line(string id, int version = PredictionLog.FormatVersion, string input = "a", long time = 1) =>
        $"{{\"v\":{version},\"time\":{time},\"request_id\":\"{id}\",\"endpoint\":\"e\",\"project\":\"p\",\"model\":\"m\",\"version\":1," +
        $"\"role\":\"champion\",\"latency_ms\":0.25,\"rows\":[{{\"inputs\":{{\"name\":\"{input}\"}},\"value\":2.5}}]}}";

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] Concat(params object[] parts) =>
        [.. parts.SelectMany(p => p is byte[] b ? b : Bytes((string)p))];
}
