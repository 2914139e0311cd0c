using System.Text;
using System.Text.Unicode;
using Strata.Data.Text;

namespace Strata.Data.Csv;

/// <summary>
/// What the start of a CSV input tells: its delimiter, whether it has a header, the column names, and where the data
/// begins. Sniffing reads only the first records.
/// </summary>
internal sealed class CsvDialect
{
    private static readonly byte[] Candidates = [(byte)',', (byte)'\t', (byte)';', (byte)'|'];

    public required byte Delimiter { get; init; }

    public required string[] Names { get; init; }

    /// <summary>Byte offset of the first data record.</summary>
    public required long DataStart { get; init; }

    /// <summary>1-based line of the first data record.</summary>
    public required long DataLine { get; init; }

    public List<string> Warnings { get; } = [];

    public static async Task<CsvDialect> DetectAsync(ReadSource source, CsvReadOptions options, CancellationToken cancellationToken)
    {
        if (source.Length == 0)
        {
            throw new DataFormatException(ErrorCodes.DataEmpty, "the file is empty (no header and no rows)", new DataLocation(source.Name));
        }

        var sample = await ReadSampleAsync(source, options, cancellationToken).ConfigureAwait(false);
        var bom = 0;
        if (sample.Length >= 3 && sample[0] == 0xEF && sample[1] == 0xBB && sample[2] == 0xBF)
        {
            bom = 3;
        }
        else if (sample.Length >= 2 && ((sample[0] == 0xFF && sample[1] == 0xFE) || (sample[0] == 0xFE && sample[1] == 0xFF)))
        {
            throw new DataFormatException(ErrorCodes.DataEncoding, "the file is UTF-16; Strata reads UTF-8 (convert it, e.g. with iconv)", new DataLocation(source.Name, 1));
        }

        var text = sample.AsSpan(bom);
        var whole = sample.Length == source.Length;
        if (text.Trim("\r\n"u8).IsEmpty)
        {
            throw new DataFormatException(ErrorCodes.DataEmpty, "the file holds only blank lines", new DataLocation(source.Name));
        }

        var delimiter = options.Delimiter is { } d ? CheckDelimiter(d) : Sniff(text, whole, options.LenientQuotes);
        var records = SampleRecords(text, whole, delimiter, 200, options.LenientQuotes, out var firstRecordLength, out var firstRecordLines, out var leadingBlank);
        if (records.Count == 0)
        {
            throw new DataFormatException(ErrorCodes.DataEmpty, "the file holds only blank lines", new DataLocation(source.Name));
        }

        var first = records[0];
        if (first.Count > options.MaxColumns)
        {
            throw new DataFormatException(ErrorCodes.DataLimit, $"the first record has {first.Count} fields, more than the limit of {options.MaxColumns}", new DataLocation(source.Name, 1 + leadingBlank.Lines));
        }

        var header = options.Header switch
        {
            CsvHeader.Present => true,
            CsvHeader.Absent => false,
            _ => LooksLikeHeader(records, options.NullValues),
        };

        foreach (var field in first)
        {
            if (!Utf8.IsValid(field))
            {
                throw new DataFormatException(ErrorCodes.DataEncoding, "the header is not valid UTF-8", new DataLocation(source.Name, 1 + leadingBlank.Lines));
            }
        }

        var warnings = new List<string>();
        string[] names;
        if (options.ColumnNames is { } given)
        {
            if (given.Count != first.Count)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{source.Name}: {given.Count} column names were given but the first record has {first.Count} fields");
            }

            names = Deduplicate(given.ToArray(), warnings);
        }
        else if (header)
        {
            names = Deduplicate(first.Select(f => Encoding.UTF8.GetString(f).Trim()).ToArray(), warnings);
        }
        else
        {
            names = Enumerable.Range(1, first.Count).Select(i => $"column_{i}").ToArray();
        }

