using Strata.Data.Csv;
using Strata.Data.JsonLines;

namespace Strata.Data;

/// <summary>The file formats Strata reads and writes.</summary>
public enum DataFormat
{
    /// <summary>Comma (or tab, semicolon, pipe) separated values.</summary>
    Csv,
    /// <summary>One JSON object per line.</summary>
    JsonLines,
    /// <summary>Arrow IPC file format (Feather v2).</summary>
    Arrow,
}

/// <summary>Options for reading a file of any supported format.</summary>
public sealed record DataReadOptions
{
    /// <summary>The format; null decides from the file name, then from the first bytes.</summary>
    public DataFormat? Format { get; init; }

    /// <summary>Declared types, roles and tags by column name (see <see cref="TextReadOptions.Schema"/>).</summary>
    public Schema? Schema { get; init; }

    /// <summary>Read at most this many rows.</summary>
    public long? MaxRows { get; init; }

    /// <summary>Progress of the read.</summary>
    public IProgress<ReadProgress>? Progress { get; init; }

    /// <summary>CSV-specific options (their Schema, MaxRows and Progress are replaced by the ones above).</summary>
    public CsvReadOptions Csv { get; init; } = new();

    /// <summary>JSON Lines-specific options (their Schema, MaxRows and Progress are replaced by the ones above).</summary>
    public JsonLinesReadOptions JsonLines { get; init; } = new();

    internal CsvReadOptions CsvOptions(string name) => Csv with { Schema = Schema ?? Csv.Schema, MaxRows = MaxRows ?? Csv.MaxRows, Progress = Progress ?? Csv.Progress, InputName = Csv.InputName ?? name };

    internal JsonLinesReadOptions JsonOptions(string name) =>
        JsonLines with { Schema = Schema ?? JsonLines.Schema, MaxRows = MaxRows ?? JsonLines.MaxRows, Progress = Progress ?? JsonLines.Progress, InputName = JsonLines.InputName ?? name };
}

/// <summary>Reads tables from files of any supported format, chosen by extension or content.</summary>
public static partial class DataFiles
{
    /// <summary>The format of a file: by extension (.csv .tsv .txt, .jsonl .ndjson, .arrow .feather .ipc; a .gz suffix is looked through), else by its first bytes.</summary>
    public static async Task<DataFormat> DetectFormatAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (FormatFromName(path) is { } byName)
        {
            return byName;
        }

        if (!File.Exists(path))
        {
            throw new StrataException(ErrorCodes.NotFound, $"{path}: no such file");
        }

        var head = new byte[64];
        int read;
        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        }

        var span = head.AsSpan(0, read);
        if (span.StartsWith("ARROW1"u8))
        {
            return DataFormat.Arrow;
        }

        var trimmed = span.TrimStart(" \t\r\n"u8);
        if (trimmed.Length >= 3 && trimmed[0] == 0xEF && trimmed[1] == 0xBB && trimmed[2] == 0xBF)
        {
            trimmed = trimmed[3..].TrimStart(" \t\r\n"u8);
        }

        return trimmed.Length > 0 && trimmed[0] == '{' ? DataFormat.JsonLines : DataFormat.Csv;
    }

    /// <summary>The format a file name implies, or null.</summary>
    public static DataFormat? FormatFromName(string path)
    {
        var name = Path.GetFileName(path).ToLowerInvariant();
        if (name.EndsWith(".gz", StringComparison.Ordinal))
        {
            name = name[..^3];
        }

        return Path.GetExtension(name) switch
        {
            ".csv" or ".tsv" or ".txt" or ".psv" => DataFormat.Csv,
            ".jsonl" or ".ndjson" or ".json" => DataFormat.JsonLines,
            ".arrow" or ".feather" or ".ipc" => DataFormat.Arrow,
            _ => null,
        };
    }

    /// <summary>Reads a whole file into a table.</summary>
    public static async Task<ReadResult> ReadAsync(string path, DataReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DataReadOptions();
        var format = options.Format ?? await DetectFormatAsync(path, cancellationToken).ConfigureAwait(false);
        return format switch
        {
            DataFormat.Csv => await CsvReader.ReadAsync(path, CsvWithDelimiter(path, options), cancellationToken).ConfigureAwait(false),
            DataFormat.JsonLines => await JsonLinesReader.ReadAsync(path, options.JsonOptions(path), cancellationToken).ConfigureAwait(false),
            _ => await ReadArrowAsync(path, options, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>
    /// Reads a file as batches with one schema, a few in memory at a time; <paramref name="report"/>, when given, is
    /// filled as they are read (complete once the enumeration ends).
    /// </summary>
    public static async IAsyncEnumerable<Table> ReadBatchesAsync(
        string path,
        DataReadOptions? options = null,
        ReadReport? report = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new DataReadOptions();
        var format = options.Format ?? await DetectFormatAsync(path, cancellationToken).ConfigureAwait(false);
        var batches = format switch
        {
            DataFormat.Csv => CsvReader.ReadBatchesAsync(path, CsvWithDelimiter(path, options), report, cancellationToken),
            DataFormat.JsonLines => JsonLinesReader.ReadBatchesAsync(path, options.JsonOptions(path), report, cancellationToken),
            _ => ReadArrowBatchesAsync(path, options, report, cancellationToken),
        };

        await foreach (var batch in batches.ConfigureAwait(false))
        {
            yield return batch;
        }
    }

    /// <summary>The schema of a file (text formats: inferred from every row without keeping values).</summary>
    public static async Task<Schema> InferSchemaAsync(string path, DataReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DataReadOptions();
        var format = options.Format ?? await DetectFormatAsync(path, cancellationToken).ConfigureAwait(false);
        return format switch
        {
            DataFormat.Csv => (await CsvReader.InferSchemaAsync(path, CsvWithDelimiter(path, options), cancellationToken).ConfigureAwait(false)).Schema,
            DataFormat.JsonLines => (await JsonLinesReader.InferSchemaAsync(path, options.JsonOptions(path), cancellationToken).ConfigureAwait(false)).Schema,
            _ => await ReadArrowSchemaAsync(path, options, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>Writes a table in the format its file name implies (csv, jsonl or arrow), crash-safely.</summary>
    public static Task WriteAsync(Table table, string path, DataFormat? format = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        return (format ?? FormatFromName(path)) switch
        {
            DataFormat.Csv => CsvWriter.WriteAsync(table, path, Path.GetExtension(path).Equals(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : ',', cancellationToken),
            DataFormat.JsonLines => JsonLinesWriter.WriteAsync(table, path, cancellationToken),
            DataFormat.Arrow => WriteArrowAsync(table, path, cancellationToken),
            _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"cannot tell the format of '{path}' from its name (use .csv, .tsv, .jsonl or .arrow)"),
        };
    }

    // A .tsv file is tab-separated unless the caller says otherwise.
    private static CsvReadOptions CsvWithDelimiter(string path, DataReadOptions options)
    {
        var csv = options.CsvOptions(path);
        var name = Path.GetFileName(path).ToLowerInvariant();
        return csv.Delimiter is null && (name.EndsWith(".tsv", StringComparison.Ordinal) || name.EndsWith(".tsv.gz", StringComparison.Ordinal))
            ? csv with { Delimiter = '\t' }
            : csv;
    }
}
