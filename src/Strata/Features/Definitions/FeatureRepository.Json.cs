using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Strata.Data;

namespace Strata.Features.Definitions;

// The canonical JSON of a repository: what the metadata store keeps per version and what its digest is computed over.
// Written by hand with a fixed field order (no reflection), definitions sorted by name, features in declared order, null
// and default-less optional members left out — so the same definitions give the same bytes, whatever file held them.
public sealed partial record FeatureRepository
{
    /// <summary>The format tag of the canonical JSON.</summary>
    public const string JsonFormat = "strata.features/1";

    /// <summary>Largest canonical JSON read back, in characters.</summary>
    public const int MaxJsonLength = 16 << 20;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>The same definitions with every list of definitions sorted by name (ordinal), as the canonical JSON orders them.</summary>
    public FeatureRepository Sorted() => new(
        Entities.OrderBy(e => e.Name, StringComparer.Ordinal).ToArray(),
        Sources.OrderBy(s => s.Name, StringComparer.Ordinal).ToArray(),
        FeatureViews.OrderBy(v => v.Name, StringComparer.Ordinal).ToArray(),
        AggregationViews.OrderBy(v => v.Name, StringComparer.Ordinal).ToArray(),
        OnDemandViews.OrderBy(v => v.Name, StringComparer.Ordinal).ToArray(),
        Services.OrderBy(s => s.Name, StringComparer.Ordinal).ToArray());

