using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Strata.Hashing;

/// <summary>
/// A fast 64-bit hash of short byte strings (in the style of wyhash), for in-memory hash tables and sketches. Not
/// cryptographic; tables that hold untrusted keys seed it randomly so crafted collisions cannot be precomputed.
/// </summary>
internal static class FastHash
{
    private const ulong P0 = 0xa0761d6478bd642fUL;
    private const ulong P1 = 0xe7037ed1a0b428dbUL;
    private const ulong P2 = 0x8ebc6af09c88c6e3UL;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong a, ulong b)
    {
        var product = (UInt128)a * b;
        return (ulong)product ^ (ulong)(product >> 64);
    }

    /// <summary>Hashes bytes with a seed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ulong Hash(ReadOnlySpan<byte> data, ulong seed)
    {
        var length = data.Length;
        ulong a, b;
        seed ^= P0;
        if (length <= 16)
        {
            if (length >= 8)
            {
                a = BinaryPrimitives.ReadUInt64LittleEndian(data);
                b = BinaryPrimitives.ReadUInt64LittleEndian(data[(length - 8)..]);
            }
            else if (length >= 4)
            {
                a = BinaryPrimitives.ReadUInt32LittleEndian(data);
                b = BinaryPrimitives.ReadUInt32LittleEndian(data[(length - 4)..]);
            }
            else if (length > 0)
            {
                a = ((ulong)data[0] << 16) | ((ulong)data[length >> 1] << 8) | data[length - 1];
                b = 0;
            }
            else
            {
                a = b = 0;
            }
        }
        else
        {
            var i = 0;
            for (; i + 16 < length; i += 16)
            {
                seed = Mix(BinaryPrimitives.ReadUInt64LittleEndian(data[i..]) ^ P1, BinaryPrimitives.ReadUInt64LittleEndian(data[(i + 8)..]) ^ seed);
            }

            a = BinaryPrimitives.ReadUInt64LittleEndian(data[(length - 16)..]);
            b = BinaryPrimitives.ReadUInt64LittleEndian(data[(length - 8)..]);
        }

        return Mix(P1 ^ (ulong)length, Mix(a ^ P1, b ^ seed) ^ P2);
    }

    /// <summary>
    /// Hashes a 64-bit value (a number's bits, or a short string packed into a word) with a seed: the SplitMix64
    /// finalizer, a bijection with full avalanche, because a single multiply-fold spreads consecutive integers poorly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(ulong value, ulong seed)
    {
        var z = value + seed + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
