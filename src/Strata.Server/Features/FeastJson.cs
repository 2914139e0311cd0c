using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Strata.Features;
using Strata.Features.OnlineStore;
using Strata.Server.Http;

namespace Strata.Server.Features;

/// <summary>
/// Reads and writes the JSON of Feast's Python feature server (get-online-features, push, materialize), so Feast clients
/// and scripts talk to Strata unchanged. Parsed with a forward-only reader against the declared types, so a wrong type
/// is a 400 naming the column and row, and nothing is bound by reflection.
/// </summary>
internal static class FeastJson
{
    /// <summary>Most entity rows or pushed rows one request may carry.</summary>
    public const int MaxRows = 100_000;

    private static readonly JsonEncodedText PresentText = JsonEncodedText.Encode("PRESENT");
    private static readonly JsonEncodedText NullValueText = JsonEncodedText.Encode("NULL_VALUE");
    private static readonly JsonEncodedText OutsideMaxAgeText = JsonEncodedText.Encode("OUTSIDE_MAX_AGE");
    private static readonly JsonEncodedText NotFoundText = JsonEncodedText.Encode("NOT_FOUND");
    private static readonly JsonEncodedText EpochText = JsonEncodedText.Encode("1970-01-01T00:00:00Z");

    /// <summary>A get-online-features request.</summary>
    public sealed record OnlineRequest(IReadOnlyList<string>? Features, string? FeatureService, IReadOnlyList<(string Name, JsonElement Values)> Entities, bool FullFeatureNames);

    /// <summary>A push body: the source, its rows as Feast's <c>df</c> (read against the source's schema later), the target.</summary>
    public sealed record PushRequest(string Source, JsonElement Frame, PushTarget To);

    /// <summary>A materialize body; <see cref="Start"/> is null for an incremental one, <see cref="Views"/> when every view is meant.</summary>
    public sealed record MaterializeRequest(long? Start, long End, IReadOnlyList<string>? Views);

    /// <summary>Parses a get-online-features body.</summary>
    /// <exception cref="StrataException">A body not of Feast's shape (400), or text that is not UTF-8 (400, <c>data.encoding</c>).</exception>
    public static OnlineRequest ReadOnlineRequest(JsonElement body) => Utf8(body, ReadOnlineRequestUnchecked);

    /// <summary>Parses a push body.</summary>
    /// <exception cref="StrataException">A body not of Feast's shape (400), or text that is not UTF-8 (400, <c>data.encoding</c>).</exception>
    public static PushRequest ReadPush(JsonElement body) => Utf8(body, ReadPushUnchecked);

    /// <summary>Parses a materialize (<paramref name="incremental"/>: materialize-incremental) body.</summary>
    /// <exception cref="StrataException">A body not of Feast's shape (400), or text that is not UTF-8 (400, <c>data.encoding</c>).</exception>
    public static MaterializeRequest ReadMaterialize(JsonElement body, bool incremental) =>
        Utf8<MaterializeRequest>(body, incremental ? ReadIncrementalUnchecked : ReadMaterializeUnchecked);

    private static OnlineRequest ReadOnlineRequestUnchecked(JsonElement body)
    {
        RequireObject(body, "the request body");
        List<string>? features = null;
        string? service = null;
        var entities = new List<(string, JsonElement)>();
        var full = false;
        foreach (var property in body.EnumerateObject())
        {
            switch (property.Name)
            {
                case "features":
                    features = Strings(property.Value, "features");
                    break;
                case "feature_service":
                    service = property.Value.ValueKind == JsonValueKind.Null ? null : String(property.Value, "feature_service");
                    break;
                case "entities":
                    RequireObject(property.Value, "entities");
                    foreach (var entity in property.Value.EnumerateObject())
                    {
                        if (entity.Value.ValueKind != JsonValueKind.Array)
                        {
                            throw Invalid($"entities.{entity.Name} must be an array of values, one per entity");
                        }

                        entities.Add((entity.Name, entity.Value));
                    }

                    break;
                case "full_feature_names":
                    full = property.Value.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False or JsonValueKind.Null => false,
                        _ => throw Invalid("full_feature_names must be true or false"),
                    };
                    break;
                default:
                    throw Invalid($"unknown field '{property.Name}' (expected features, feature_service, entities, full_feature_names)");
            }
        }

