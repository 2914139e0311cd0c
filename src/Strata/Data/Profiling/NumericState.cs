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
    // NOTE: 2048 doubles (16 KiB) per chunk keep the converted values in L1 while moments, KLL and HLL each pass over them.
    private const int ChunkSize = 2048;

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
                AddValues(c.Values, bits, c.ValidityOffset);
                break;
            case Column<int> c:
                AddValues(c.Values, bits, c.ValidityOffset);
                break;
            case Column<double> c:
                AddValues(c.Values, bits, c.ValidityOffset);
                break;
            case Column<float> c:
                AddValues(c.Values, bits, c.ValidityOffset);
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

    private void AddValues<T>(ReadOnlySpan<T> values, byte[]? validity, int validityOffset)
        where T : unmanaged, INumber<T>
    {
        var doubles = ArrayPool<double>.Shared.Rent(ChunkSize);
        var gathered = validity is null ? null : ArrayPool<T>.Shared.Rent(ChunkSize);
        try
        {
            for (var start = 0; start < values.Length; start += ChunkSize)
            {
                var chunk = values.Slice(start, Math.Min(ChunkSize, values.Length - start));
                if (gathered is not null)
                {
                    chunk = gathered.AsSpan(0, GatherValid(chunk, validity!, validityOffset + start, gathered));
                }

                if (chunk.IsEmpty)
                {
                    continue;
                }

                if (typeof(T) == typeof(double) || typeof(T) == typeof(float))
                {
                    AddFloatChunk(chunk, doubles);
                }
                else
                {
                    AddIntegerChunk(chunk, doubles);
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(doubles);
            if (gathered is not null)
            {
                ArrayPool<T>.Shared.Return(gathered);
            }
        }
    }

    private void AddIntegerChunk<T>(ReadOnlySpan<T> chunk, double[] buffer)
        where T : unmanaged, INumber<T>
    {
        if (Moments is not null)
        {
            var doubles = buffer.AsSpan(0, chunk.Length);
            if (typeof(T) == typeof(long))
            {
                TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<T, long>(chunk), doubles);
            }
            else
            {
                TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<T, int>(chunk), doubles);
            }

            Moments.AddFinite(doubles, TensorPrimitives.Sum<double>(doubles));
            Kll!.Update(doubles);
            IntegerMin = Math.Min(IntegerMin, long.CreateTruncating(TensorPrimitives.Min(chunk)));
            IntegerMax = Math.Max(IntegerMax, long.CreateTruncating(TensorPrimitives.Max(chunk)));
        }

        var hll = Hll;
        foreach (var value in chunk)
        {
            hll.AddHash(HyperLogLog.HashInteger(long.CreateTruncating(value)));
        }
    }

    private void AddFloatChunk<T>(ReadOnlySpan<T> chunk, double[] buffer)
        where T : unmanaged, INumber<T>
    {
        ReadOnlySpan<double> doubles;
        if (typeof(T) == typeof(double))
        {
            doubles = MemoryMarshal.Cast<T, double>(chunk);
        }
        else
        {
            TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<T, float>(chunk), buffer.AsSpan(0, chunk.Length));
            doubles = buffer.AsSpan(0, chunk.Length);
        }

        var sum = TensorPrimitives.Sum(doubles);
        if (!double.IsFinite(sum))
        {
            AddNonFiniteChunk(doubles);
            return;
        }

        if (Moments is not null)
        {
            Moments.AddFinite(doubles, sum);
            Kll!.Update(doubles);
        }

        var hll = Hll;
        foreach (var value in doubles)
        {
            hll.AddHash(HyperLogLog.HashFloat(value));
        }
    }

    /// <summary>The slow path for a chunk holding NaN or infinities: NaN is counted and skipped, infinities are ordered values.</summary>
    private void AddNonFiniteChunk(ReadOnlySpan<double> doubles)
    {
        var notNaN = ArrayPool<double>.Shared.Rent(doubles.Length);
        try
        {
            var n = 0;
            foreach (var value in doubles)
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

    /// <summary>Copies the valid values of a chunk to the front of <paramref name="destination"/>; returns how many.</summary>
    private static int GatherValid<T>(ReadOnlySpan<T> values, byte[] validity, int bitOffset, T[] destination)
        where T : unmanaged
    {
        var n = 0;
        for (var i = 0; i < values.Length; i++)
        {
            // Branch-free: always write, advance only past a valid row.
            destination[n] = values[i];
            n += (validity[(bitOffset + i) >> 3] >> ((bitOffset + i) & 7)) & 1;
        }

        return n;
    }
}
