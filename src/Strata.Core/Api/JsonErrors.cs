using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace Strata.Api;

/// <summary>
/// Says what is wrong with a JSON document in its own terms, for the caller who sent it: System.Text.Json's messages
/// name .NET types ("could not be converted to System.Int32", "missing required properties … for type
/// 'Strata.Serving.Deployment'"), which tell a caller little and show the server's internals.
/// </summary>
public static partial class JsonErrors
{
    /// <summary>
    /// The problem, naming the field by its path in the document: <c>field 'limits.max_queue' must be a whole
    /// number</c>, <c>field 'model' is required</c>, <c>unknown field 'chalenger_weight'</c>; malformed JSON as
    /// <c><paramref name="what"/> is not valid JSON: … (line 1, byte 12)</c>.
    /// </summary>
    /// <param name="e">The serializer's or reader's failure.</param>
    /// <param name="what">What the document is, for malformed JSON ("the request body", "the deployment").</param>
    /// <param name="document">The type read, when known: an unknown field's message then lists the fields its object has, and a wrong value's says what its field must be.</param>
    public static string Describe(JsonException e, string what, JsonTypeInfo? document = null)
    {
        ArgumentNullException.ThrowIfNull(e);
        var field = Field(e.Path);
        if (Conversion().Match(e.Message) is { Success: true } conversion)
        {
            // A record read through its constructor names itself, not the field's type: the document's type says it.
            var expected = ValueWords.Of(conversion.Groups["type"].Value)
                ?? (field is null ? null : Property(document, field)?.PropertyType is { } type ? ValueWords.Of(type.ToString()) : null);
            return field is null
                ? $"{what} must be {expected ?? "an object"}"
                : expected is null ? $"field '{field}' holds a value of the wrong kind" : $"field '{field}' must be {expected}";
        }

        if (Missing().Match(e.Message) is { Success: true } missing)
        {
            var names = Quoted().Matches(missing.Groups["names"].Value).Select(m => Qualified(field, m.Groups[1].Value)).ToList();
            return names.Count == 1 ? $"field {names[0]} is required" : $"fields {string.Join(", ", names)} are required";
        }

        if (Repeated().Match(e.Message) is { Success: true } repeated)
        {
            // The serializer's path ends at the repeated field; a document's reader names only the field.
            return $"field '{field ?? repeated.Groups["name"].Value}' appears more than once";
        }

        if (Unmapped().Match(e.Message) is { Success: true } unmapped)
        {
            // The path ends at the unknown field itself.
            var known = Known(document, field);
            return $"unknown field '{field ?? unmapped.Groups["name"].Value}'" + (known is null ? "" : $" (known: {string.Join(", ", known)})");
        }

        // Malformed JSON: the reader's own words (they name characters, not types), with the place counted from 1.
        var text = Position().Replace(e.Message, "").TrimEnd(' ', '.');
        return e.LineNumber is { } line && e.BytePositionInLine is { } position
            ? string.Create(CultureInfo.InvariantCulture, $"{what} is not valid JSON: {text} (line {line + 1}, byte {position + 1})")
            : $"{what} is not valid JSON: {text}";
    }

    /// <summary>True when the reader refused a document for a field repeated in one object (<c>AllowDuplicateProperties = false</c>).</summary>
    public static bool IsRepeatedField(JsonException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return Repeated().IsMatch(e.Message);
    }

    /// <summary>
    /// The path of the first field that appears twice in one object (<c>labels[0].label</c>), or null: a document's
    /// reader says only the field's name, and a caller needs to know where it is.
    /// </summary>
    public static string? RepeatedField(JsonElement element)
    {
        try
        {
            return RepeatedField(element, "");
        }
        catch (InvalidOperationException)
        {
            return null; // a field name that is not UTF-8 cannot be named; the caller falls back to the reader's message
        }
    }

    private static string? RepeatedField(JsonElement element, string path)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                var field = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
                if (!seen.Add(property.Name))
                {
                    return field;
                }

                if (RepeatedField(property.Value, field) is { } inner)
                {
                    return inner;
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                if (item.ValueKind is JsonValueKind.Object or JsonValueKind.Array && RepeatedField(item, string.Create(CultureInfo.InvariantCulture, $"{path}[{index}]")) is { } inner)
                {
                    return inner;
                }

                index++;
            }
        }

        return null;
    }

    /// <summary>The fields of the object holding the field at <paramref name="path"/> (dot-separated names), from the document's type.</summary>
    private static IEnumerable<string>? Known(JsonTypeInfo? document, string? path) =>
        // NOTE: a property without a setter is one the document cannot give (computed, or ignored on reading).
        Holder(document, path) is { Properties.Count: > 0 } holder ? holder.Properties.Where(p => p.Set is not null).Select(p => p.Name) : null;

    /// <summary>The property at <paramref name="path"/> in the document's type, if the path leads to one.</summary>
    private static JsonPropertyInfo? Property(JsonTypeInfo? document, string path) =>
        Holder(document, path) is { } holder ? Find(holder, path[(path.LastIndexOf('.') + 1)..]) : null;

    /// <summary>The object type holding the field at <paramref name="path"/>: the document's, or a nested object's.</summary>
    private static JsonTypeInfo? Holder(JsonTypeInfo? document, string? path)
    {
        var type = document;
        foreach (var name in (path?.Split('.') ?? []).SkipLast(1))
        {
            if (type is null || Find(type, name) is not { } property)
            {
                return null;
            }

            type = type.Options.GetTypeInfo(System.Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType);
        }

        return type is { Kind: JsonTypeInfoKind.Object } ? type : null;
    }

    private static JsonPropertyInfo? Find(JsonTypeInfo type, string name) =>
        type.Properties.FirstOrDefault(p => string.Equals(p.Name, name, type.Options.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal));

    /// <summary>A field's path without the root (<c>$.limits.max_queue</c> → <c>limits.max_queue</c>); null for the root.</summary>
    private static string? Field(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return null;
        }

        var field = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.StartsWith('$') ? path[1..] : path;
        return field.Length > 200 ? field[..199] + "…" : field;
    }

    private static string Qualified(string? parent, string name) => parent is null ? $"'{name}'" : $"'{parent}.{name}'";

    [GeneratedRegex(@"^The JSON value could not be converted to (?<type>.+?)\. Path:", RegexOptions.Singleline)]
    private static partial Regex Conversion();

    [GeneratedRegex(@"^JSON deserialization for type '[^']+' was missing required properties including: (?<names>.+?)\.?$", RegexOptions.Singleline)]
    private static partial Regex Missing();

    [GeneratedRegex(@"^Duplicate propert(y '(?<name>[^']*)'|ies) ", RegexOptions.Singleline)]
    private static partial Regex Repeated();

    [GeneratedRegex(@"'([^']*)'")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"^The JSON property '(?<name>.*)' could not be mapped to any \.NET member contained in type '[^']+'\.?$", RegexOptions.Singleline)]
    private static partial Regex Unmapped();

    [GeneratedRegex(@"\s*Path: .*$", RegexOptions.Singleline)]
    private static partial Regex Position();
}
