using System.Numerics;
using System.Runtime.CompilerServices;

namespace Strata;

/// <summary>
/// Bit-packed validity in Arrow's layout (least significant bit first, 1 = valid), so Arrow IPC reads and writes it
/// without conversion.
/// </summary>
internal static class Bitmap
{
    public static int ByteLength(int bits) => (bits + 7) >> 3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Get(ReadOnlySpan<byte> bits, int index) => (bits[index >> 3] & (1 << (index & 7))) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Set(Span<byte> bits, int index) => bits[index >> 3] |= (byte)(1 << (index & 7));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Clear(Span<byte> bits, int index) => bits[index >> 3] &= (byte)~(1 << (index & 7));

    /// <summary>Number of set bits in [offset, offset + length).</summary>
    public static int CountSet(ReadOnlySpan<byte> bits, int offset, int length)
    {
        if (length == 0)
        {
            return 0;
        }

        var count = 0;
        var i = offset;
        var end = offset + length;

        // Leading bits up to a byte boundary.
        while (i < end && (i & 7) != 0)
        {
            count += Get(bits, i) ? 1 : 0;
            i++;
        }

        // Whole 64-bit words, then whole bytes.
        var byteIndex = i >> 3;
        var wholeBytes = (end - i) >> 3;
        var words = wholeBytes >> 3;
        for (var w = 0; w < words; w++)
        {
            count += BitOperations.PopCount(Unsafe.ReadUnaligned<ulong>(ref Unsafe.AsRef(in bits[byteIndex + (w << 3)])));
        }

        for (var b = words << 3; b < wholeBytes; b++)
        {
            count += BitOperations.PopCount(bits[byteIndex + b]);
        }

        i += wholeBytes << 3;
        while (i < end)
        {
            count += Get(bits, i) ? 1 : 0;
            i++;
        }

        return count;
    }

    /// <summary>Copies <paramref name="length"/> bits from <paramref name="source"/> at a bit offset into a fresh, zero-offset bitmap.</summary>
    public static byte[] CopyToZeroOffset(ReadOnlySpan<byte> source, int offset, int length)
    {
        var result = new byte[ByteLength(length)];
        CopyBits(source, offset, result, 0, length);
        return result;
    }

    /// <summary>Copies bits between bitmaps at arbitrary bit offsets.</summary>
    public static void CopyBits(ReadOnlySpan<byte> source, int sourceOffset, Span<byte> destination, int destinationOffset, int length)
    {
        if ((sourceOffset & 7) == 0 && (destinationOffset & 7) == 0)
        {
            var whole = length >> 3;
            source.Slice(sourceOffset >> 3, whole).CopyTo(destination.Slice(destinationOffset >> 3, whole));
            for (var i = whole << 3; i < length; i++)
            {
                Assign(destination, destinationOffset + i, Get(source, sourceOffset + i));
            }

            return;
        }

        for (var i = 0; i < length; i++)
        {
            Assign(destination, destinationOffset + i, Get(source, sourceOffset + i));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Assign(Span<byte> bits, int index, bool value)
    {
        if (value)
        {
            Set(bits, index);
        }
        else
        {
            Clear(bits, index);
        }
    }

    /// <summary>A bitmap of <paramref name="length"/> bits, all set.</summary>
    public static byte[] AllSet(int length)
    {
        var result = new byte[ByteLength(length)];
        result.AsSpan().Fill(0xFF);
        var tail = length & 7;
        if (tail != 0)
        {
            result[^1] = (byte)((1 << tail) - 1);
        }

        return result;
    }
}
