using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Strata.Data.Profiling;

/// <summary>
/// Moments, a KLL sketch, a HyperLogLog sketch and (for integer and timestamp columns) the exact integer range of a
/// numeric or timestamp column. A PII column keeps only counts and the distinct sketch.
/// </summary>
internal sealed class NumericState : ColumnState
{
    // NOTE: 8192 values (64 KiB) per chunk stay in L2 across the passes of moments, sort, KLL and HLL, and a run that long
    // halves the general-compress work per value compared with 2048.
    private const int ChunkSize = 8192;

    private readonly DataType _type;

    public NumericState(DataType type, bool pii, int k, int precision, ulong seed)
    {
        _type = type;
        Hll = new HyperLogLog(precision);
        if (!pii)
        {
            Moments = new Moments();
            Kll = new KllSketch(k, seed);
        }
    }

    private NumericState(NumericState other)
    {
        _type = other._type;
        Count = other.Count;
        NullCount = other.NullCount;
        Hll = other.Hll.Clone();
        Moments = other.Moments?.Clone();
        Kll = other.Kll?.Clone();
        IntegerMin = other.IntegerMin;
        IntegerMax = other.IntegerMax;
    }

    /// <summary>Null for PII.</summary>
    public Moments? Moments { get; private set; }

    /// <summary>Null for PII.</summary>
    public KllSketch? Kll { get; private set; }

    public HyperLogLog Hll { get; private set; }

    /// <summary>Exact smallest value of an integer or timestamp column (long.MaxValue before the first value).</summary>
    public long IntegerMin { get; private set; } = long.MaxValue;

    /// <summary>Exact largest value of an integer or timestamp column (long.MinValue before the first value).</summary>
    public long IntegerMax { get; private set; } = long.MinValue;

    public bool IsInteger => _type is DataType.Int32 or DataType.Int64 or DataType.Timestamp;

    public override bool HoldsValues => Moments is not null;

    public override void Add(Column column)
    {
        CountRows(column);
        var bits = column.HasNulls ? column.ValidityBits : null;
        switch (column)
        {
            case Column<long> c:
                AddIntegers(c.Values, bits, c.ValidityOffset);
                break;
            case Column<int> c:
                AddIntegers(c.Values, bits, c.ValidityOffset);
                break;
            case Column<double> c:
                AddFloats(c.Values, bits, c.ValidityOffset);
                break;
            case Column<float> c:
                AddFloats(c.Values, bits, c.ValidityOffset);
                break;
            default:
                throw new ArgumentException($"a numeric profile cannot read a {column.Type.Name()} column", nameof(column));
        }
    }

    public override void Merge(ColumnState other, string column)
    {
        var o = (NumericState)other;
        if (o.Hll.Precision != Hll.Precision)
        {
            throw Incompatible(column, nameof(ProfileOptions.DistinctPrecision), Hll.Precision, o.Hll.Precision);
        }

        if (Kll is not null && o.Kll is not null && Kll.K != o.Kll.K)
        {
            throw Incompatible(column, nameof(ProfileOptions.QuantileK), Kll.K, o.Kll.K);
        }

        MergeCounts(o);
        Hll.Merge(o.Hll);
        if (Moments is not null && o.Moments is not null)
        {
            Moments.Merge(o.Moments);
            Kll!.Merge(o.Kll!);
            IntegerMin = Math.Min(IntegerMin, o.IntegerMin);
            IntegerMax = Math.Max(IntegerMax, o.IntegerMax);
        }
    }

    public override NumericState Clone() => new(this);

    public override void DropValues()
    {
        Moments = null;
        Kll = null;
        IntegerMin = long.MaxValue;
        IntegerMax = long.MinValue;
    }

    internal void Load(HyperLogLog hll, Moments? moments, KllSketch? kll, long integerMin, long integerMax)
    {
        Hll = hll;
        Moments = moments;
        Kll = kll;
        IntegerMin = integerMin;
        IntegerMax = integerMax;
    }

    private void AddIntegers<T>(ReadOnlySpan<T> values, byte[]? validity, int validityOffset)
        where T : unmanaged, IBinaryInteger<T>
    {
        var longs = ArrayPool<long>.Shared.Rent(ChunkSize);
        var doubles = ArrayPool<double>.Shared.Rent(ChunkSize);
        try
        {
            for (var start = 0; start < values.Length; start += ChunkSize)
            {
                var chunk = values.Slice(start, Math.Min(ChunkSize, values.Length - start));
                var n = validity is null ? Widen(chunk, longs) : GatherValid(chunk, validity, validityOffset + start, longs);
                if (n > 0)
                {
                    AddIntegerRun(longs.AsSpan(0, n), doubles);
                }
            }
        }
        finally
        {
            ArrayPool<long>.Shared.Return(longs);
            ArrayPool<double>.Shared.Return(doubles);
        }
    }

