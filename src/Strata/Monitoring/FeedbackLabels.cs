using System.Globalization;
using System.Text.Json;
using Strata.Serving;
using Strata.Stores;

namespace Strata.Monitoring;

/// <summary>A label as sent, before it is checked against the model that answered: a number, true/false, or a class name.</summary>
/// <param name="RequestId">The served request's id.</param>
/// <param name="Number">The label as a number, or null.</param>
/// <param name="Flag">The label as true/false, or null.</param>
/// <param name="Text">The label as text (a class name), or null.</param>
/// <param name="Field">Where it came from, for messages: <c>labels[3]</c> or <c>line 12</c>.</param>
public sealed record RawLabel(string RequestId, double? Number, bool? Flag, string? Text, string Field)
{
    /// <summary>How the label reads in a message.</summary>
    public string Shown => Text is not null ? $"'{Text}'" : Flag is { } b ? (b ? "true" : "false") : Number!.Value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>
/// Feedback labels: reading them (a request body, a CSV or JSON-lines label file), finding their predictions through the
/// prediction index (no log scan per request), and checking each label against the model that answered.
/// </summary>
public static class FeedbackLabels
{
    /// <summary>Longest request id accepted.</summary>
    public const int MaxRequestId = 200;

    /// <summary>Most labels in one request or file chunk.</summary>
    public const int MaxLabels = 10_000;

    /// <summary>The feed name the index keeps its log position under.</summary>
    public const string IndexFeed = "$index";

    /// <summary>Reads one label value of a JSON body; <paramref name="field"/> names it in errors.</summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.ArgumentInvalid"/> naming the field.</exception>
    public static RawLabel FromJson(string requestId, JsonElement label, string field) => label.ValueKind switch
    {
        JsonValueKind.Number when label.TryGetDouble(out var d) && double.IsFinite(d) => new RawLabel(requestId, d, null, null, field),
        JsonValueKind.True => new RawLabel(requestId, null, true, null, field),
        JsonValueKind.False => new RawLabel(requestId, null, false, null, field),
        JsonValueKind.String when label.GetString() is { Length: > 0 and <= MaxRequestId } text => new RawLabel(requestId, null, null, text, field),
        _ => throw new StrataException(
            ErrorCodes.ArgumentInvalid, $"field '{field}.label' must be a number, true/false or a class name, not {label.ValueKind.ToString().ToLowerInvariant()}"),
    };

    /// <summary>
    /// Reads a label file's lines: CSV with the header <c>request_id,label</c>, or JSON lines of
    /// <c>{"request_id": "…", "label": …}</c>. <paramref name="firstLine"/> is the file line number of the text's first
    /// line (the header for CSV), so errors name the file's line.
    /// </summary>
    /// <exception cref="DataFormatException">A malformed line, naming it (<see cref="ErrorCodes.SchemaInvalid"/>).</exception>
    public static List<RawLabel> Parse(string text, string format, int firstLine = 1, string source = "labels")
    {
        ArgumentNullException.ThrowIfNull(text);
        var csv = format switch
        {
            "csv" => true,
            "jsonl" or "ndjson" => false,
            _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'format': '{format}' is not csv or jsonl"),
        };
        var labels = new List<RawLabel>();
        var lines = text.Split('\n');
        var start = 0;
        if (csv)
        {
            if (lines.Length == 0 || lines[0].TrimEnd('\r').Replace(" ", "", StringComparison.Ordinal) != "request_id,label")
            {
                throw new DataFormatException(ErrorCodes.SchemaInvalid, "the header must be 'request_id,label'", new DataLocation(source, firstLine));
            }

            start = 1;
        }

        for (var i = start; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var number = firstLine + i;
            if (line.Length == 0)
            {
                continue;
            }

            if (labels.Count == MaxLabels)
            {
                throw new DataFormatException(ErrorCodes.DataLimit, $"at most {MaxLabels} labels per request", new DataLocation(source, number));
            }

            labels.Add(csv ? CsvLine(line, number, source) : JsonLine(line, number, source));
        }

        return labels;
    }

