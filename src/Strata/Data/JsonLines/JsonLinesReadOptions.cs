namespace Strata.Data.JsonLines;

/// <summary>
/// How to read JSON Lines (one JSON object per line). Nested objects become dotted column names (<c>a.b</c>); arrays are
/// kept as their JSON text in a string column; a key missing from a line is a null.
/// </summary>
public sealed record JsonLinesReadOptions : TextReadOptions
{
    /// <summary>Deepest nesting of objects and arrays in a line.</summary>
    public int MaxDepth { get; init; } = 64;
}
