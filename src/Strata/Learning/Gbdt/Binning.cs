using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Strata.Data.Profiling;

namespace Strata.Learning.Gbdt;

/// <summary>A set of bins (0–255) as 256 bits: the bins that go left at a split.</summary>
[InlineArray(4)]
internal struct BinSet
{
    private ulong _word;

    public void Add(int bin) => this[bin >> 6] |= 1UL << (bin & 63);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Contains(int bin) => ((this[bin >> 6] >> (bin & 63)) & 1) != 0;
}

/// <summary>
/// How one feature's values map to bins. Bin 0 holds missing values (NaN, or category code -1). A numeric value v goes to
/// bin 1 + #(cuts ≤ v), so "bin ≤ k" is exactly "v &lt; Cuts[k - 1]" and a split found on bins is the same split on raw
/// values. A categorical code has its own bin, except the rarest codes beyond the bin budget, which share
/// <see cref="OtherBin"/> (never sent left, like categories the model has not seen).
/// </summary>
internal sealed class FeatureBins
{
    private FeatureBins(bool categorical, float[] cuts, int[] codeToBin, int[] binToCode, int binCount, int otherBin)
    {
        IsCategorical = categorical;
        Cuts = cuts;
        CodeToBin = codeToBin;
        BinToCode = binToCode;
        BinCount = binCount;
        OtherBin = otherBin;
        // Padded to 2^k - 1 entries with NaN (never ≤ anything), so the search below needs no bounds or branches.
        var size = 1;
        while (size < cuts.Length + 1)
        {
            size <<= 1;
        }

        SearchCuts = new float[size];
        SearchCuts.AsSpan().Fill(float.NaN);
        cuts.CopyTo(SearchCuts, 0);
        SearchSize = size;
    }

    public bool IsCategorical { get; }

    /// <summary>Numeric: ascending cut points, one fewer than the value bins.</summary>
    public float[] Cuts { get; }

    /// <summary>Categorical: code → bin.</summary>
    public int[] CodeToBin { get; }

    /// <summary>Categorical: bin → code (-1 for bin 0 and the other bin).</summary>
    public int[] BinToCode { get; }

    /// <summary>Bins including bin 0 (missing).</summary>
    public int BinCount { get; }

    /// <summary>The bin shared by rare categories, or -1.</summary>
    public int OtherBin { get; }

    /// <summary>The cuts padded with NaN to <see cref="SearchSize"/> - 1 entries.</summary>
    public float[] SearchCuts { get; }

    /// <summary>A power of two above the number of cuts.</summary>
    public int SearchSize { get; }

    /// <summary>The bin of a numeric value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int BinOf(float value)
    {
        if (float.IsNaN(value))
        {
            return 0;
        }

        ref var cuts = ref MemoryMarshal.GetArrayDataReference(SearchCuts);
        var pos = 0;
        for (var step = SearchSize >> 1; step > 0; step >>= 1)
        {
            pos += step & -Unsafe.BitCast<bool, byte>(Unsafe.Add(ref cuts, pos + step - 1) <= value);
        }

        return pos + 1;
    }

    /// <summary>The bin of a category code.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int BinOfCode(int code) => code < 0 ? 0 : code < CodeToBin.Length ? CodeToBin[code] : Math.Max(OtherBin, 0);

    /// <summary>Cuts for a numeric feature from sampled values (NaN already removed), sorted in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static FeatureBins Numeric(Span<float> sample, int maxBin)
    {
        // A radix sort of the values as doubles: an order of magnitude faster than a comparison sort on 200k values.
        var wide = new double[sample.Length];
        for (var i = 0; i < wide.Length; i++)
        {
            wide[i] = sample[i];
        }

        RadixSort.Sort(wide);
        for (var i = 0; i < wide.Length; i++)
        {
            sample[i] = (float)wide[i];
        }

        var distinct = new List<(float Value, int Count)>();
        for (var i = 0; i < sample.Length;)
        {
            var j = i + 1;
            while (j < sample.Length && sample[j] == sample[i])
            {
                j++;
            }

            distinct.Add((sample[i], j - i));
            i = j;
        }

        var cuts = new List<float>();
        if (distinct.Count <= maxBin)
        {
            for (var i = 0; i + 1 < distinct.Count; i++)
            {
                cuts.Add(Between(distinct[i].Value, distinct[i + 1].Value));
            }
        }
        else
        {
            // Greedy equal-count bins; a value holding a bin's share or more gets a bin of its own.
            double remaining = sample.Length;
            var binsLeft = maxBin;
            var mean = remaining / binsLeft;
            double current = 0;
            for (var i = 0; i + 1 < distinct.Count && binsLeft > 1; i++)
            {
                current += distinct[i].Count;
                remaining -= distinct[i].Count;
                if (current >= mean || distinct[i + 1].Count >= mean)
                {
                    cuts.Add(Between(distinct[i].Value, distinct[i + 1].Value));
                    binsLeft--;
                    current = 0;
                    mean = remaining / binsLeft;
                }
            }
        }

        return new FeatureBins(false, [.. cuts], [], [], cuts.Count + 2, -1);
    }

