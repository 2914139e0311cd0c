namespace Strata.Features;

/// <summary>
/// Text the feature stores refuse: a NUL character (U+0000), which PostgreSQL's text type cannot hold. Both backends
/// refuse it (keys and values, written or read), so what one store accepts the other accepts too, and a NUL is a 400
/// naming where it is rather than a database error after part of a write.
/// </summary>
internal static class FeatureText
{
    /// <summary>The first row of a string column whose text holds a NUL, or -1 (always -1 for other columns).</summary>
    public static int FirstNul(Column column)
    {
        if (column is not StringColumn strings)
        {
            return -1;
        }

        for (var i = 0; i < strings.Length; i++)
        {
            if (strings.IsValid(i) && strings.GetUtf8(i).Contains((byte)0))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Refuses a table with a NUL in any string column, naming the column and row after <paramref name="what"/>.</summary>
    public static void Check(Table rows, string what)
    {
        for (var c = 0; c < rows.ColumnCount; c++)
        {
            if (FirstNul(rows[c]) is var row and >= 0)
            {
                throw Refused($"{what}: column '{rows.Schema[c].Name}' row {row}");
            }
        }
    }

    /// <summary>True when a key or value holds a NUL.</summary>
    public static bool HasNul(string? text) => text is not null && text.Contains('\0', StringComparison.Ordinal);

    /// <summary>What is wrong with such text, after what holds it.</summary>
    public const string NulText = "holds a NUL character (U+0000), which feature text cannot hold (PostgreSQL's text type cannot store it)";

    /// <summary>The 400 for a NUL at <paramref name="where"/>.</summary>
    public static StrataException Refused(string where) => new(ErrorCodes.ArgumentInvalid, $"{where} {NulText}");
}