        if (entities.Count == 0)
        {
            throw Invalid("entities is missing or empty: give each join key as a column, e.g. {\"origin\": [\"SFO\"]}");
        }

        return new OnlineRequest(features, service, entities, full);
    }

    private static PushRequest ReadPushUnchecked(JsonElement body)
    {
        RequireObject(body, "the request body");
        string? source = null;
        JsonElement? frame = null;
        var to = PushTarget.Online;
        foreach (var property in body.EnumerateObject())
        {
            switch (property.Name)
            {
                case "push_source_name":
                    source = String(property.Value, "push_source_name");
                    break;
                case "df":
                    frame = property.Value;
                    break;
                case "to":
                    to = String(property.Value, "to") switch
                    {
                        "online" => PushTarget.Online,
                        "offline" => PushTarget.Offline,
                        "online_and_offline" => PushTarget.OnlineAndOffline,
                        var other => throw Invalid($"to must be online, offline or online_and_offline, not '{other}'"),
                    };
                    break;
                case "allow_registry_cache" or "transform_on_write":
                    break; // Feast client options with no meaning here
                default:
                    throw Invalid($"unknown field '{property.Name}' (expected push_source_name, df, to)");
            }
        }

        return source is null || frame is null ? throw Invalid("push needs push_source_name and df") : new PushRequest(source, frame.Value, to);
    }

    private static MaterializeRequest ReadMaterializeUnchecked(JsonElement body) => ReadMaterializeBody(body, needStart: true);

    private static MaterializeRequest ReadIncrementalUnchecked(JsonElement body) => ReadMaterializeBody(body, needStart: false);

    private static MaterializeRequest ReadMaterializeBody(JsonElement body, bool needStart)
    {
        RequireObject(body, "the request body");
        long? start = null, end = null;
        List<string>? views = null;
        foreach (var property in body.EnumerateObject())
        {
            switch (property.Name)
            {
                case "start_ts" when needStart:
                    start = ReadTimestamp(property.Value, "start_ts");
                    break;
                case "end_ts":
                    end = ReadTimestamp(property.Value, "end_ts");
                    break;
                case "feature_views":
                    views = Strings(property.Value, "feature_views");
                    if (views is { Count: 0 })
                    {
                        // Only an absent (or null) list means every view; an empty one names none, and was likely built from a filter that matched nothing.
                        throw Invalid("feature_views is empty, so it names no view to materialize; leave it out to materialize every online view");
                    }

                    break;
                case "disable_event_timestamp":
                    break;
                default:
                    throw Invalid($"unknown field '{property.Name}' (expected {(needStart ? "start_ts, " : "")}end_ts, feature_views)");
            }
        }

        if ((needStart && start is null) || end is null)
        {
            throw Invalid(needStart ? "materialize needs start_ts and end_ts" : "materialize-incremental needs end_ts");
        }

        return new MaterializeRequest(start, end.Value, views);
    }

    /// <summary>
    /// Builds the entity rows of a request: join keys and request fields take the types the definitions declare (a
    /// value of another type is refused), anything else its JSON type.
    /// </summary>
    /// <exception cref="StrataException">A value of the wrong type (400), or text that is not UTF-8 (400, <c>data.encoding</c>).</exception>
    public static Table EntityRows(OnlineRequest request, IReadOnlyDictionary<string, DataType> declared)
    {
        try
        {
            return EntityRowsUnchecked(request, declared);
        }
        catch (InvalidOperationException e)
        {
            throw RequestJson.NotUtf8(e);
        }
    }

    private static Table EntityRowsUnchecked(OnlineRequest request, IReadOnlyDictionary<string, DataType> declared)
    {
        var rows = -1;
        var fields = new List<Field>();
        var columns = new List<Column>();
        foreach (var (name, values) in request.Entities)
        {
            var count = values.GetArrayLength();
            if (rows >= 0 && count != rows)
            {
                throw Invalid($"entities.{name} has {count} values but entities.{request.Entities[0].Name} has {rows}; every entity column needs one value per entity");
            }

            rows = count;
            if (count > MaxRows)
            {
                throw new StrataException(ErrorCodes.DataLimit, $"at most {MaxRows} entities per request; entities.{name} has {count}");
            }

            var type = declared.TryGetValue(name, out var t) ? t : Infer(values);
            fields.Add(new Field(name, type, nullable: true));
            columns.Add(Column(values, type, $"entities.{name}"));
        }

        return new Table(new Schema(fields), columns);
    }

    /// <summary>Builds pushed rows (Feast's <c>df</c>: column name → values) with the source's declared types.</summary>
    /// <exception cref="StrataException">Columns or values that do not fit the schema (400), or text that is not UTF-8 (400, <c>data.encoding</c>).</exception>
    public static Table Frame(JsonElement frame, Schema declared, string source)
    {
        try
        {
            return FrameUnchecked(frame, declared, source);
        }
        catch (InvalidOperationException e)
        {
            throw RequestJson.NotUtf8(e);
        }
    }

    private static Table FrameUnchecked(JsonElement frame, Schema declared, string source)
    {
        RequireObject(frame, "df");
        var rows = -1;
        var given = new Dictionary<string, Column>(StringComparer.Ordinal);
        foreach (var property in frame.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.Array)
            {
                throw Invalid($"df.{property.Name} must be an array with one value per row");
            }

            var count = property.Value.GetArrayLength();
            if (count > MaxRows)
            {
                throw new StrataException(ErrorCodes.DataLimit, $"at most {MaxRows} rows per push; df.{property.Name} has {count}");
            }

            if (rows >= 0 && count != rows)
            {
                throw Invalid($"df.{property.Name} has {count} values but other columns have {rows}");
            }

            rows = count;
            var index = declared.TryIndexOf(property.Name);
            if (index < 0)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"push source '{source}' has no column '{property.Name}' (columns: {string.Join(", ", declared.Names)})");
            }

            given[property.Name] = Column(property.Value, declared[index].Type, $"df.{property.Name}");
        }

        var missing = declared.Names.Where(n => !given.ContainsKey(n)).ToArray();
        if (missing.Length > 0)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"push to '{source}' lacks column(s) {string.Join(", ", missing)}");
        }

        return new Table(new Schema(declared.Select(f => f.WithNullable(true))), declared.Select(f => given[f.Name]));
    }

    /// <summary>Writes Feast's response: metadata.feature_names, then one result per column (entity columns first).</summary>
    public static void WriteOnlineResponse(Utf8JsonWriter writer, Table entityRows, OnlineFeatures features)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("metadata");
        writer.WriteStartArray("feature_names");
        foreach (var field in entityRows.Schema)
        {
            writer.WriteStringValue(field.Name);
        }

        foreach (var name in features.FeatureNames)
        {
            writer.WriteStringValue(name);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteStartArray("results");
        for (var c = 0; c < entityRows.ColumnCount; c++)
        {
            var column = entityRows[c];
            writer.WriteStartObject();
            writer.WriteStartArray("values");
            if (column is Column<long> { Type: DataType.Timestamp } timestamps)
            {
                // As stored values are written (ISO 8601 UTC, microseconds when there are any), not as a DateTime prints.
                for (var r = 0; r < column.Length; r++)
                {
                    if (timestamps.IsValid(r))
                    {
                        writer.WriteStringValue(Timestamp.Format(timestamps[r]));
                    }
                    else
                    {
                        writer.WriteNullValue();
                    }
                }
            }
            else
            {
                for (var r = 0; r < column.Length; r++)
                {
                    WriteObject(writer, column.GetValue(r));
                }
            }

            writer.WriteEndArray();
            WriteRepeated(writer, "statuses", PresentText, column.Length);
            WriteRepeated(writer, "event_timestamps", EpochText, column.Length);
            writer.WriteEndObject();
        }

        // NOTE: every feature of an entity row shares the row's event time, so formatting each distinct time once (not
        // once per value) takes ISO 8601 formatting, the dearest part of the response, off the per-value path.
        var times = new Dictionary<long, JsonEncodedText>();
        foreach (var values in features.Values)
        {
            writer.WriteStartObject();
            writer.WriteStartArray("values");
            foreach (var value in values)
            {
                WriteValue(writer, value);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("statuses");
            foreach (var value in values)
            {
                writer.WriteStringValue(value.Status switch
                {
                    FeatureStatus.Present => PresentText,
                    FeatureStatus.NullValue => NullValueText,
                    FeatureStatus.OutsideMaxAge => OutsideMaxAgeText,
                    _ => NotFoundText,
                });
            }

            writer.WriteEndArray();
            writer.WriteStartArray("event_timestamps");
            foreach (var value in values)
            {
                if (!times.TryGetValue(value.EventTimestamp, out var time))
                {
                    time = JsonEncodedText.Encode(Timestamp.Format(value.EventTimestamp));
                    times[value.EventTimestamp] = time;
                }

                writer.WriteStringValue(time);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Feast's status names.</summary>
    public static string StatusName(FeatureStatus status) => status switch
    {
        FeatureStatus.Present => "PRESENT",
        FeatureStatus.NullValue => "NULL_VALUE",
        FeatureStatus.OutsideMaxAge => "OUTSIDE_MAX_AGE",
        _ => "NOT_FOUND",
    };

    /// <summary>A timestamp field: ISO 8601 text (no zone = UTC).</summary>
    public static long ReadTimestamp(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.String && Timestamp.TryParse(element.GetString(), out var micros)
            ? micros
            : throw Invalid($"{field} must be an ISO 8601 timestamp such as \"2001-06-01T00:00:00Z\", not {Show(element)}");

    /// <summary>An optional list of names.</summary>
    public static List<string>? Strings(JsonElement element, string field)
    {
        if (element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"{field} must be an array of strings");
        }

        var list = new List<string>(element.GetArrayLength());
        foreach (var item in element.EnumerateArray())
        {
            list.Add(String(item, field));
        }

        return list;
    }

    /// <summary>A string field.</summary>
    public static string String(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.String ? element.GetString()! : throw Invalid($"{field} must be a string, not {Show(element)}");

    /// <summary>The body must be a JSON object.</summary>
    public static void RequireObject(JsonElement element, string what)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{what} must be a JSON object");
        }
    }

    /// <summary>A 400 with a message.</summary>
    public static StrataException Invalid(string message) => new(ErrorCodes.ArgumentInvalid, message);

    /// <summary>
    /// Runs a parser over the body: the JSON reader finds text that is not UTF-8 (a raw 0xFF, an escaped lone surrogate)
    /// only when a string or a field name is read, anywhere in the parser, as an <see cref="InvalidOperationException"/>.
    /// </summary>
    private static T Utf8<T>(JsonElement body, Func<JsonElement, T> read)
    {
        try
        {
            return read(body);
        }
        catch (InvalidOperationException e)
        {
            throw RequestJson.NotUtf8(e);
        }
    }

    private static DataType Infer(JsonElement values)
    {
        foreach (var value in values.EnumerateArray())
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.String: return DataType.String;
                case JsonValueKind.True or JsonValueKind.False: return DataType.Bool;
                case JsonValueKind.Number: return value.TryGetInt64(out _) ? DataType.Int64 : DataType.Float64;
            }
        }

        return DataType.String;
    }

    private static Column Column(JsonElement values, DataType type, string field)
    {
        var builder = ColumnBuilder.Create(type, values.GetArrayLength());
        var row = 0;
        foreach (var value in values.EnumerateArray())
        {
            if (value.ValueKind == JsonValueKind.Null)
            {
                builder.AppendNull();
            }
            else
            {
                builder.AppendObject(Convert(value, type, field, row));
            }

            row++;
        }

        return builder.Build();
    }

    private static object Convert(JsonElement value, DataType type, string field, int row)
    {
        object? result = type switch
        {
            DataType.String when value.ValueKind == JsonValueKind.String => value.GetString(),
            DataType.Int64 when value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var l) => l,
            DataType.Int32 when value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i) => i,
            // A number beyond the column's range (1e400 for float64, 1e39 for float32) would be stored as an infinity.
            DataType.Float64 when value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && double.IsFinite(d) => d,
            DataType.Float32 when value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var f) && float.IsFinite((float)f) => (float)f,
            DataType.Bool when value.ValueKind is JsonValueKind.True or JsonValueKind.False => value.GetBoolean(),
            DataType.Timestamp when value.ValueKind == JsonValueKind.String && Timestamp.TryParse(value.GetString(), out var micros) => micros,
            _ => null,
        };
        if (result is not null)
        {
            return result;
        }

        var largest = type switch
        {
            DataType.Float32 => float.MaxValue.ToString("R", CultureInfo.InvariantCulture),
            DataType.Float64 => double.MaxValue.ToString("R", CultureInfo.InvariantCulture),
            _ => null,
        };
        throw Invalid(largest is not null && value.ValueKind == JsonValueKind.Number
            ? $"{field}[{row}] is {Show(value)}, beyond the range of the column ({type.Name()}, at most ±{largest})"
            : $"{field}[{row}] is {Show(value)}, but the column is {type.Name()}");
    }

    private static string Show(JsonElement element)
    {
        var text = element.GetRawText();
        return text.Length > 40 ? text[..40] + "…" : text;
    }

    private static void WriteRepeated(Utf8JsonWriter writer, string name, JsonEncodedText value, int count)
    {
        writer.WriteStartArray(name);
        for (var i = 0; i < count; i++)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }

    private static void WriteValue(Utf8JsonWriter writer, FeatureValue value)
    {
        if (!value.HasValue)
        {
            writer.WriteNullValue();
            return;
        }

        switch (value.Type)
        {
            case DataType.Float64:
                WriteDouble(writer, value.AsFloat64());
                break;
            case DataType.Float32:
                WriteDouble(writer, value.AsFloat32());
                break;
            case DataType.Int64:
                writer.WriteNumberValue(value.AsInt64());
                break;
            case DataType.Int32:
                writer.WriteNumberValue(value.AsInt32());
                break;
            case DataType.Bool:
                writer.WriteBooleanValue(value.AsBool());
                break;
            case DataType.Timestamp:
                writer.WriteStringValue(Timestamp.Format(value.AsInt64()));
                break;
            default:
                writer.WriteStringValue(value.AsString());
                break;
        }
    }

    private static void WriteObject(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case string s: writer.WriteStringValue(s); break;
            case long l: writer.WriteNumberValue(l); break;
            case int i: writer.WriteNumberValue(i); break;
            case double d: WriteDouble(writer, d); break;
            case float f: WriteDouble(writer, f); break;
            case bool b: writer.WriteBooleanValue(b); break;
            default: writer.WriteStringValue(System.Convert.ToString(value, CultureInfo.InvariantCulture)); break;
        }
    }

    private static void WriteDouble(Utf8JsonWriter writer, double value)
    {
        // JSON has no NaN or infinity; Feast's server writes null for them too.
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
