using System.Buffers.Binary;
using System.Text;

namespace Strata.Features.OnlineStore;

/// <summary>
/// Entity keys as compact bytes: each integer part as 8 little-endian bytes (int32 widened), each string part as a
/// 4-byte length and its UTF-8 bytes. Part types are fixed by the view, so the encoding is unambiguous.
/// </summary>
internal static class KeyEncoding
{
    public static int EncodedLength(FeatureViewLayout view, ReadOnlySpan<EntityKeyPart> key)
    {
        var keys = view.JoinKeys;
        if (key.Length != keys.Count)
        {
            throw new ArgumentException($"feature view '{view.Name}' has {keys.Count} join key(s) but {key.Length} were given", nameof(key));
        }

        var length = 0;
        for (var i = 0; i < key.Length; i++)
        {
            var field = keys[i];
            if (field.Type == DataType.String)
            {
                if (!key[i].IsText)
                {
                    throw new ArgumentException($"join key '{field.Name}' is a string", nameof(key));
                }

                length += 4 + Encoding.UTF8.GetByteCount(key[i].Text!);
            }
            else
            {
                if (key[i].IsText)
                {
                    throw new ArgumentException($"join key '{field.Name}' is {field.Type.Name()}", nameof(key));
                }

                length += 8;
            }
        }

        return length;
    }

    public static void Encode(ReadOnlySpan<EntityKeyPart> key, Span<byte> destination)
    {
        var at = 0;
        foreach (var part in key)
        {
            if (part.Text is { } text)
            {
                var written = Encoding.UTF8.GetBytes(text, destination[(at + 4)..]);
                BinaryPrimitives.WriteInt32LittleEndian(destination[at..], written);
                at += 4 + written;
            }
            else
            {
                BinaryPrimitives.WriteInt64LittleEndian(destination[at..], part.Number);
                at += 8;
            }
        }
    }

    /// <summary>The key of a table row; the caller has checked that key columns hold no nulls.</summary>
    public static byte[] EncodeRow(IReadOnlyList<Column> keyColumns, int row)
    {
        var length = 0;
        foreach (var column in keyColumns)
        {
            length += column is StringColumn s ? 4 + s.GetUtf8(row).Length : 8;
        }

        var bytes = new byte[length];
        var at = 0;
        foreach (var column in keyColumns)
        {
            switch (column)
            {
                case StringColumn s:
                    var utf8 = s.GetUtf8(row);
                    BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), utf8.Length);
                    utf8.CopyTo(bytes.AsSpan(at + 4));
                    at += 4 + utf8.Length;
                    break;
                case Column<int> i:
                    BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), i[row]);
                    at += 8;
                    break;
                case Column<long> l:
                    BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), l[row]);
                    at += 8;
                    break;
                default:
                    throw new InvalidOperationException($"unexpected key column type {column.Type.Name()}");
            }
        }

        return bytes;
    }
}
