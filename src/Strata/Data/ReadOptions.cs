namespace Strata.Data;

/// <summary>What to do with a value that cannot be read as its declared type.</summary>
public enum BadValueHandling
{
    /// <summary>Stop with an error naming the input, line, column and value.</summary>
    Error,
    /// <summary>Store a null and count it in the read report.</summary>
    Null,
}

/// <summary>What to do with bytes that are not valid UTF-8.</summary>
public enum InvalidUtf8Handling
{
    /// <summary>Stop with an error naming the input, line and column.</summary>
    Error,
    /// <summary>Replace each invalid sequence with U+FFFD and count it in the read report.</summary>
    Replace,
}

/// <summary>Options shared by the text readers (CSV, JSON Lines).</summary>
public abstract record TextReadOptions
{
    /// <summary>
    /// Declared types (plus roles, tags, nullability) for columns by name. Declared columns are read as that type and a
    /// value that does not fit is a bad value; other columns are inferred from the whole input. Every declared column
    /// must exist in the input.
    /// </summary>
    public Schema? Schema { get; init; }

    /// <summary>Longest record (line, or CSV record with embedded newlines) in bytes; longer ones are an error. Bounds memory.</summary>
    public int MaxRecordBytes { get; init; } = 16 << 20;

    /// <summary>Largest input in bytes (after decompression).</summary>
    public long MaxInputBytes { get; init; } = 64L << 30;

    /// <summary>Most columns a record may have.</summary>
    public int MaxColumns { get; init; } = 10_000;

    /// <summary>What to do with invalid UTF-8.</summary>
    public InvalidUtf8Handling InvalidUtf8 { get; init; } = InvalidUtf8Handling.Error;

    /// <summary>What to do with values that do not fit a declared type.</summary>
    public BadValueHandling BadValues { get; init; } = BadValueHandling.Error;

    /// <summary>Threads that parse chunks (default: all cores).</summary>
    public int? MaxParallelism { get; init; }

    /// <summary>Bytes per parallel chunk.</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>Read at most this many rows; types are then inferred from those rows only.</summary>
    public long? MaxRows { get; init; }

    /// <summary>The input's name in messages (default: the file name as given).</summary>
    public string? InputName { get; init; }

    /// <summary>Receives how far the read has come (bytes of the current pass).</summary>
    public IProgress<ReadProgress>? Progress { get; init; }

    internal int Parallelism => Math.Clamp(MaxParallelism ?? Environment.ProcessorCount, 1, 64);

    internal void Validate()
    {
        if (MaxRecordBytes < 16)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"MaxRecordBytes must be at least 16 (got {MaxRecordBytes})");
        }

        if (ChunkBytes < 1024)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"ChunkBytes must be at least 1024 (got {ChunkBytes})");
        }

        if (MaxColumns < 1)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"MaxColumns must be positive (got {MaxColumns})");
        }

        if (MaxRows is < 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"MaxRows must not be negative (got {MaxRows})");
        }
    }
}

/// <summary>How far a read has come: bytes consumed of the input in the current pass (type inference may need two).</summary>
public readonly record struct ReadProgress(long Bytes, long TotalBytes, int Pass, int Passes);

/// <summary>What a read did besides producing rows: counts of handled problems and the first warnings.</summary>
public sealed class ReadReport
{
    internal const int MaxWarnings = 50;
    private readonly List<string> _warnings = [];

    /// <summary>The input's name.</summary>
    public required string Input { get; init; }

    /// <summary>Rows in the result.</summary>
    public long Rows { get; internal set; }

    /// <summary>Input bytes consumed.</summary>
    public long Bytes { get; internal set; }

    /// <summary>Rows dropped by an explicit option (ragged rows with <c>Skip</c>).</summary>
    public long SkippedRows { get; internal set; }

    /// <summary>Ragged rows completed with nulls or cut to the header's width by an explicit option.</summary>
    public long FilledRows { get; internal set; }

    /// <summary>Values replaced by null by <see cref="BadValueHandling.Null"/>.</summary>
    public long NulledValues { get; internal set; }

    /// <summary>Values whose invalid UTF-8 was replaced.</summary>
    public long ReplacedUtf8 { get; internal set; }

    /// <summary>Per column: how many values did not fit the declared type (and became null), and the first one with its line.</summary>
    public IReadOnlyDictionary<string, BadValueSummary> BadValuesByColumn => _badValues;

    private readonly Dictionary<string, BadValueSummary> _badValues = new(StringComparer.Ordinal);

    /// <summary>The first warnings (type conflicts that made a column string, handled problems), with their locations.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Warnings beyond those kept.</summary>
    public long MoreWarnings { get; private set; }

    internal void Warn(string message)
    {
        if (_warnings.Count < MaxWarnings)
        {
            _warnings.Add(message);
        }
        else
        {
            MoreWarnings++;
        }
    }

    /// <summary>Columns that already have a type-conflict warning (one per column is enough).</summary>
    internal HashSet<string> ConflictColumns { get; } = new(StringComparer.Ordinal);

    internal void Add(ChunkCounters counters)
    {
        SkippedRows += counters.SkippedRows;
        FilledRows += counters.FilledRows;
        NulledValues += counters.NulledValues;
        ReplacedUtf8 += counters.ReplacedUtf8;
        foreach (var (column, summary) in counters.BadValues)
        {
            _badValues[column] = _badValues.TryGetValue(column, out var before)
                ? before with { Count = before.Count + summary.Count }
                : summary;
        }

        foreach (var (column, message) in counters.Conflicts)
        {
            if (ConflictColumns.Add(column))
            {
                Warn(message);
            }
        }

        foreach (var w in counters.Warnings)
        {
            Warn(w);
        }
    }
}

/// <summary>Values of one column that did not fit its declared type: how many, and the first (line and value, PII withheld).</summary>
public sealed record BadValueSummary(long Count, long FirstLine, string FirstValue);

/// <summary>A table and the report of the read that produced it.</summary>
public sealed record ReadResult(Table Table, ReadReport Report);

/// <summary>Per-chunk counterpart of <see cref="ReadReport"/>, merged in chunk order.</summary>
internal sealed class ChunkCounters
{
    public long SkippedRows { get; set; }

    public long FilledRows { get; set; }

    public long NulledValues { get; set; }

    public long ReplacedUtf8 { get; set; }

    public List<string> Warnings { get; } = [];

    /// <summary>Values nulled by <see cref="BadValueHandling.Null"/>, per column, with the first example.</summary>
    public Dictionary<string, BadValueSummary> BadValues { get; } = new(StringComparer.Ordinal);

    public void Nulled(string column, long line, string shownValue)
    {
        NulledValues++;
        BadValues[column] = BadValues.TryGetValue(column, out var before)
            ? before with { Count = before.Count + 1 }
            : new BadValueSummary(1, line, shownValue);
    }

    /// <summary>The first value per column that forced it to string, in this chunk.</summary>
    public List<(string Column, string Message)> Conflicts { get; } = [];

    public void Warn(string message)
    {
        if (Warnings.Count < ReadReport.MaxWarnings)
        {
            Warnings.Add(message);
        }
    }
}
