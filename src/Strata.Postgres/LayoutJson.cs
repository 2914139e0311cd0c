using System.Globalization;
using System.Text.Json;
using Strata.Features;

namespace Strata.Postgres;

/// <summary>
/// A view layout as JSON, stored beside each online table so every replica rebuilds the same layout (types, nullability,
/// TTL) without the feature repository.
/// </summary>
internal static class LayoutJson
{
    public static string Format(FeatureViewLayout view)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("name", view.Name);
            writer.WriteString("event", view.EventTimestampColumn);
            writer.WriteString("created", view.CreatedTimestampColumn);
            writer.WriteNumber("ttlTicks", view.Ttl.Ticks);
            WriteFields(writer, "keys", view.JoinKeys);
            WriteFields(writer, "features", view.Features);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    public static FeatureViewLayout Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new FeatureViewLayout(
            root.GetProperty("name").GetString()!,
            ReadFields(root.GetProperty("keys")),
            root.GetProperty("event").GetString()!,
            ReadFields(root.GetProperty("features")),
            root.GetProperty("created").GetString(),
            TimeSpan.FromTicks(root.GetProperty("ttlTicks").GetInt64()));
    }

    private static void WriteFields(Utf8JsonWriter writer, string name, IReadOnlyList<Field> fields)
    {
        writer.WriteStartArray(name);
        foreach (var field in fields)
        {
            writer.WriteStartObject();
            writer.WriteString("name", field.Name);
            writer.WriteString("type", field.Type.Name());
            writer.WriteBoolean("nullable", field.Nullable);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static Field[] ReadFields(JsonElement array) =>
        array.EnumerateArray().Select(f =>
        {
            var typeName = f.GetProperty("type").GetString();
            if (!DataTypes.TryParse(typeName, out var type))
            {
                throw new StrataException(ErrorCodes.DataMalformed, string.Create(CultureInfo.InvariantCulture, $"stored online view layout has an unknown type '{typeName}'"));
            }

            return new Field(f.GetProperty("name").GetString()!, type, f.GetProperty("nullable").GetBoolean());
        }).ToArray();
}
