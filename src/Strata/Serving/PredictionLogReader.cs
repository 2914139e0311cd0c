using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Strata.Serving;

/// <summary>One logged row: its inputs (masked fields read "***") and what was predicted for it.</summary>
/// <param name="Inputs">The request's fields as JSON values (numbers, text or null).</param>
/// <param name="Label">The predicted label (classification).</param>
/// <param name="Probabilities">Class probabilities in <see cref="PredictionRecord.Classes"/> order (classification).</param>
/// <param name="Value">The predicted value (regression).</param>
public sealed record PredictionRow(IReadOnlyDictionary<string, JsonElement> Inputs, string? Label, IReadOnlyList<double>? Probabilities, double? Value);

/// <summary>One logged request, as <see cref="PredictionLogReader"/> returns it (the fields of one JSON line).</summary>
public sealed record PredictionRecord
{
    /// <summary>When it was answered (UTC microseconds).</summary>
    public long Time { get; init; }

    /// <summary>The request id (also in the server's logs and the response).</summary>
    public string RequestId { get; init; } = "";

    /// <summary>The endpoint.</summary>
    public string Endpoint { get; init; } = "";

    /// <summary>The project.</summary>
    public string Project { get; init; } = "";

    /// <summary>The registered model.</summary>
    public string Model { get; init; } = "";

    /// <summary>The version that answered.</summary>
    public int Version { get; init; }

    /// <summary>champion, challenger or shadow.</summary>
    public string Role { get; init; } = "";

    /// <summary>Time spent answering, in milliseconds.</summary>
    public double LatencyMs { get; init; }

    /// <summary>Class labels (classification), the order of every row's probabilities.</summary>
    public IReadOnlyList<string>? Classes { get; init; }

    /// <summary>The rows.</summary>
    public IReadOnlyList<PredictionRow> Rows { get; init; } = [];
}

/// <summary>
/// Reads the prediction log back (the monitoring stratum's input): closed segments in name order, which is time order,
/// one record per line. A torn last line (a crash while writing) is skipped; the segment being written is not read.
/// </summary>
public static class PredictionLogReader
{
    /// <summary>Longest line read, in bytes; a longer one is skipped as damaged.</summary>
    public const int MaxLineBytes = 64 << 20;

    private static readonly JsonDocumentOptions LineOptions = new() { MaxDepth = 16 };

    /// <summary>The closed segments of a log folder, oldest first.</summary>
    public static IReadOnlyList<string> Segments(string folder) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*" + PredictionLog.SegmentExtension).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The segments of a log folder still being written (or left open by a crash, until closed), oldest first.</summary>
    public static IReadOnlyList<string> OpenSegments(string folder) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*" + PredictionLog.OpenExtension).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>
    /// Every record of every closed segment, oldest first; <paramref name="since"/> (UTC microseconds) skips older ones.
    /// A segment deleted by the log's retention after it was listed is passed over.
    /// </summary>
    public static async IAsyncEnumerable<PredictionRecord> ReadAsync(string folder, long since = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var segment in Segments(folder))
        {
            await foreach (var (record, _) in ReadListedSegmentAsync(segment, 0, cancellationToken).ConfigureAwait(false))
            {
                if (record.Time >= since)
                {
                    yield return record;
                }
            }
        }
    }

    /// <summary>The records of one segment file.</summary>
    public static async IAsyncEnumerable<PredictionRecord> ReadSegmentAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var (record, _) in ReadSegmentAsync(path, 0, cancellationToken).ConfigureAwait(false))
        {
            yield return record;
        }
    }

    /// <summary>
    /// The records of one segment file from byte <paramref name="offset"/> on (0, or an end an earlier read returned),
    /// each with the offset just past its line: a later read of the same closed segment may start there instead of
    /// reading the file from its start again.
    /// </summary>
    public static IAsyncEnumerable<(PredictionRecord Record, long End)> ReadSegmentAsync(string path, long offset, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return ReadLinesAsync(path, offset, missingIsEmpty: false, cancellationToken);
    }

    /// <summary>
    /// Like <see cref="ReadSegmentAsync(string, long, CancellationToken)"/> for a segment a listing returned: one that the
    /// log's retention deleted since (gone before it could be opened) has no records. One opened before it was deleted
    /// is read to its end: the OS keeps the file until it is closed.
    /// </summary>
    internal static IAsyncEnumerable<(PredictionRecord Record, long End)> ReadListedSegmentAsync(string path, long offset, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return ReadLinesAsync(path, offset, missingIsEmpty: true, cancellationToken);
    }

    private static async IAsyncEnumerable<(PredictionRecord Record, long End)> ReadLinesAsync(
        string path, long offset, bool missingIsEmpty, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        SegmentLines lines;
        try
        {
            lines = new SegmentLines(path, offset);
        }
        catch (Exception e) when (missingIsEmpty && e is FileNotFoundException or DirectoryNotFoundException)
        {
            yield break;
        }

        await using (lines.ConfigureAwait(false))
        {
            while (await lines.NextAsync(cancellationToken).ConfigureAwait(false))
            {
                if (lines.TooLong || lines.Line.IsEmpty)
                {
                    continue;
                }

                PredictionRecord? record;
                try
                {
                    record = Parse(lines.Line);
                }
                catch (JsonException)
                {
                    continue; // a torn last line
                }

                if (record is not null)
                {
                    yield return (record, lines.End);
                }
            }
        }
    }

    /// <summary>Parses one line from its bytes; null when its format version is not one this reader knows.</summary>
    private static PredictionRecord? Parse(ReadOnlyMemory<byte> line) =>
        System.Text.Unicode.Utf8.IsValid(line.Span)
            ? Parse(JsonDocument.Parse(line, LineOptions))
            : Parse(System.Text.Encoding.UTF8.GetString(line.Span)); // damaged bytes read as U+FFFD, as a text reader reads them

    /// <summary>Parses one line; null when its format version is not one this reader knows.</summary>
    public static PredictionRecord? Parse(string line) => Parse(JsonDocument.Parse(line, LineOptions));

    private static PredictionRecord? Parse(JsonDocument parsed)
    {
        using var document = parsed;
        var root = document.RootElement;
        if (!root.TryGetProperty("v", out var v) || v.GetInt32() != PredictionLog.FormatVersion)
        {
            return null;
        }

        var rows = new List<PredictionRow>();
        foreach (var row in root.GetProperty("rows").EnumerateArray())
        {
            var inputs = row.GetProperty("inputs").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
            rows.Add(new PredictionRow(
                inputs,
                row.TryGetProperty("label", out var label) ? label.GetString() : null,
                row.TryGetProperty("probabilities", out var p) ? p.EnumerateArray().Select(e => e.GetDouble()).ToList() : null,
                row.TryGetProperty("value", out var value) ? value.GetDouble() : null));
        }

        return new PredictionRecord
        {
            Time = root.GetProperty("time").GetInt64(),
            RequestId = root.GetProperty("request_id").GetString() ?? "",
            Endpoint = root.GetProperty("endpoint").GetString() ?? "",
            Project = root.GetProperty("project").GetString() ?? "",
            Model = root.GetProperty("model").GetString() ?? "",
            Version = root.GetProperty("version").GetInt32(),
            Role = root.GetProperty("role").GetString() ?? "",
            LatencyMs = root.GetProperty("latency_ms").GetDouble(),
            Classes = root.TryGetProperty("classes", out var classes) ? classes.EnumerateArray().Select(c => c.GetString() ?? "").ToList() : null,
            Rows = rows,
        };
    }
}
