using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Strata.Data.Arrow;

/// <summary>Bit-level helpers for Arrow's LSB-first bitmaps: packing bools, shifting validity, zeroing null slots.</summary>
internal static class ArrowBits
{
    // Byte b spread to eight bools: bit i of b becomes byte i (0 or 1) of the ulong, little-endian.
    private static readonly ulong[] Spread = BuildSpread();

    /// <summary>Packs bools into bits (bit i = values[i]); bits past the end of the last byte are zero.</summary>
    public static void Pack(ReadOnlySpan<bool> values, Span<byte> bits)
    {
        var bytes = MemoryMarshal.AsBytes(values);
        var i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 16 <= bytes.Length; i += 16)
            {
                var v = Vector128.Create<byte>(bytes.Slice(i, 16));
                var falses = Vector128.ExtractMostSignificantBits(Vector128.Equals(v, Vector128<byte>.Zero));
                BinaryPrimitives.WriteUInt16LittleEndian(bits[(i >> 3)..], (ushort)~falses);
            }
        }

        for (; i < bytes.Length; i += 8)
        {
            var n = Math.Min(8, bytes.Length - i);
            var b = 0;
            for (var k = 0; k < n; k++)
            {
                b |= bytes[i + k] != 0 ? 1 << k : 0;
            }

            bits[i >> 3] = (byte)b;
        }
    }

    /// <summary>Unpacks <paramref name="values"/>.Length bits into bools.</summary>
    public static void Unpack(ReadOnlySpan<byte> bits, Span<bool> values)
    {
        var bytes = MemoryMarshal.AsBytes(values);
        var whole = bytes.Length >> 3;
        for (var i = 0; i < whole; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes[(i << 3)..], Spread[bits[i]]);
        }

        for (var i = whole << 3; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((bits[i >> 3] >> (i & 7)) & 1);
        }
    }

    /// <summary>Copies <paramref name="length"/> bits starting at bit <paramref name="offset"/> to bit 0 of <paramref name="destination"/>; trailing bits are zero.</summary>
    public static void CopyToZeroOffset(ReadOnlySpan<byte> source, int offset, int length, Span<byte> destination)
    {
        var bytes = Bitmap.ByteLength(length);
        var shift = offset & 7;
        var start = offset >> 3;
        if (shift == 0)
        {
            source.Slice(start, bytes).CopyTo(destination);
        }
        else
        {
            var available = source.Length - start;
            for (var i = 0; i < bytes; i++)
            {
                var low = source[start + i] >> shift;
                var high = i + 1 < available ? source[start + i + 1] << (8 - shift) : 0;
                destination[i] = (byte)(low | high);
            }
        }

        var tail = length & 7;
        if (tail != 0)
        {
            destination[bytes - 1] &= (byte)((1 << tail) - 1);
        }
    }

    /// <summary>Sets the value of every null slot (validity bit 0) to default, as Strata's columns require.</summary>
    public static void ZeroNulls<T>(Span<T> values, ReadOnlySpan<byte> validity)
    {
        var whole = values.Length >> 3;
        for (var i = 0; i < whole; i++)
        {
            var b = validity[i];
            if (b != 0xFF)
            {
                ClearSlots(values.Slice(i << 3, 8), b, 8);
            }
        }

        var tail = values.Length & 7;
        if (tail != 0)
        {
            ClearSlots(values[(whole << 3)..], validity[whole], tail);
        }
    }

    private static void ClearSlots<T>(Span<T> values, int bits, int count)
    {
        for (var k = 0; k < count; k++)
        {
            if ((bits & (1 << k)) == 0)
            {
                values[k] = default!;
            }
        }
    }

    private static ulong[] BuildSpread()
    {
        var table = new ulong[256];
        for (var b = 0; b < 256; b++)
        {
            ulong v = 0;
            for (var k = 0; k < 8; k++)
            {
                v |= (ulong)((b >> k) & 1) << (8 * k);
            }

            table[b] = v;
        }

        return table;
    }
}