        var start = bom + leadingBlank.Bytes + (header ? firstRecordLength : 0);
        var line = 1 + leadingBlank.Lines + (header ? firstRecordLines : 0);
        var dialect = new CsvDialect { Delimiter = delimiter, Names = names, DataStart = start, DataLine = line };
        dialect.Warnings.AddRange(warnings.Select(w => $"{source.Name}: {w}"));
        return dialect;
    }

    private static byte CheckDelimiter(char d) =>
        d is '"' or '\n' or '\r' || d > 127
            ? throw new StrataException(ErrorCodes.ArgumentInvalid, $"'{d}' cannot be a delimiter (use an ASCII character other than a quote or newline)")
            : (byte)d;

    private static async Task<byte[]> ReadSampleAsync(ReadSource source, CsvReadOptions options, CancellationToken cancellationToken)
    {
        // Enough for the first records; grows (up to the record limit) when the first record is longer.
        var size = (int)Math.Min(source.Length, 256 * 1024);
        while (true)
        {
            var buffer = new byte[size];
            var read = await source.ReadAtAsync(0, buffer, cancellationToken).ConfigureAwait(false);
            if (read == source.Length || size >= options.MaxRecordBytes || CsvBoundaries.FindQuoteParity(buffer.AsSpan(0, read)) > 0)
            {
                return buffer.AsSpan(0, read).ToArray();
            }

            size = (int)Math.Min(Math.Min((long)size * 4, source.Length), options.MaxRecordBytes);
        }
    }

    /// <summary>The candidate that splits the first records into the same number (>1) of fields, preferring more fields.</summary>
    private static byte Sniff(ReadOnlySpan<byte> text, bool whole, bool lenient)
    {
        var best = (byte)',';
        var bestFields = 1;
        foreach (var candidate in Candidates)
        {
            var records = SampleRecords(text, whole, candidate, 50, lenient, out _, out _, out _, stopOnError: true);
            if (records.Count == 0)
            {
                continue;
            }

            var fields = records[0].Count;
            if (fields > bestFields && records.All(r => r.Count == fields))
            {
                best = candidate;
                bestFields = fields;
            }
        }

        return best;
    }

    /// <summary>A first row that does not parse as the type its column has below it is a header.</summary>
    private static bool LooksLikeHeader(List<List<byte[]>> records, IReadOnlyList<string> nullValues)
    {
        if (records.Count == 1)
        {
            // A single record is a header with no rows (the usual case for an export of an empty table).
            return true;
        }

        var first = records[0];
        var votesFor = 0;
        var votesAgainst = 0;
        for (var c = 0; c < first.Count; c++)
        {
            var kind = ValueKind.Null;
            for (var r = 1; r < records.Count; r++)
            {
                if (c < records[r].Count && !IsNull(records[r][c], nullValues))
                {
                    kind = ValueKinds.Join(kind, InferKind(records[r][c]));
                }
            }

            if (kind is ValueKind.Null or ValueKind.String)
            {
                continue;
            }

            if (IsNull(first[c], nullValues) || ValueKinds.Join(kind, InferKind(first[c])) == kind)
            {
                votesAgainst++;
            }
            else
            {
                votesFor++;
            }
        }

        if (votesFor > 0)
        {
            return true;
        }

        // Only text columns: a first row of distinct, non-empty names is taken as a header.
        return votesAgainst == 0 && first.All(f => f.Length > 0) && first.Select(Encoding.UTF8.GetString).Distinct(StringComparer.Ordinal).Count() == first.Count;
    }

    private static ValueKind InferKind(byte[] value)
    {
        using var builder = new ColumnChunkBuilder(new ColumnPlan("sniff"), 1);
        builder.Append(value, TextClass.Text);
        return builder.Kind;
    }

    private static bool IsNull(byte[] value, IReadOnlyList<string> nullValues) =>
        value.Length == 0 || nullValues.Contains(Encoding.UTF8.GetString(value), StringComparer.Ordinal);

    private static string[] Deduplicate(string[] names, List<string> warnings)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
        {
            var name = names[i];
            if (name.Length == 0)
            {
                name = $"column_{i + 1}";
                warnings.Add($"column {i + 1} has no name; it is called '{name}'");
            }

            var unique = name;
            for (var n = 2; !seen.Add(unique); n++)
            {
                unique = $"{name}_{n}";
            }

            if (unique != names[i] && names[i].Length > 0)
            {
                warnings.Add($"column name '{names[i]}' appears more than once; column {i + 1} is called '{unique}'");
            }

            names[i] = unique;
        }

        return names;
    }

    /// <summary>Splits the first complete records of a sample (quote-aware); unescapes quoted fields.</summary>
    private static List<List<byte[]>> SampleRecords(
        ReadOnlySpan<byte> text,
        bool whole,
        byte delimiter,
        int max,
        bool lenient,
        out int firstRecordLength,
        out int firstRecordLines,
        out (int Bytes, int Lines) leadingBlank,
        bool stopOnError = false)
    {
        var records = new List<List<byte[]>>();
        firstRecordLength = 0;
        firstRecordLines = 0;
        leadingBlank = (0, 0);
        var pos = 0;
        while (pos < text.Length && records.Count < max)
        {
            if (text[pos] == '\n' || (text[pos] == '\r' && pos + 1 < text.Length && text[pos + 1] == '\n'))
            {
                var skip = text[pos] == '\n' ? 1 : 2;
                if (records.Count == 0)
                {
                    leadingBlank = (leadingBlank.Bytes + skip, leadingBlank.Lines + 1);
                }

                pos += skip;
                continue;
            }

            var start = pos;
            var record = new List<byte[]>();
            var complete = false;
            while (true)
            {
                if (pos < text.Length && text[pos] == '"')
                {
                    var builder = new List<byte>();
                    var i = pos + 1;
                    var closed = false;
                    while (i < text.Length)
                    {
                        if (text[i] == '"')
                        {
                            if (i + 1 < text.Length && text[i + 1] == '"')
                            {
                                builder.Add((byte)'"');
                                i += 2;
                                continue;
                            }

                            closed = true;
                            break;
                        }

                        builder.Add(text[i++]);
                    }

                    if (!closed)
                    {
                        if (records.Count == 0 && whole && !stopOnError)
                        {
                            // The first record never closes its quote: let the parser report where it opened.
                            record.Add([.. builder]);
                            records.Add(record);
                            firstRecordLength = text.Length;
                        }

                        return records;
                    }

                    record.Add([.. builder]);
                    pos = i + 1;
                }
                else
                {
                    var i = pos;
                    while (i < text.Length && text[i] != delimiter && text[i] != '\n' && (lenient || text[i] != '"'))
                    {
                        i++;
                    }

                    if (i < text.Length && text[i] == '"')
                    {
                        if (stopOnError)
                        {
                            return records;
                        }

                        i++;
                        while (i < text.Length && text[i] != delimiter && text[i] != '\n')
                        {
                            i++;
                        }
                    }

                    var value = text[pos..i];
                    if ((i == text.Length || text[i] == '\n') && value.Length > 0 && value[^1] == '\r')
                    {
                        value = value[..^1];
                    }

                    record.Add(value.ToArray());
                    pos = i;
                }

                if (pos < text.Length && text[pos] == delimiter)
                {
                    pos++;
                    continue;
                }

                if (pos < text.Length && text[pos] == '\r' && pos + 1 < text.Length && text[pos + 1] == '\n')
                {
                    pos++;
                }

                if (pos < text.Length && text[pos] == '\n')
                {
                    pos++;
                    complete = true;
                }
                else if (pos >= text.Length)
                {
                    // The end of a sample that is not the whole input may cut a record short.
                    complete = whole;
                }
                else if (stopOnError)
                {
                    return records;
                }
                else
                {
                    // Garbage after a closing quote: let the real parser report it with its location.
                    while (pos < text.Length && text[pos] != '\n')
                    {
                        pos++;
                    }

                    complete = true;
                    pos = Math.Min(pos + 1, text.Length);
                }

                break;
            }

            if (!complete)
            {
                break;
            }

            if (records.Count == 0)
            {
                firstRecordLength = pos - start;
                firstRecordLines = text[start..pos].Count((byte)'\n');
                if (pos == text.Length && (pos == start || text[pos - 1] != '\n'))
                {
                    // A header with no newline after it: the data (none) starts at the end of the input.
                    firstRecordLength = pos - start;
                }
            }

            records.Add(record);
        }

        return records;
    }
}
