using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Strata.Learning.Gbdt;

/// <summary>
/// Gradient histograms: per feature and bin, the sums of gradients and hessians of a node's rows, as interleaved doubles
/// (<c>hist[2 · (offset[f] + bin)]</c> = gradient sum, the next slot the hessian sum).
/// </summary>
internal static class Histograms
{
    /// <summary>
    /// Adds rows to the histograms of features [f0, f1), clearing them first. Each feature's sums run over the rows in
    /// their given order, so the result is the same whichever thread builds which features. <paramref name="rows"/> holds
    /// the row indices, or is empty to take rows [firstRow, firstRow + count) directly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Build(
        ReadOnlySpan<int> rows, int firstRow, int count, BinnedMatrix data, int f0, int f1, float[] gradHess, double[] hist)
    {
        const int Stride = BinnedMatrix.BinStride;
        hist.AsSpan(2 * Stride * f0, 2 * Stride * (f1 - f0)).Clear();
        var width = f1 - f0;
        var stride = (nint)data.FeatureCount;
        ref var bins = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(data.Bins), f0);
        ref var h = ref Unsafe.Add(ref Unsafe.As<double, Vector128<double>>(ref MemoryMarshal.GetArrayDataReference(hist)), Stride * f0);
        // NOTE: a row's gradient and hessian are adjacent floats, so one 8-byte load fetches both.
        ref var gh = ref Unsafe.As<float, ulong>(ref MemoryMarshal.GetArrayDataReference(gradHess));
        var indexed = !rows.IsEmpty;
        ref var rowRef = ref MemoryMarshal.GetReference(rows);
        // A row's ~4 µops per feature fill the reorder buffer, so misses on scattered rows would not overlap: prefetch
        // the bins and gradients of the row this far ahead (measured: 17 → 3 ns per value on a depth-5 node).
        const int Ahead = 16;
        // Rows at least a quarter dense are fetched well by the hardware alone; the prefetches would only cost µops.
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
            var pair = Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.Add(ref gh, r)).AsSingle());
            ref var rb = ref Unsafe.Add(ref bins, r * stride);
            ref var hb = ref h;
            var j = width;
            // Four features per step at constant displacements (j · 256 slots) from a moving base.
            for (; j >= 4; j -= 4)
            {
                // Byte offsets, so the JIT folds each feature's displacement into the addressing mode.
                Unsafe.AddByteOffset(ref hb, (nint)rb << 4) += pair;
                Unsafe.AddByteOffset(ref hb, ((nint)Unsafe.Add(ref rb, 1) << 4) + (16 * Stride)) += pair;
                Unsafe.AddByteOffset(ref hb, ((nint)Unsafe.Add(ref rb, 2) << 4) + (32 * Stride)) += pair;
                Unsafe.AddByteOffset(ref hb, ((nint)Unsafe.Add(ref rb, 3) << 4) + (48 * Stride)) += pair;
                hb = ref Unsafe.Add(ref hb, 4 * Stride);
                rb = ref Unsafe.Add(ref rb, 4);
            }

            for (; j > 0; j--)
            {
                Unsafe.AddByteOffset(ref hb, (nint)rb << 4) += pair;
                hb = ref Unsafe.Add(ref hb, Stride);
                rb = ref Unsafe.Add(ref rb, 1);
            }
        }
    }

    /// <summary>parent ← parent − child over a range of slots: the sibling's histogram, without reading its rows.</summary>
    public static void Subtract(double[] parent, double[] child, int start, int length) =>
        TensorPrimitives.Subtract(parent.AsSpan(start, length), child.AsSpan(start, length), parent.AsSpan(start, length));
}

/// <summary>Histogram arrays for reuse, so growing a tree allocates nothing after the first few.</summary>
internal sealed class HistogramPool(int length)
{
    private readonly Stack<double[]> _free = new();
    private readonly Lock _gate = new();

    public double[] Rent()
    {
        lock (_gate)
        {
            if (_free.TryPop(out var array))
            {
                return array;
            }
        }

        return GC.AllocateUninitializedArray<double>(length);
    }

    public void Return(double[]? array)
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