    /// <summary>
    /// Sorts the run as integers first (radix on <c>value − min</c>: two passes for a narrow range, where the doubles of
    /// mixed signs would take eight), which also gives the extremes for free and lets HyperLogLog hash each distinct
    /// value once.
    /// </summary>
    private void AddIntegerRun(Span<long> run, double[] buffer)
    {
        var hll = Hll;
        if (Moments is null)
        {
            // PII: only the distinct count is kept, so sorting would cost more than it saves.
            foreach (var value in run)
            {
                hll.AddHash(HyperLogLog.HashInteger(value));
            }

            return;
        }

        RadixSort.Sort(run);
        var previous = run[0];
        hll.AddHash(HyperLogLog.HashInteger(previous));
        foreach (var value in run)
        {
            if (value != previous)
            {
                hll.AddHash(HyperLogLog.HashInteger(value));
                previous = value;
            }
        }

        // NOTE: long to double is monotonic, so the converted run is still sorted.
        var doubles = buffer.AsSpan(0, run.Length);
        TensorPrimitives.ConvertTruncating<long, double>(run, doubles);
        Moments.AddFinite(doubles, TensorPrimitives.Sum<double>(doubles), doubles[0], doubles[^1]);
        Kll!.UpdateSorted(doubles);
        IntegerMin = Math.Min(IntegerMin, run[0]);
        IntegerMax = Math.Max(IntegerMax, run[^1]);
    }

    private void AddFloats<T>(ReadOnlySpan<T> values, byte[]? validity, int validityOffset)
        where T : unmanaged, IFloatingPoint<T>
    {
        var buffer = ArrayPool<double>.Shared.Rent(ChunkSize);
        try
        {
            for (var start = 0; start < values.Length; start += ChunkSize)
            {
                var chunk = values.Slice(start, Math.Min(ChunkSize, values.Length - start));
                ReadOnlySpan<double> run;
                if (validity is not null)
                {
                    run = buffer.AsSpan(0, GatherValid(chunk, validity, validityOffset + start, buffer));
                }
                else if (typeof(T) == typeof(double))
                {
                    run = MemoryMarshal.Cast<T, double>(chunk);
                }
                else
                {
                    TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<T, float>(chunk), buffer.AsSpan(0, chunk.Length));
                    run = buffer.AsSpan(0, chunk.Length);
                }

                if (!run.IsEmpty)
                {
                    AddFloatRun(run);
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buffer);
        }
    }

    private void AddFloatRun(ReadOnlySpan<double> run)
    {
        var sum = TensorPrimitives.Sum(run);
        if (!double.IsFinite(sum))
        {
            AddNonFiniteRun(run);
            return;
        }

        if (Moments is not null)
        {
            Moments.AddFinite(run, sum);
            Kll!.Update(run);
        }

        var hll = Hll;
        foreach (var value in run)
        {
            hll.AddHash(HyperLogLog.HashFloat(value));
        }
    }

    /// <summary>The slow path for a run holding NaN or infinities: NaN is counted and skipped, infinities are ordered values.</summary>
    private void AddNonFiniteRun(ReadOnlySpan<double> run)
    {
        var notNaN = ArrayPool<double>.Shared.Rent(run.Length);
        try
        {
            var n = 0;
            foreach (var value in run)
            {
                Moments?.Add(value);
                if (!double.IsNaN(value))
                {
                    notNaN[n++] = value;
                    Hll.AddHash(HyperLogLog.HashFloat(value));
                }
            }

            Kll?.Update(notNaN.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<double>.Shared.Return(notNaN);
        }
    }

    private static int Widen<T>(ReadOnlySpan<T> chunk, long[] destination)
        where T : unmanaged, IBinaryInteger<T>
    {
        if (typeof(T) == typeof(long))
        {
            MemoryMarshal.Cast<T, long>(chunk).CopyTo(destination);
        }
        else
        {
            TensorPrimitives.ConvertTruncating<int, long>(MemoryMarshal.Cast<T, int>(chunk), destination);
        }

        return chunk.Length;
    }

    /// <summary>Converts the valid values of a chunk to the front of <paramref name="destination"/>; returns how many.</summary>
    private static int GatherValid<T, TResult>(ReadOnlySpan<T> values, byte[] validity, int bitOffset, TResult[] destination)
        where T : unmanaged, INumberBase<T>
        where TResult : unmanaged, INumberBase<TResult>
    {
        var n = 0;
        for (var i = 0; i < values.Length; i++)
        {
            // Branch-free: always write, advance only past a valid row.
            destination[n] = TResult.CreateTruncating(values[i]);
            n += (validity[(bitOffset + i) >> 3] >> ((bitOffset + i) & 7)) & 1;
        }

        return n;
    }
}
