using System.Globalization;
using System.Text;
using Strata.Data.Yaml;
using YamlDotNet.RepresentationModel;

namespace Strata.Data;

/// <summary>
/// The editable YAML form of a <see cref="Schema"/>: one entry per field with its type, nullability, role, tags and
/// constraints. Reading checks every key and value and reports mistakes with their line; nothing in the file is executed.
/// </summary>
public static class SchemaFile
{
    /// <summary>The format tag written at the top of every schema file.</summary>
    public const string Format = "strata.schema/1";

    /// <summary>Largest schema file read, in bytes.</summary>
    public const int MaxBytes = 16 << 20;

    /// <summary>Renders a schema as YAML.</summary>
    public static string ToYaml(Schema schema, string? comment = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var sb = new StringBuilder();
        sb.Append("# Strata schema: one entry per column. Edit types, roles (feature, label, entity_key, event_time, id, ignore),\n");
        sb.Append("# tags (e.g. pii:email) and constraints; `strata data validate FILE --schema THIS` checks data against it.\n");
        if (comment is not null)
        {
            foreach (var line in comment.Split('\n'))
            {
                sb.Append("# ").Append(line).Append('\n');
            }
        }

        sb.Append("format: ").Append(Format).Append('\n');
        sb.Append("fields:\n");
        foreach (var field in schema)
        {
            sb.Append("  - name: ").Append(Quote(field.Name)).Append('\n');
            sb.Append("    type: ").Append(field.Type.Name()).Append('\n');
            sb.Append("    nullable: ").Append(field.Nullable ? "true" : "false").Append('\n');
            sb.Append("    role: ").Append(field.Role.Name()).Append('\n');
            if (field.Tags.Count > 0)
            {
                sb.Append("    tags: [").Append(string.Join(", ", field.Tags.Select(Quote))).Append("]\n");
            }

            if (field.Constraints is { IsEmpty: false } c)
            {
                sb.Append("    constraints:\n");
                if (c.MaxNullFraction is { } nulls)
                {
                    sb.Append("      max_null_fraction: ").Append(Number(nulls)).Append('\n');
                }

                if (c.Min is { } min)
                {
                    sb.Append("      min: ").Append(Bound(field.Type, min)).Append('\n');
                }

                if (c.Max is { } max)
                {
                    sb.Append("      max: ").Append(Bound(field.Type, max)).Append('\n');
                }

                if (c.Categories is { } categories)
                {
                    sb.Append("      categories: ");
                    AppendFlowList(sb, categories.Select(Quote), indent: 8);
                }

                if (c.MaxUnknownFraction is { } unknown)
                {
                    sb.Append("      max_unknown_fraction: ").Append(Number(unknown)).Append('\n');
                }

                if (c.Skew is { } skew)
                {
                    sb.Append("      skew: { method: ").Append(skew.Method == SkewMethod.LInfinity ? "linf" : "jensen_shannon")
                      .Append(", threshold: ").Append(Number(skew.Threshold)).Append(" }\n");
                }
            }
        }

        return sb.ToString();
    }

    /// <summary>Writes a schema file crash-safely.</summary>
    public static Task WriteAsync(Schema schema, string path, string? comment = null, CancellationToken cancellationToken = default) =>
        Artifacts.DurableFile.WriteAllTextAsync(path, ToYaml(schema, comment), cancellationToken);

    /// <summary>Reads a schema file.</summary>
    public static async Task<Schema> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        FileInfo info = new(path);
        if (!info.Exists)
        {
            throw new StrataException(ErrorCodes.NotFound, $"{path}: no such schema file");
        }

        if (info.Length > MaxBytes)
        {
            throw new DataFormatException(ErrorCodes.DataLimit, $"a schema file may hold at most {MaxBytes} bytes", new DataLocation(path));
        }

