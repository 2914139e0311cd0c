namespace Strata.Data.Csv;

/// <summary>Where a CSV buffer may be cut so every chunk holds whole records.</summary>
internal static class CsvBoundaries
{
    /// <summary>
    /// The end of the last record, found by quote parity: under RFC 4180 a newline ends a record exactly when an even
    /// number of quotes precede it (escaped quotes come in pairs). Counting quotes is vectorized, so this costs almost
    /// nothing. The parser rejects stray quotes, so a file it accepts was cut correctly.
    /// </summary>
    public static int FindQuoteParity(ReadOnlySpan<byte> data)
    {
        var quotesAfter = 0;
        var end = data.Length;
        var totalQuotes = data.Count((byte)'"');
        while (true)
        {
            var newline = data[..end].LastIndexOf((byte)'\n');
            if (newline < 0)
            {
                return -1;
            }

            quotesAfter += data[(newline + 1)..end].Count((byte)'"');
            if (((totalQuotes - quotesAfter) & 1) == 0)
            {
                return newline + 1;
            }

            end = newline;
        }
    }

    /// <summary>
    /// The end of the last record, found by a sequential scan in which a quote opens a quoted field only at the start of
    /// a field (what <see cref="CsvReadOptions.LenientQuotes"/> needs, since stray quotes break parity).
    /// </summary>
    public static int FindSequential(ReadOnlySpan<byte> data, byte delimiter)
    {
        var last = -1;
        var inQuotes = false;
        var fieldStart = true;
        for (var i = 0; i < data.Length; i++)
        {
            var b = data[i];
            if (inQuotes)
            {
                if (b == '"')
                {
                    if (i + 1 < data.Length && data[i + 1] == '"')
                    {
                        i++;
                    }
                    else
                    {
                        inQuotes = false;
                    }
                }

                continue;
            }

            if (b == '"' && fieldStart)
            {
                inQuotes = true;
                fieldStart = false;
            }
            else if (b == delimiter)
            {
                fieldStart = true;
            }
            else if (b == '\n')
            {
                fieldStart = true;
                last = i + 1;
            }
            else
            {
                fieldStart = false;
            }
        }

        return last;
    }
}