    /// <summary>The canonical JSON (compact, UTF-8 safe): equal definitions give equal text.</summary>
    public string ToCanonicalJson()
    {
        var sorted = Sorted();
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("format", JsonFormat);
            Array(w, "entities", sorted.Entities, WriteEntity);
            Array(w, "sources", sorted.Sources, WriteSource);
            Array(w, "feature_views", sorted.FeatureViews, WriteFeatureView);
            Array(w, "aggregation_views", sorted.AggregationViews, WriteAggregationView);
            Array(w, "on_demand_views", sorted.OnDemandViews, WriteOnDemandView);
            Array(w, "feature_services", sorted.Services, WriteService);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>SHA-256 (lower-case hex) of the canonical JSON's UTF-8 bytes.</summary>
    public string ComputeDigest() => DigestOf(ToCanonicalJson());

    /// <summary>SHA-256 (lower-case hex) of a canonical JSON text's UTF-8 bytes.</summary>
    public static string DigestOf(string canonicalJson) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalJson)));

    /// <summary>Reads canonical JSON back (as <see cref="ToCanonicalJson"/> writes it).</summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.SchemaInvalid"/>: not canonical feature JSON.</exception>
    public static FeatureRepository FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > MaxJsonLength)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"feature definitions JSON may hold at most {MaxJsonLength} characters");
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (Str(root, "format") != JsonFormat)
            {
                throw Bad($"format is not {JsonFormat}");
            }

            return new FeatureRepository(
                List(root, "entities", ReadEntity),
                List(root, "sources", ReadSource),
                List(root, "feature_views", ReadFeatureView),
                List(root, "aggregation_views", ReadAggregationView),
                List(root, "on_demand_views", ReadOnDemandView),
                List(root, "feature_services", ReadService));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or ArgumentException or FormatException)
        {
            throw Bad(e.Message, e);
        }
    }

    private static StrataException Bad(string message, Exception? inner = null) =>
        new(ErrorCodes.SchemaInvalid, $"stored feature definitions are not valid: {message}", inner);

    // ---- writing ------------------------------------------------------------------------------------------------

    private static void Array<T>(Utf8JsonWriter w, string name, IEnumerable<T> items, Action<Utf8JsonWriter, T> write)
    {
        w.WriteStartArray(name);
        foreach (var item in items)
        {
            write(w, item);
        }

        w.WriteEndArray();
    }

    private static void Opt(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteTags(Utf8JsonWriter w, IReadOnlyDictionary<string, string> tags)
    {
        if (tags.Count == 0)
        {
            return;
        }

        w.WriteStartObject("tags");
        foreach (var (key, value) in tags.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            w.WriteString(key, value);
        }

        w.WriteEndObject();
    }

    private static void WriteField(Utf8JsonWriter w, Field f)
    {
        w.WriteStartObject();
        w.WriteString("name", f.Name);
        w.WriteString("type", f.Type.Name());
        if (!f.Nullable)
        {
            w.WriteBoolean("nullable", false);
        }

        if (f.Role != FieldRole.Feature)
        {
            w.WriteString("role", f.Role.Name());
        }

        if (f.Tags.Count > 0)
        {
            w.WriteStartArray("tags");
            foreach (var tag in f.Tags)
            {
                w.WriteStringValue(tag);
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    private static void Fields(Utf8JsonWriter w, string name, IEnumerable<Field> fields) => Array(w, name, fields, WriteField);

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values) => Array(w, name, values, (x, v) => x.WriteStringValue(v));

    private static void WriteEntity(Utf8JsonWriter w, EntityDefinition e)
    {
        w.WriteStartObject();
        w.WriteString("name", e.Name);
        Fields(w, "join_keys", e.JoinKeys);
        Opt(w, "description", e.Description);
        WriteTags(w, e.Tags);
        w.WriteEndObject();
    }

    private static void WriteSource(Utf8JsonWriter w, SourceDefinition s)
    {
        w.WriteStartObject();
        w.WriteString("name", s.Name);
        w.WriteString("kind", KindName(s.Kind));
        w.WriteString("timestamp_field", s.TimestampField);
        Opt(w, "created_timestamp_field", s.CreatedTimestampField);
        Opt(w, "path", s.Path);
        Opt(w, "format", s.Format is { } format ? FormatName(format) : null);
        Opt(w, "table", s.Table);
        Opt(w, "query", s.Query);
        if (s.Schema is { } schema)
        {
            Fields(w, "schema", schema);
        }

        Opt(w, "description", s.Description);
        w.WriteEndObject();
    }

    private static void WriteFeatureView(Utf8JsonWriter w, FeatureViewDefinition v)
    {
        w.WriteStartObject();
        w.WriteString("name", v.Name);
        Strings(w, "entities", v.Entities);
        w.WriteString("source", v.Source);
        Fields(w, "features", v.Features);
        w.WriteString("ttl", Durations.Format(v.Ttl));
        w.WriteBoolean("online", v.Online);
        w.WriteBoolean("offline", v.Offline);
        Opt(w, "owner", v.Owner);
        Opt(w, "description", v.Description);
        WriteTags(w, v.Tags);
        w.WriteEndObject();
    }

    private static void WriteAggregationView(Utf8JsonWriter w, AggregationViewDefinition v)
    {
        w.WriteStartObject();
        w.WriteString("name", v.Name);
        Strings(w, "entities", v.Entities);
        w.WriteString("source", v.Source);
        Array(w, "aggregations", v.Aggregations, (x, a) =>
        {
            x.WriteStartObject();
            x.WriteString("name", a.Name);
            x.WriteString("function", FunctionName(a.Function));
            Opt(x, "column", a.Column);
            x.WriteString("window", Durations.Format(a.Window));
            x.WriteEndObject();
        });
        w.WriteString("ttl", Durations.Format(v.Ttl));
        w.WriteBoolean("online", v.Online);
        w.WriteBoolean("offline", v.Offline);
        Opt(w, "owner", v.Owner);
        Opt(w, "description", v.Description);
        WriteTags(w, v.Tags);
        w.WriteEndObject();
    }

    private static void WriteOnDemandView(Utf8JsonWriter w, OnDemandViewDefinition v)
    {
        w.WriteStartObject();
        w.WriteString("name", v.Name);
        Fields(w, "request_fields", v.RequestFields);
        Strings(w, "inputs", v.Inputs.Select(i => i.ToString()));
        Array(w, "features", v.Features, (x, f) =>
        {
            x.WriteStartObject();
            x.WritePropertyName("field");
            WriteField(x, f.Field);
            x.WriteString("expression", f.Expression);
            x.WriteEndObject();
        });
        Opt(w, "owner", v.Owner);
        Opt(w, "description", v.Description);
        w.WriteEndObject();
    }

    private static void WriteService(Utf8JsonWriter w, FeatureServiceDefinition s)
    {
        w.WriteStartObject();
        w.WriteString("name", s.Name);
        Strings(w, "features", s.Features.Select(f => f.ToString()));
        Opt(w, "owner", s.Owner);
        Opt(w, "description", s.Description);
        w.WriteEndObject();
    }

    // ---- reading ------------------------------------------------------------------------------------------------

    private static T[] List<T>(JsonElement e, string name, Func<JsonElement, T> read) =>
        e.TryGetProperty(name, out var array) ? array.EnumerateArray().Select(read).ToArray() : [];

    private static string Str(JsonElement e, string name) =>
        e.GetProperty(name).GetString() ?? throw new FormatException($"'{name}' is null");

    private static string? OptStr(JsonElement e, string name) =>
        e.TryGetProperty(name, out var value) ? value.GetString() : null;

    private static bool Bool(JsonElement e, string name) => e.GetProperty(name).GetBoolean();

    private static TimeSpan Span(JsonElement e, string name) =>
        Durations.TryParse(Str(e, name), out var span) ? span : throw new FormatException($"'{name}' is not a duration");

    private static Dictionary<string, string> ReadTags(JsonElement e) =>
        e.TryGetProperty("tags", out var tags)
            ? tags.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);

    private static Field ReadField(JsonElement e)
    {
        if (!DataTypes.TryParse(Str(e, "type"), out var type))
        {
            throw new FormatException($"unknown type '{Str(e, "type")}'");
        }

        var role = FieldRole.Feature;
        if (OptStr(e, "role") is { } roleName && !FieldRoles.TryParse(roleName, out role))
        {
            throw new FormatException($"unknown role '{roleName}'");
        }

        var tags = e.TryGetProperty("tags", out var t) ? t.EnumerateArray().Select(x => x.GetString() ?? "").ToArray() : null;
        var nullable = !e.TryGetProperty("nullable", out var n) || n.GetBoolean();
        return new Field(Str(e, "name"), type, nullable, role, tags);
    }

    private static Field[] ReadFields(JsonElement e, string name) => List(e, name, ReadField);

    private static EntityDefinition ReadEntity(JsonElement e) =>
        new(Str(e, "name"), ReadFields(e, "join_keys")) { Description = OptStr(e, "description"), Tags = ReadTags(e) };

    private static SourceDefinition ReadSource(JsonElement e) =>
        new(Str(e, "name"), ParseKind(Str(e, "kind")), Str(e, "timestamp_field"))
        {
            CreatedTimestampField = OptStr(e, "created_timestamp_field"),
            Path = OptStr(e, "path"),
            Format = OptStr(e, "format") is { } format ? ParseFormat(format) : null,
            Table = OptStr(e, "table"),
            Query = OptStr(e, "query"),
            Schema = e.TryGetProperty("schema", out _) ? new Schema(ReadFields(e, "schema")) : null,
            Description = OptStr(e, "description"),
        };

    private static FeatureViewDefinition ReadFeatureView(JsonElement e) =>
        new(Str(e, "name"), List(e, "entities", x => x.GetString() ?? ""), Str(e, "source"), ReadFields(e, "features"))
        {
            Ttl = Span(e, "ttl"),
            Online = Bool(e, "online"),
            Offline = Bool(e, "offline"),
            Owner = OptStr(e, "owner"),
            Description = OptStr(e, "description"),
            Tags = ReadTags(e),
        };

    private static AggregationViewDefinition ReadAggregationView(JsonElement e) =>
        new(Str(e, "name"), List(e, "entities", x => x.GetString() ?? ""), Str(e, "source"), List(e, "aggregations", a =>
            new AggregationDefinition(Str(a, "name"), ParseFunction(Str(a, "function")), OptStr(a, "column"), Span(a, "window"))))
        {
            Ttl = Span(e, "ttl"),
            Online = Bool(e, "online"),
            Offline = Bool(e, "offline"),
            Owner = OptStr(e, "owner"),
            Description = OptStr(e, "description"),
            Tags = ReadTags(e),
        };

    private static OnDemandViewDefinition ReadOnDemandView(JsonElement e) =>
        new(
            Str(e, "name"),
            ReadFields(e, "request_fields"),
            List(e, "inputs", x => FeatureReference.Parse(x.GetString() ?? "")),
            List(e, "features", f => new OnDemandFeature(ReadField(f.GetProperty("field")), Str(f, "expression"))))
        {
            Owner = OptStr(e, "owner"),
            Description = OptStr(e, "description"),
        };

    private static FeatureServiceDefinition ReadService(JsonElement e) =>
        new(Str(e, "name"), List(e, "features", x => FeatureReference.Parse(x.GetString() ?? "")))
        {
            Owner = OptStr(e, "owner"),
            Description = OptStr(e, "description"),
        };

    // ---- names --------------------------------------------------------------------------------------------------

    /// <summary>The word for a source kind in JSON (file, postgres_table, postgres_query, push).</summary>
    internal static string KindName(SourceKind kind) => kind switch
    {
        SourceKind.File => "file",
        SourceKind.PostgresTable => "postgres_table",
        SourceKind.PostgresQuery => "postgres_query",
        _ => "push",
    };

    private static SourceKind ParseKind(string text) => text switch
    {
        "file" => SourceKind.File,
        "postgres_table" => SourceKind.PostgresTable,
        "postgres_query" => SourceKind.PostgresQuery,
        "push" => SourceKind.Push,
        _ => throw new FormatException($"unknown source kind '{text}'"),
    };

    /// <summary>The word for a file format (csv, jsonl, arrow).</summary>
    internal static string FormatName(DataFormat format) => format switch
    {
        DataFormat.Csv => "csv",
        DataFormat.JsonLines => "jsonl",
        _ => "arrow",
    };

    /// <summary>Parses csv, jsonl, arrow.</summary>
    internal static bool TryParseFormat(string text, out DataFormat format)
    {
        (var ok, format) = text switch
        {
            "csv" => (true, DataFormat.Csv),
            "jsonl" => (true, DataFormat.JsonLines),
            "arrow" => (true, DataFormat.Arrow),
            _ => (false, default),
        };
        return ok;
    }

    private static DataFormat ParseFormat(string text) =>
        TryParseFormat(text, out var format) ? format : throw new FormatException($"unknown format '{text}'");

    /// <summary>The word for an aggregate function (count, sum, mean, min, max, last).</summary>
    internal static string FunctionName(AggregationFunction function) => function.ToString().ToLowerInvariant();

    /// <summary>Parses an aggregate function's word.</summary>
    internal static bool TryParseFunction(string text, out AggregationFunction function)
    {
        function = default;
        return text is "count" or "sum" or "mean" or "min" or "max" or "last" && Enum.TryParse(text, ignoreCase: true, out function);
    }

    private static AggregationFunction ParseFunction(string text) =>
        TryParseFunction(text, out var f) ? f : throw new FormatException($"unknown aggregate function '{text}'");
}
