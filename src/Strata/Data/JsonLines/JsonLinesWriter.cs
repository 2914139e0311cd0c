using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Strata.Data.JsonLines;

/// <summary>Writes tables as JSON Lines: one object per row, nulls as JSON null, timestamps as ISO 8601 UTC strings.</summary>
public static class JsonLinesWriter
{
    /// <summary>Writes a table to a stream.</summary>
    public static async Task WriteAsync(Table table, Stream stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(stream);
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false };
        var names = table.Schema.Select(f => JsonEncodedText.Encode(f.Name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)).ToArray();
        for (var row = 0; row < table.RowCount; row++)
        {
            using (var writer = new Utf8JsonWriter(buffer, options))
            {
                writer.WriteStartObject();
                for (var c = 0; c < table.ColumnCount; c++)
                {
                    writer.WritePropertyName(names[c]);
                    WriteValue(writer, table[c], row);
                }

                writer.WriteEndObject();
            }

            buffer.Write("\n"u8);
            if (buffer.WrittenCount > (1 << 16) - 4096)
            {
                await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                buffer.ResetWrittenCount();
            }
        }

        await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a table to a file, crash-safely.</summary>
    public static Task WriteAsync(Table table, string path, CancellationToken cancellationToken = default) =>
        Artifacts.DurableFile.WriteAsync(path, (s, ct) => WriteAsync(table, s, ct), cancellationToken);

    private static void WriteValue(Utf8JsonWriter writer, Column column, int row)
    {
        if (column.IsNull(row))
        {
            writer.WriteNullValue();
            return;
        }

        switch (column)
        {
            case StringColumn s:
                writer.WriteStringValue(s.GetUtf8(row));
                break;
            case Column<bool> b:
                writer.WriteBooleanValue(b[row]);
                break;
            case Column<int> i:
                writer.WriteNumberValue(i[row]);
                break;
            case Column<long> l when column.Type == DataType.Timestamp:
                writer.WriteStringValue(Timestamp.Format(l[row]));
                break;
            case Column<long> l:
                writer.WriteNumberValue(l[row]);
                break;
            case Column<float> f when float.IsFinite(f[row]):
                writer.WriteNumberValue(f[row]);
                break;
            case Column<double> d when double.IsFinite(d[row]):
                writer.WriteNumberValue(d[row]);
                break;
            case Column<float> f:
                // JSON has no NaN or infinity: write them as the strings .NET and pandas use.
                writer.WriteStringValue(f[row].ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case Column<double> d:
                writer.WriteStringValue(d[row].ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            default:
                throw new NotSupportedException($"cannot write a {column.Type.Name()} column as JSON");
        }
    }
}
