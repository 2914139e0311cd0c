using System.Buffers.Binary;
using Strata.Artifacts;

namespace Strata.Data.Arrow;

/// <summary>Whole-file Arrow IPC (Feather v2) reads and writes, and format sniffing.</summary>
public static class ArrowFile
{
    /// <summary>
    /// Writes a table to an Arrow IPC file durably (temporary file, fsync, rename): readers see the old file or the
    /// whole new one. Tables above <see cref="ArrowWriteOptions.MaxRowsPerBatch"/> rows become several record batches.
    /// </summary>
    public static Task WriteAsync(Table table, string path, ArrowWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentException.ThrowIfNullOrEmpty(path);
        return DurableFile.WriteAsync(
            path,
            async (stream, ct) =>
            {
                var writer = new ArrowFileWriter(stream, table.Schema, options, leaveOpen: true);
                await using (writer.ConfigureAwait(false))
                {
                    await writer.WriteBatchAsync(table, ct).ConfigureAwait(false);
                    await writer.FinishAsync(ct).ConfigureAwait(false);
                }
            },
            cancellationToken);
    }

    /// <summary>Reads a whole Arrow IPC file into one table (see <see cref="ArrowFileReader"/> for the types it accepts).</summary>
    public static async Task<Table> ReadTableAsync(string path, ArrowReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        var reader = await ArrowFileReader.OpenAsync(path, options, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            return await reader.ReadTableAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>True when the bytes start like an Arrow IPC file (<c>ARROW1</c>); six bytes are enough.</summary>
    public static bool IsArrowFile(ReadOnlySpan<byte> header) => header.StartsWith(ArrowFormat.Magic);

    /// <summary>True when the bytes start like an Arrow IPC stream (continuation marker and a positive metadata length); eight bytes are enough.</summary>
    public static bool IsArrowStream(ReadOnlySpan<byte> header) =>
        header.Length >= 8
        && BinaryPrimitives.ReadUInt32LittleEndian(header) == ArrowFormat.Continuation
        && BinaryPrimitives.ReadInt32LittleEndian(header[4..]) > 0;
}
