using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Strata.Data.Csv;

/// <summary>
/// Writes tables as RFC 4180 CSV: a header, comma-separated fields, CRLF-free (LF) line ends, and quotes only where a
/// value needs them. Nulls are empty fields; an empty string is written as <c>""</c> so it reads back as a string.
/// Timestamps are ISO 8601 UTC; floats use the shortest text that round-trips.
/// </summary>
public static class CsvWriter
{
    /// <summary>Writes a table to a stream.</summary>
    public static async Task WriteAsync(Table table, Stream stream, char delimiter = ',', CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(stream);
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        var d = (byte)delimiter;
        for (var c = 0; c < table.ColumnCount; c++)
        {
            if (c > 0)
            {
                buffer.Write([d]);
            }

            WriteText(buffer, table.Schema[c].Name, d, quoteEmpty: true);
        }

        buffer.Write("\n"u8);
        for (var row = 0; row < table.RowCount; row++)
        {
            for (var c = 0; c < table.ColumnCount; c++)
            {
                if (c > 0)
                {
                    buffer.Write([d]);
                }

                WriteValue(buffer, table[c], row, d);
            }

            buffer.Write("\n"u8);
            if (buffer.WrittenCount > (1 << 16) - 1024)
            {
                await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                buffer.ResetWrittenCount();
            }
        }

        await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a table to a file, crash-safely.</summary>
    public static Task WriteAsync(Table table, string path, char delimiter = ',', CancellationToken cancellationToken = default) =>
        Artifacts.DurableFile.WriteAsync(path, (s, ct) => WriteAsync(table, s, delimiter, ct), cancellationToken);

    private static void WriteValue(ArrayBufferWriter<byte> buffer, Column column, int row, byte delimiter)
    {
        if (column.IsNull(row))
        {
            return;
        }

        var span = buffer.GetSpan(64);
        int written;
        switch (column)
        {
            case StringColumn s:
                WriteUtf8(buffer, s.GetUtf8(row), delimiter, quoteEmpty: true);
                return;
            case Column<bool> b:
                (b[row] ? "true"u8 : "false"u8).CopyTo(span);
                written = b[row] ? 4 : 5;
                break;
            case Column<int> i:
                Utf8Formatter.TryFormat(i[row], span, out written);
                break;
            case Column<long> l when column.Type == DataType.Timestamp:
                written = Encoding.UTF8.GetBytes(Timestamp.Format(l[row]), span);
                break;
            case Column<long> l:
                Utf8Formatter.TryFormat(l[row], span, out written);
                break;
            case Column<float> f:
                f[row].TryFormat(span, out written, "R", CultureInfo.InvariantCulture);
                break;
            case Column<double> f:
                f[row].TryFormat(span, out written, "R", CultureInfo.InvariantCulture);
                break;
            default:
                throw new NotSupportedException($"cannot write a {column.Type.Name()} column as CSV");
        }

        buffer.Advance(written);
    }

    private static readonly byte[][] NullTokens = CsvReadOptions.DefaultNullValues.Where(n => n.Length > 0).Select(Encoding.UTF8.GetBytes).ToArray();

    private static bool IsNullToken(ReadOnlySpan<byte> value)
    {
        foreach (var token in NullTokens)
        {
            if (value.SequenceEqual(token))
            {
                return true;
            }
        }

        return false;
    }

    private static void WriteText(ArrayBufferWriter<byte> buffer, string text, byte delimiter, bool quoteEmpty) =>
        WriteUtf8(buffer, Encoding.UTF8.GetBytes(text), delimiter, quoteEmpty);

    private static void WriteUtf8(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> value, byte delimiter, bool quoteEmpty)
    {
        // Values that look like a null token must be quoted too, or they would read back as null.
        var needsQuotes = (quoteEmpty && value.IsEmpty)
            || value.IndexOfAny(delimiter, (byte)'"', (byte)'\n') >= 0
            || value.IndexOf((byte)'\r') >= 0
            || (value.Length > 0 && (value[0] == ' ' || value[^1] == ' ' || value[0] == '\t' || value[^1] == '\t'))
            || IsNullToken(value);
        if (!needsQuotes)
        {
            buffer.Write(value);
            return;
        }

        buffer.Write("\""u8);
        var rest = value;
        while (true)
        {
            var q = rest.IndexOf((byte)'"');
            if (q < 0)
            {
                buffer.Write(rest);
                break;
            }

            buffer.Write(rest[..(q + 1)]);
            buffer.Write("\""u8);
            rest = rest[(q + 1)..];
        }

        buffer.Write("\""u8);
    }
}