    /// <summary>Bins for a categorical feature from its code counts: the most frequent codes get their own bins.</summary>
    public static FeatureBins Categorical(long[] counts, int maxBin)
    {
        var present = new List<int>();
        for (var c = 0; c < counts.Length; c++)
        {
            if (counts[c] > 0)
            {
                present.Add(c);
            }
        }

        var needOther = present.Count != counts.Length || present.Count > maxBin;
        var own = Math.Min(present.Count, needOther ? maxBin - 1 : maxBin);
        var byCount = present.ToArray();
        // Most frequent first; ties by code so the binning does not depend on anything but the data.
        Array.Sort(byCount, (a, b) => counts[a] != counts[b] ? counts[b].CompareTo(counts[a]) : a.CompareTo(b));
        var chosen = byCount.Take(own).Order().ToArray();
        var otherBin = needOther ? own + 1 : -1;
        var codeToBin = new int[counts.Length];
        codeToBin.AsSpan().Fill(Math.Max(otherBin, 0));
        var binCount = own + 1 + (needOther ? 1 : 0);
        var binToCode = new int[binCount];
        binToCode.AsSpan().Fill(-1);
        for (var i = 0; i < chosen.Length; i++)
        {
            codeToBin[chosen[i]] = i + 1;
            binToCode[i + 1] = chosen[i];
        }

        return new FeatureBins(true, [], codeToBin, binToCode, binCount, otherBin);
    }

    private static float Between(float a, float b)
    {
        var mid = (float)(((double)a + b) / 2);
        return mid > a && mid <= b ? mid : b;
    }
}

/// <summary>
/// Every feature binned to one byte, row-major (row r's bins at r · Features), so building a node's histograms reads each
/// of its rows once, sequentially; the same bins column-major, so partitioning rows by one feature reads one byte per
/// row rather than a cache line; and where each feature's bins start in a histogram.
/// </summary>
internal sealed class BinnedMatrix
{
    private BinnedMatrix(FeatureBins[] features, int rows, byte[] bins, byte[] columns)
    {
        Features = features;
        Rows = rows;
        Bins = bins;
        Columns = columns;
        // NOTE: 256 slots per feature whatever its bin count (bins are bytes), so the histogram kernel finds feature j's
        // slots at a constant displacement from the block's base instead of loading an offset per value.
        Offsets = new int[features.Length + 1];
        for (var f = 0; f <= features.Length; f++)
        {
            Offsets[f] = f * BinStride;
        }
    }

    /// <summary>Histogram slots per feature.</summary>
    public const int BinStride = 256;

    public FeatureBins[] Features { get; }

    public int FeatureCount => Features.Length;

    public int Rows { get; }

    /// <summary>Row-major bins.</summary>
    public byte[] Bins { get; }

    /// <summary>Column-major bins: feature f of row r at f · Rows + r.</summary>
    public byte[] Columns { get; }

    /// <summary>Start of each feature's bins in a histogram, plus the total.</summary>
    public int[] Offsets { get; }

    public int TotalBins => Offsets[^1];

    /// <summary>Finds every feature's bins from the training data (numeric cuts from a row sample) and bins it.</summary>
    public static BinnedMatrix Build(FeatureMatrix matrix, int maxBin, int sampleCount, ulong seed, int threads)
    {
        var sample = SampleRows(matrix.Rows, sampleCount, seed);
        var features = new FeatureBins[matrix.Count];
        Parallelism.For(matrix.Count, threads, f => features[f] = matrix.Inputs[f].Kind == FeatureKind.Categorical
            ? CategoricalBins(matrix, f, maxBin)
            : NumericBins(matrix.Numeric(f), sample, maxBin));
        return Apply(matrix, features, threads);
    }

