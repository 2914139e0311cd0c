using System.Text.RegularExpressions;

namespace Strata.Api;

/// <summary>
/// What a value of a .NET type is, in a caller's words ("a whole number", "text"): error messages about a request's
/// values say what the value must be, not which type the server reads it into.
/// </summary>
public static partial class ValueWords
{
    /// <summary>
    /// The words for a type named as C# writes it (<c>int</c>, <c>Nullable&lt;int&gt;</c>) or as the runtime does
    /// (<c>System.Int32</c>, <c>System.Nullable`1[[System.Int32, …]]</c>); null for a type that says nothing to a caller.
    /// </summary>
    public static string? Of(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (Nullable().Match(type) is { Success: true } nullable)
        {
            type = nullable.Groups["inner"].Value;
        }

        type = type.StartsWith("System.", StringComparison.Ordinal) && !type.StartsWith("System.Collections.", StringComparison.Ordinal) ? type["System.".Length..] : type;
        return type switch
        {
            "string" or "String" or "char" or "Char" => "text",
            "int" or "long" or "short" or "byte" or "sbyte" or "uint" or "ulong" or "ushort"
                or "Int16" or "Int32" or "Int64" or "Byte" or "SByte" or "UInt16" or "UInt32" or "UInt64" => "a whole number",
            "double" or "float" or "decimal" or "Double" or "Single" or "Decimal" or "Half" => "a number",
            "bool" or "Boolean" => "true or false",
            "DateTime" or "DateTimeOffset" => "a date and time (ISO 8601)",
            "Guid" => "a GUID",
            _ when type.EndsWith("[]", StringComparison.Ordinal) || Collection().IsMatch(type) => "a list",
            _ when type.Contains("Dictionary`2", StringComparison.Ordinal) => "an object",
            _ => null,
        };
    }

    [GeneratedRegex(@"^(System\.Nullable`1\[\[?(?<inner>[^,\]]+)|Nullable<(?<inner>[^>]+)>)")]
    private static partial Regex Nullable();

    [GeneratedRegex(@"^System\.Collections\.Generic\.(I?List|IReadOnlyList|ICollection|IReadOnlyCollection|IEnumerable|HashSet|ISet|IReadOnlySet)`1")]
    private static partial Regex Collection();
}
