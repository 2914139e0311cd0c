using System.Buffers.Binary;

namespace Strata.Features.OnlineStore;

/// <summary>
/// Framing of log and snapshot records: a 12-byte header (payload length, CRC-32C of the payload, CRC-32C of those
/// 8 bytes) and the payload. The header checksum tells a corrupted length (refused) from a record cut short by a crash
/// (dropped).
/// </summary>
internal static class LogRecords
{
    public const int HeaderSize = 12;

    /// <summary>Upper bound on one payload, so a damaged length cannot make the reader allocate gigabytes.</summary>
    public const int MaxPayload = 1 << 30;

    /// <summary>Fills the header in front of a payload that starts at <see cref="HeaderSize"/>.</summary>
    public static void Seal(Span<byte> record)
    {
        var payload = record[HeaderSize..];
        BinaryPrimitives.WriteInt32LittleEndian(record, payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Crc32C.Compute(payload));
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], Crc32C.Compute(record[..8]));
    }

    /// <summary>
    /// Splits a file into record payloads. A record cut short at the end of the file (a crash during the append) is dropped
    /// when <paramref name="allowTornTail"/>, and <paramref name="validLength"/> says where the good records end; any other
    /// damage is a <see cref="StrataException"/> naming the file and offset.
    /// </summary>
    public static List<ReadOnlyMemory<byte>> Read(ReadOnlyMemory<byte> file, string name, bool allowTornTail, out long validLength)
    {
        var records = new List<ReadOnlyMemory<byte>>();
        var span = file.Span;
        var at = 0;
        while (at < span.Length)
        {
            var rest = span.Length - at;
            if (rest < HeaderSize)
            {
                return Torn(records, name, at, allowTornTail, "a header cut short", out validLength);
            }

            var header = span.Slice(at, HeaderSize);
            if (Crc32C.Compute(header[..8]) != BinaryPrimitives.ReadUInt32LittleEndian(header[8..]))
            {
                // A crash can leave zeros past the last write (the size grew before the data landed); anything else is damage.
                if (!span[at..].ContainsAnyExcept((byte)0))
                {
                    return Torn(records, name, at, allowTornTail, "zeros", out validLength);
                }

                throw Corrupt(name, at, "header checksum mismatch");
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (length is < 0 or > MaxPayload)
            {
                throw Corrupt(name, at, $"impossible payload length {length}");
            }

            if (length > rest - HeaderSize)
            {
                return Torn(records, name, at, allowTornTail, "a payload cut short", out validLength);
            }

            var payload = file.Slice(at + HeaderSize, length);
            if (Crc32C.Compute(payload.Span) != BinaryPrimitives.ReadUInt32LittleEndian(header[4..]))
            {
                if (at + HeaderSize + length == span.Length)
                {
                    return Torn(records, name, at, allowTornTail, "a last payload that does not match its checksum", out validLength);
                }

                throw Corrupt(name, at, "payload checksum mismatch");
            }

            records.Add(payload);
            at += HeaderSize + length;
        }

        validLength = at;
        return records;
    }

    public static StrataException Corrupt(string name, long offset, string problem) =>
        new(ErrorCodes.DataMalformed, $"online store file '{name}' is corrupted at byte {offset}: {problem}; refusing to open (restore it from a backup or remove it)");

    private static List<ReadOnlyMemory<byte>> Torn(List<ReadOnlyMemory<byte>> records, string name, int at, bool allowed, string what, out long validLength)
    {
        if (!allowed)
        {
            throw Corrupt(name, at, $"ends with {what}");
        }

        validLength = at;
        return records;
    }
}