    // NOTE: the once-per-fit loops below are optimized from their first call: tier-0 code would run them several times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static FeatureBins CategoricalBins(FeatureMatrix matrix, int f, int maxBin)
    {
        var codes = matrix.Codes(f);
        var counts = new long[matrix.Inputs[f].Categories?.Count ?? 0];
        foreach (var c in codes)
        {
            if ((uint)c < (uint)counts.Length)
            {
                counts[c]++;
            }
        }

        return FeatureBins.Categorical(counts, maxBin);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static FeatureBins NumericBins(ReadOnlySpan<float> values, int[]? sample, int maxBin)
    {
        var buffer = new float[sample?.Length ?? values.Length];
        var n = 0;
        if (sample is null)
        {
            foreach (var v in values)
            {
                if (!float.IsNaN(v))
                {
                    buffer[n++] = v;
                }
            }
        }
        else
        {
            foreach (var r in sample)
            {
                var v = values[r];
                if (!float.IsNaN(v))
                {
                    buffer[n++] = v;
                }
            }
        }

        return FeatureBins.Numeric(buffer.AsSpan(0, n), maxBin);
    }

    /// <summary>Bins a matrix with bins found earlier (a validation set, with the training set's bins).</summary>
    public static BinnedMatrix Apply(FeatureMatrix matrix, FeatureBins[] features, int threads)
    {
        var rows = matrix.Rows;
        var width = features.Length;
        var bins = GC.AllocateUninitializedArray<byte>(checked(rows * width));
        var columns = GC.AllocateUninitializedArray<byte>(checked(rows * width));
        // Blocks of rows: each feature is binned into its column, then the block is transposed while it is in cache.
        const int Block = 4096;
        var blocks = (rows + Block - 1) / Block;
        Parallelism.For(blocks, threads, b =>
        {
            var start = b * Block;
            var end = Math.Min(rows, start + Block);
            for (var f = 0; f < width; f++)
            {
                var column = columns.AsSpan((f * rows) + start, end - start);
                if (features[f].IsCategorical)
                {
                    FillCodes(matrix.Codes(f)[start..end], features[f], column);
                }
                else
                {
                    FillNumeric(matrix.Numeric(f)[start..end], features[f], column);
                }
            }

            Transpose(columns, rows, start, end, width, bins);
        });
        return new BinnedMatrix(features, rows, bins, columns);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose(byte[] columns, int rows, int start, int end, int width, byte[] bins)
    {
        ref var src = ref MemoryMarshal.GetArrayDataReference(columns);
        ref var dst = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(bins), (nint)start * width);
        // Row by row: the writes are sequential and the block's columns (width × block bytes) stay in cache.
        for (var i = start; i < end; i++)
        {
            ref var column = ref Unsafe.Add(ref src, i);
            for (var f = 0; f < width; f++)
            {
                dst = Unsafe.Add(ref column, (nint)f * rows);
                dst = ref Unsafe.Add(ref dst, 1);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FillNumeric(ReadOnlySpan<float> values, FeatureBins feature, Span<byte> output)
    {
        ref var dst = ref MemoryMarshal.GetReference(output);
        ref var cuts = ref MemoryMarshal.GetArrayDataReference(feature.SearchCuts);
        var size = feature.SearchSize;
        var i = 0;
        // Four searches in lockstep: each is a chain of dependent loads, so interleaving them hides the latency.
        for (; i + 4 <= values.Length; i += 4)
        {
            var (v0, v1, v2, v3) = (values[i], values[i + 1], values[i + 2], values[i + 3]);
            int p0 = 0, p1 = 0, p2 = 0, p3 = 0;
            for (var step = size >> 1; step > 0; step >>= 1)
            {
                p0 += step & -Unsafe.BitCast<bool, byte>(Unsafe.Add(ref cuts, p0 + step - 1) <= v0);
                p1 += step & -Unsafe.BitCast<bool, byte>(Unsafe.Add(ref cuts, p1 + step - 1) <= v1);
                p2 += step & -Unsafe.BitCast<bool, byte>(Unsafe.Add(ref cuts, p2 + step - 1) <= v2);
                p3 += step & -Unsafe.BitCast<bool, byte>(Unsafe.Add(ref cuts, p3 + step - 1) <= v3);
            }

            Unsafe.Add(ref dst, i) = float.IsNaN(v0) ? (byte)0 : (byte)(p0 + 1);
            Unsafe.Add(ref dst, i + 1) = float.IsNaN(v1) ? (byte)0 : (byte)(p1 + 1);
            Unsafe.Add(ref dst, i + 2) = float.IsNaN(v2) ? (byte)0 : (byte)(p2 + 1);
            Unsafe.Add(ref dst, i + 3) = float.IsNaN(v3) ? (byte)0 : (byte)(p3 + 1);
        }

        for (; i < values.Length; i++)
        {
            output[i] = (byte)feature.BinOf(values[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FillCodes(ReadOnlySpan<int> codes, FeatureBins feature, Span<byte> output)
    {
        for (var i = 0; i < codes.Length; i++)
        {
            output[i] = (byte)feature.BinOfCode(codes[i]);
        }
    }

    /// <summary>Up to <paramref name="count"/> distinct rows in ascending order (selection sampling), or null for all rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int[]? SampleRows(int rows, int count, ulong seed)
    {
        if (rows <= count)
        {
            return null;
        }

        var result = new int[count];
        var state = SplitMix64.Mix(seed, 0xB1A5UL);
        var chosen = 0;
        for (var r = 0; r < rows && chosen < count; r++)
        {
            // Knuth's algorithm S: take row r with probability (still needed) / (still left).
            var u = (SplitMix64.Next(ref state) >> 11) * (1.0 / (1UL << 53));
            if (u * (rows - r) < count - chosen)
            {
                result[chosen++] = r;
            }
        }

        return result;
    }
}
