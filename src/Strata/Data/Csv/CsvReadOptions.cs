namespace Strata.Data.Csv;

/// <summary>Whether the first record names the columns.</summary>
public enum CsvHeader
{
    /// <summary>Decide from the data: a first row that does not fit the types of the rows below it is a header.</summary>
    Auto,
    /// <summary>The first record is a header.</summary>
    Present,
    /// <summary>There is no header; columns are named from <see cref="CsvReadOptions.ColumnNames"/> or column_1, column_2…</summary>
    Absent,
}

/// <summary>What to do with a record whose field count differs from the header's.</summary>
public enum RaggedRowHandling
{
    /// <summary>Stop with an error naming the line and both counts.</summary>
    Error,
    /// <summary>Drop the record and count it.</summary>
    Skip,
    /// <summary>Complete a short record with nulls, cut a long one to the header's width, and count it.</summary>
    Fill,
}

/// <summary>How to read a CSV file. The defaults follow RFC 4180 and infer everything else from the data.</summary>
public sealed record CsvReadOptions : TextReadOptions
{
    /// <summary>Nulls by default: an unquoted empty field and these common spellings (a quoted value is never null).</summary>
    public static IReadOnlyList<string> DefaultNullValues { get; } = ["", "NA", "N/A", "NULL", "null", "None"];

    /// <summary>Field separator; null detects one of comma, tab, semicolon and pipe from the first records.</summary>
    public char? Delimiter { get; init; }

    /// <summary>Whether the first record is a header.</summary>
    public CsvHeader Header { get; init; } = CsvHeader.Auto;

    /// <summary>Column names to use instead of the header's (or when there is none).</summary>
    public IReadOnlyList<string>? ColumnNames { get; init; }

    /// <summary>Unquoted values read as null.</summary>
    public IReadOnlyList<string> NullValues { get; init; } = DefaultNullValues;

    /// <summary>What to do with records that have too few or too many fields.</summary>
    public RaggedRowHandling RaggedRows { get; init; } = RaggedRowHandling.Error;

    /// <summary>
    /// Accept a double quote inside an unquoted field as an ordinary character (RFC 4180 forbids it). Chunk boundaries
    /// are then found by a sequential scan, which is slower.
    /// </summary>
    public bool LenientQuotes { get; init; }
}
