using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Strata.Learning.Gbdt;

/// <summary>
/// Gradient histograms. Rows carry quantized gradients packed in one long (gradient in the high 32 bits, non-negative
/// hessian in the low 32 bits); a chunk of at most <see cref="MaxChunkRows"/> rows is summed with one integer add per
/// value, and chunks are merged as exact integers into a node's histogram of doubles (<c>hist[2 · slot]</c> = gradient
/// sum, the next slot the hessian sum, both in quantization units). Integer sums are exact in any order, so a node's
/// histogram never depends on how its rows were cut or which thread summed them.
/// </summary>
internal static class Histograms
{
    /// <summary>Most rows summed in one packed histogram: with |gradient| ≤ 32767 and hessian ≤ 65535 no half can overflow.</summary>
    public const int MaxChunkRows = 1 << 16;

    /// <summary>Largest quantized |gradient|.</summary>
    public const int GradientLevels = 32767;

    /// <summary>Largest quantized hessian.</summary>
    public const int HessianLevels = 65535;

    /// <summary>
    /// Sums rows into the packed histograms of features [f0, f1), clearing them first. <paramref name="rows"/> holds the
    /// row indices, or is empty to take rows [firstRow, firstRow + count) directly; count ≤ <see cref="MaxChunkRows"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Build(
        ReadOnlySpan<int> rows, int firstRow, int count, BinnedMatrix data, int f0, int f1, long[] packed, long[] hist)
    {
        const int Stride = BinnedMatrix.BinStride;
        hist.AsSpan(Stride * f0, Stride * (f1 - f0)).Clear();
        var width = f1 - f0;
        var stride = (nint)data.FeatureCount;
        ref var bins = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(data.Bins), f0);
        ref var h = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(hist), Stride * f0);
        ref var gh = ref MemoryMarshal.GetArrayDataReference(packed);
        var indexed = !rows.IsEmpty;
        ref var rowRef = ref MemoryMarshal.GetReference(rows);
        // A row's updates fill the reorder buffer, so misses on scattered rows would not overlap: prefetch the bins and
        // gradients of the row this far ahead. Rows at least a quarter dense are fetched well by the hardware alone.
        const int Ahead = 16;
        var prefetch = indexed && Sse.IsSupported && count > 1 && (long)4 * count < (long)rows[count - 1] - rows[0];
        for (var i = 0; i < count; i++)
        {
            if (prefetch && i + Ahead < count)
            {
                var next = Unsafe.Add(ref rowRef, i + Ahead);
                Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref bins, next * stride)));
                Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref gh, next)));
            }

            var r = indexed ? Unsafe.Add(ref rowRef, i) : firstRow + i;
            var v = Unsafe.Add(ref gh, r);
            ref var rb = ref Unsafe.Add(ref bins, r * stride);
            ref var hb = ref h;
            var j = width;
            // Four features per step; byte offsets let the JIT fold each feature's displacement (j · 256 slots) into
            // the addressing mode of a single add-to-memory.
            for (; j >= 4; j -= 4)
            {
                Unsafe.AddByteOffset(ref hb, (nint)rb << 3) += v;
                Unsafe.AddByteOffset(ref hb, ((nint)Unsafe.Add(ref rb, 1) << 3) + (8 * Stride)) += v;
                Unsafe.AddByteOffset(ref hb, ((nint)Unsafe.Add(ref rb, 2) << 3) + (16 * Stride)) += v;
                Unsafe.AddByteOffset(ref hb, ((nint)Unsafe.Add(ref rb, 3) << 3) + (24 * Stride)) += v;
                hb = ref Unsafe.Add(ref hb, 4 * Stride);
                rb = ref Unsafe.Add(ref rb, 4);
            }

            for (; j > 0; j--)
            {
                Unsafe.AddByteOffset(ref hb, (nint)rb << 3) += v;
                hb = ref Unsafe.Add(ref hb, Stride);
                rb = ref Unsafe.Add(ref rb, 1);
            }
        }
    }

    /// <summary>Adds packed chunk histograms over slots [start, start + length) and writes the sums to a node's histogram.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Merge(ReadOnlySpan<long[]> chunks, int start, int length, double[] hist)
    {
        for (var s = start; s < start + length; s++)
        {
            long g = 0, h = 0;
            foreach (var chunk in chunks)
            {
                var v = chunk[s];
                g += v >> 32;
                h += v & 0xFFFFFFFFL;
            }

            hist[2 * s] = g;
            hist[(2 * s) + 1] = h;
        }
    }

    /// <summary>
    /// Quantizes interleaved (gradient, hessian) of rows [start, end) into packed longs with the given scales (levels per
    /// unit), rounding to nearest.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Quantize(ReadOnlySpan<float> gradHess, double gradientScale, double hessianScale, Span<long> packed)
    {
        for (var i = 0; i < packed.Length; i++)
        {
            var g = (long)Math.Round(gradHess[2 * i] * gradientScale);
            var h = (long)Math.Round(gradHess[(2 * i) + 1] * hessianScale);
            packed[i] = (g << 32) + h;
        }
    }

    /// <summary>parent ← parent − child over a range of slots: the sibling's histogram, without reading its rows (exact: integer sums).</summary>
    public static void Subtract(double[] parent, double[] child, int start, int length) =>
        TensorPrimitives.Subtract(parent.AsSpan(start, length), child.AsSpan(start, length), parent.AsSpan(start, length));
}

/// <summary>Histogram arrays for reuse, so growing a tree allocates nothing after the first few.</summary>
internal sealed class HistogramPool<T>(int length)
{
    private readonly Stack<T[]> _free = new();
    private readonly Lock _gate = new();

    public T[] Rent()
    {
        lock (_gate)
        {
            if (_free.TryPop(out var array))
            {
                return array;
            }
        }

        return GC.AllocateUninitializedArray<T>(length);
    }

    public void Return(T[]? array)
    {
        if (array is null)
        {
            return;
        }

        lock (_gate)
        {
            _free.Push(array);
        }
    }
}
