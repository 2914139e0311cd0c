using System.Buffers;

namespace Strata.Data.Profiling;

/// <summary>
/// LSD radix sort of doubles by their order-preserving 64-bit keys, a byte per pass. Passes whose byte is the same for
/// every key are skipped, so integers and timestamps stored as doubles (whose low mantissa bytes are constant) take
/// two to six passes. An order of magnitude faster than a comparison sort for the runs a KLL sketch ingests.
/// </summary>
internal static class RadixSort
{
    private const int SmallRun = 64;
    private const ulong SignBit = 0x8000000000000000UL;

    /// <summary>Sorts values ascending; they must not hold NaN (−0 sorts before +0, which compare equal).</summary>
    public static void Sort(Span<double> values)
    {
        var n = values.Length;
        if (n <= SmallRun)
        {
            values.Sort();
            return;
        }

        var keysArray = ArrayPool<ulong>.Shared.Rent(n);
        var scratchArray = ArrayPool<ulong>.Shared.Rent(n);
        try
        {
            var keys = keysArray.AsSpan(0, n);
            var scratch = scratchArray.AsSpan(0, n);
            Span<int> histograms = stackalloc int[8 * 256];
            histograms.Clear();
            for (var i = 0; i < n; i++)
            {
                var bits = BitConverter.DoubleToUInt64Bits(values[i]);

                // Negative numbers flip every bit, positive ones only the sign: unsigned key order is then numeric order.
                var key = bits ^ ((ulong)((long)bits >> 63) | SignBit);
                keys[i] = key;
                histograms[(int)(key & 0xFF)]++;
                histograms[256 + (int)((key >> 8) & 0xFF)]++;
                histograms[512 + (int)((key >> 16) & 0xFF)]++;
                histograms[768 + (int)((key >> 24) & 0xFF)]++;
                histograms[1024 + (int)((key >> 32) & 0xFF)]++;
                histograms[1280 + (int)((key >> 40) & 0xFF)]++;
                histograms[1536 + (int)((key >> 48) & 0xFF)]++;
                histograms[1792 + (int)(key >> 56)]++;
            }

            var source = keys;
            var destination = scratch;
            for (var pass = 0; pass < 8; pass++)
            {
                var histogram = histograms.Slice(pass * 256, 256);
                var shift = pass * 8;
                if (histogram[(int)((source[0] >> shift) & 0xFF)] == n)
                {
                    continue;
                }

                // Exclusive prefix sums turn counts into the first slot of each bucket.
                var offset = 0;
                for (var b = 0; b < 256; b++)
                {
                    var count = histogram[b];
                    histogram[b] = offset;
                    offset += count;
                }

                foreach (var key in source)
                {
                    destination[histogram[(int)((key >> shift) & 0xFF)]++] = key;
                }

                var swap = source;
                source = destination;
                destination = swap;
            }

            for (var i = 0; i < n; i++)
            {
                var key = source[i];
                values[i] = BitConverter.UInt64BitsToDouble(key ^ (((key >> 63) - 1) | SignBit));
            }
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(keysArray);
            ArrayPool<ulong>.Shared.Return(scratchArray);
        }
    }
}