        var text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        return Parse(text, path);
    }

    /// <summary>Parses schema YAML; <paramref name="name"/> names the input in error messages.</summary>
    public static Schema Parse(string yaml, string name = "schema")
    {
        ArgumentNullException.ThrowIfNull(yaml);
        if (yaml.Length > MaxBytes)
        {
            throw new DataFormatException(ErrorCodes.DataLimit, $"a schema file may hold at most {MaxBytes} bytes", new DataLocation(name));
        }

        var reader = new Reader(name);
        var documents = reader.Load(yaml);
        if (documents.Count != 1 || documents[0] is not YamlMappingNode root)
        {
            throw new DataFormatException(ErrorCodes.SchemaInvalid, "a schema file is one YAML mapping with `format` and `fields`", new DataLocation(name, 1));
        }

        reader.OnlyKeys(root, "format", "fields");
        var format = reader.String(root, "format", required: false);
        if (format is not null && format != Format)
        {
            throw reader.Error(root, $"format '{format}' is not {Format}");
        }

        if (!root.Children.TryGetValue(new YamlScalarNode("fields"), out var fieldsNode) || fieldsNode is not YamlSequenceNode fields)
        {
            throw reader.Error(root, "`fields` must be a list of columns");
        }

        var result = new List<Field>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in fields)
        {
            if (node is not YamlMappingNode f)
            {
                throw reader.Error(node, "each entry of `fields` is a mapping with at least `name` and `type`");
            }

            var field = reader.Field(f);
            if (!names.Add(field.Name))
            {
                throw reader.Error(f, $"duplicate field name '{field.Name}'");
            }

            result.Add(field);
        }

        return new Schema(result);
    }

    private static void AppendFlowList(StringBuilder sb, IEnumerable<string> items, int indent)
    {
        sb.Append('[');
        var lineLength = indent + 1;
        var first = true;
        foreach (var item in items)
        {
            if (!first)
            {
                sb.Append(',');
                lineLength++;
                if (lineLength + item.Length > 110)
                {
                    sb.Append('\n').Append(' ', indent);
                    lineLength = indent;
                }
                else
                {
                    sb.Append(' ');
                    lineLength++;
                }
            }

            sb.Append(item);
            lineLength += item.Length;
            first = false;
        }

        sb.Append("]\n");
    }

    /// <summary>A YAML double-quoted scalar (its escapes are JSON's, plus any control character as \uXXXX).</summary>
    private static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var ch in value)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (char.IsControl(ch))
                    {
                        sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(ch);
                    }

                    break;
            }
        }

        return sb.Append('"').ToString();
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Bound(DataType type, double value) =>
        type == DataType.Timestamp ? Timestamp.Format((long)value) : Number(value);

    /// <summary>Reads nodes into fields, with the line of every mistake.</summary>
    private sealed class Reader(string name) : YamlFileReader(name)
    {
        private static readonly string[] FieldKeys = ["name", "type", "nullable", "role", "tags", "constraints", "description"];
        private static readonly string[] ConstraintKeys = ["max_null_fraction", "min", "max", "categories", "max_unknown_fraction", "skew"];

        public Field Field(YamlMappingNode node)
        {
            OnlyKeys(node, FieldKeys);
            var fieldName = String(node, "name", required: true)!;
            if (fieldName.Length == 0)
            {
                throw Error(node, "a field name cannot be empty");
            }

            var typeName = String(node, "type", required: true);
            if (!DataTypes.TryParse(typeName, out var type))
            {
                throw Error(Child(node, "type")!, $"field '{fieldName}': unknown type '{typeName}' (bool, int32, int64, float32, float64, string, timestamp)");
            }

            var roleName = String(node, "role", required: false);
            var role = FieldRole.Feature;
            if (roleName is not null && !FieldRoles.TryParse(roleName, out role))
            {
                throw Error(Child(node, "role")!, $"field '{fieldName}': unknown role '{roleName}' (feature, label, entity_key, event_time, id, ignore)");
            }

            var nullable = Bool(node, "nullable", yesNo: true) ?? true;
            var tags = List(node, "tags");
            FieldConstraints? constraints = null;
            if (Child(node, "constraints") is { } c)
            {
                constraints = Constraints(c, fieldName, type);
            }

            return new Field(fieldName, type, nullable, role, tags, constraints);
        }

        private FieldConstraints Constraints(YamlNode node, string field, DataType type)
        {
            if (node is not YamlMappingNode map)
            {
                throw Error(node, $"field '{field}': `constraints` must be a mapping");
            }

            OnlyKeys(map, ConstraintKeys);
            SkewCheck? skew = null;
            if (Child(map, "skew") is { } s)
            {
                if (s is not YamlMappingNode skewMap)
                {
                    throw Error(s, $"field '{field}': `skew` is a mapping with `method` and `threshold`");
                }

                OnlyKeys(skewMap, "method", "threshold");
                var method = String(skewMap, "method", required: true)!.ToLowerInvariant() switch
                {
                    "linf" or "l_infinity" or "infinity_norm" => SkewMethod.LInfinity,
                    "jensen_shannon" or "js" => SkewMethod.JensenShannon,
                    var other => throw Error(skewMap, $"field '{field}': unknown skew method '{other}' (linf, jensen_shannon)"),
                };
                skew = new SkewCheck(method, Fraction(skewMap, "threshold", field) ?? throw Error(skewMap, $"field '{field}': skew needs a `threshold`"));
            }

            var categories = Child(map, "categories") is null ? null : List(map, "categories");
            if (categories is not null && type != DataType.String)
            {
                throw Error(map, $"field '{field}': `categories` apply to string columns only");
            }

            return new FieldConstraints
            {
                MaxNullFraction = Fraction(map, "max_null_fraction", field),
                Min = BoundValue(map, "min", field, type),
                Max = BoundValue(map, "max", field, type),
                Categories = categories,
                MaxUnknownFraction = Fraction(map, "max_unknown_fraction", field),
                Skew = skew,
            };
        }

        private double? BoundValue(YamlMappingNode map, string key, string field, DataType type)
        {
            if (Child(map, key) is not { } node)
            {
                return null;
            }

            var text = Scalar(node, key);
            if (type == DataType.Timestamp)
            {
                return Timestamp.TryParse(text, out var micros) ? micros : throw Error(node, $"field '{field}': `{key}` must be an ISO 8601 timestamp, not '{text}'");
            }

            if (!type.IsNumeric())
            {
                throw Error(node, $"field '{field}': `{key}` applies to numeric and timestamp columns only");
            }

            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && !double.IsNaN(value)
                ? value
                : throw Error(node, $"field '{field}': `{key}` must be a number, not '{text}'");
        }

        private double? Fraction(YamlMappingNode map, string key, string field)
        {
            if (Child(map, key) is not { } node)
            {
                return null;
            }

            var text = Scalar(node, key);
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value is >= 0 and <= 1
                ? value
                : throw Error(node, $"field '{field}': `{key}` must be a number between 0 and 1, not '{text}'");
        }
    }
}