    /// <summary>
    /// Indexes the endpoint's requests logged since the index last read the log (request id → time, version, score,
    /// classes), committing the position with each chunk; returns how many were added.
    /// </summary>
    public static async Task<long> IndexAsync(IMonitorStateStore store, string logFolder, string project, string endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var state = await store.GetFeedStateAsync(project, endpoint, IndexFeed, cancellationToken).ConfigureAwait(false) ?? new MonitorFeedState(null, 0, 0);
        var feed = new PredictionLogFeed(logFolder, endpoint, position: PredictionLogPosition.Of(state));
        var pending = new List<IndexedPrediction>();
        long added = 0;
        await foreach (var record in feed.ReadRecordsAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (record.Endpoint != endpoint || record.Role == ServingRoles.Shadow || record.RequestId.Length is 0 or > MaxRequestId)
            {
                continue;
            }

            pending.Add(new IndexedPrediction(
                record.RequestId, record.Time, record.Version, PredictionLogFeed.FirstScore(record), record.Classes is { } c ? string.Join('\n', c) : null));
            if (pending.Count == 20_000)
            {
                await store.IndexPredictionsAsync(project, endpoint, pending, Position(feed), cancellationToken).ConfigureAwait(false);
                added += pending.Count;
                pending.Clear();
            }
        }

        if (pending.Count > 0 || feed.Position != PredictionLogPosition.Of(state))
        {
            await store.IndexPredictionsAsync(project, endpoint, pending, Position(feed), cancellationToken).ConfigureAwait(false);
            added += pending.Count;
        }

        return added;
    }

    /// <summary>
    /// The stored label of <paramref name="label"/> for the prediction that answered it: a classifier's label is one of
    /// its classes (by name, as the class's number, or true/false for two classes) and is stored as the class index; a
    /// regressor's is a number.
    /// </summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.ArgumentInvalid"/> naming the field and the value.</exception>
    public static double Resolve(RawLabel label, IndexedPrediction prediction)
    {
        ArgumentNullException.ThrowIfNull(label);
        ArgumentNullException.ThrowIfNull(prediction);
        if (prediction.Classes is null)
        {
            return label.Number ?? throw new StrataException(
                ErrorCodes.ArgumentInvalid, $"field '{label.Field}.label': {label.Shown} is not a number, and request '{label.RequestId}' was answered by a regressor");
        }

        var classes = prediction.Classes.Split('\n');
        var text = label.Text ?? label.Number?.ToString("R", CultureInfo.InvariantCulture);
        var index = text is null ? -1 : Array.IndexOf(classes, text);
        if (index >= 0)
        {
            return index;
        }

        if (label.Number is { } n && n == Math.Floor(n) && n >= 0 && n < classes.Length)
        {
            return n;
        }

        if (label.Flag is { } flag && classes.Length == 2)
        {
            return flag ? 1 : 0;
        }

        throw new StrataException(
            ErrorCodes.ArgumentInvalid,
            $"field '{label.Field}.label': {label.Shown} is not a class of the model that answered request '{label.RequestId}' (classes: {string.Join(", ", classes)})");
    }

    private static MonitorFeedState Position(PredictionLogFeed feed) => feed.Position.Into(new MonitorFeedState(null, 0, 0));

    private static RawLabel CsvLine(string line, int number, string source)
    {
        var comma = line.IndexOf(',', StringComparison.Ordinal);
        if (comma <= 0 || line.IndexOf(',', comma + 1) >= 0)
        {
            throw new DataFormatException(ErrorCodes.SchemaInvalid, "expected two fields: request_id,label", new DataLocation(source, number));
        }

        var id = Id(line[..comma].Trim(), number, source);
        var value = line[(comma + 1)..].Trim();
        var field = $"line {number}";
        return value switch
        {
            "" => throw new DataFormatException(ErrorCodes.SchemaInvalid, $"the label of request '{id}' is empty", new DataLocation(source, number)),
            "true" => new RawLabel(id, null, true, null, field),
            "false" => new RawLabel(id, null, false, null, field),
            _ when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) => new RawLabel(id, d, null, value, field),
            _ => new RawLabel(id, null, null, value, field),
        };
    }

    private static RawLabel JsonLine(string line, int number, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 4 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("request_id", out var r) || r.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("label", out var l))
            {
                throw new DataFormatException(ErrorCodes.SchemaInvalid, "expected {\"request_id\": \"…\", \"label\": …}", new DataLocation(source, number));
            }

            return FromJson(Id(r.GetString()!, number, source), l, $"line {number}");
        }
        catch (JsonException e)
        {
            throw new DataFormatException(ErrorCodes.SchemaInvalid, $"not JSON ({e.Message})", new DataLocation(source, number));
        }
        catch (StrataException e) when (e is not DataFormatException)
        {
            throw new DataFormatException(ErrorCodes.SchemaInvalid, e.Message, new DataLocation(source, number));
        }
    }

    private static string Id(string id, int number, string source) =>
        id.Length is > 0 and <= MaxRequestId ? id : throw new DataFormatException(
            ErrorCodes.SchemaInvalid, $"the request id must be 1 to {MaxRequestId} characters", new DataLocation(source, number));
}
