using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Strata.Hashing;

namespace Strata.Data.Profiling;

/// <summary>
/// A HyperLogLog distinct-count sketch (Flajolet et al., 2007) over 64-bit hashes with <c>2^p</c> one-byte registers.
/// Its relative standard error is <c>1.04 / √(2^p)</c>: 1.63% at the default p = 12 (4 KiB). Small cardinalities use
/// linear counting (<c>m·ln(m/V)</c>, V = empty registers), which is more precise there; above that the estimate is
/// Ertl's improved estimator (2017), which needs no empirical bias tables. Merging takes the register-wise maximum, so it
/// is exact: merge(A, B) is the sketch of A ∪ B.
/// </summary>
/// <remarks>
/// Hashing is fixed (<see cref="HashName"/>), so sketches from different processes merge. Strings hash their UTF-8
/// bytes with Strata's FastHash under a fixed seed. Numbers hash their 64-bit pattern — integers as <see cref="long"/>,
/// floating point as <see cref="double"/> with −0 folded into +0; NaN is ignored — through the SplitMix64 finalizer,
/// a bijection with full avalanche, so distinct numbers never collide (FastHash's 64-bit integer hash spreads the high
/// bits of consecutive integers too unevenly for HyperLogLog).
/// </remarks>
public sealed class HyperLogLog
{
    /// <summary>The default precision (4096 registers, 1.63% standard error).</summary>
    public const int DefaultPrecision = 12;

    /// <summary>The smallest accepted precision.</summary>
    public const int MinPrecision = 4;

    /// <summary>The largest accepted precision.</summary>
    public const int MaxPrecision = 18;

    /// <summary>Names the hash functions and seed; saved with the registers so sketches of another hash are never merged in.</summary>
    public const string HashName = "strata-hll/1";

    internal const ulong HashSeed = 0x9E3779B97F4A7C15UL;

    // Linear counting is more precise than the HLL estimate up to about 2.5 values per register (Flajolet et al.).
    private const double LinearCountingLimit = 2.5;

    private readonly byte[] _registers;
    private readonly int _precision;

    /// <summary>Creates an empty sketch with 2^<paramref name="precision"/> registers.</summary>
    public HyperLogLog(int precision = DefaultPrecision)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(precision, MinPrecision);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(precision, MaxPrecision);
        _precision = precision;
        _registers = new byte[1 << precision];
    }

    private HyperLogLog(int precision, byte[] registers)
    {
        _precision = precision;
        _registers = registers;
    }

    /// <summary>log2 of the number of registers.</summary>
    public int Precision => _precision;

    /// <summary>The relative standard error of <see cref="Estimate"/>: 1.04 / √(2^p).</summary>
    public double StandardError => StandardErrorFor(_precision);

    /// <summary>True when nothing has been added.</summary>
    public bool IsEmpty => _registers.AsSpan().IndexOfAnyExcept((byte)0) < 0;

    /// <summary>The relative standard error of a sketch with this precision.</summary>
    public static double StandardErrorFor(int precision) => 1.04 / Math.Sqrt(1 << precision);

    /// <summary>Adds a string given as UTF-8 bytes.</summary>
    public void Add(ReadOnlySpan<byte> utf8) => AddHash(FastHash.Hash(utf8, HashSeed));

    /// <summary>Adds an integer (int32, int64 and timestamp values hash alike).</summary>
    public void Add(long value) => AddHash(HashInteger(value));

    /// <summary>Adds a floating-point value; NaN is ignored and −0 counts as +0.</summary>
    public void Add(double value)
    {
        if (!double.IsNaN(value))
        {
            AddHash(HashFloat(value));
        }
    }

    /// <summary>Merges another sketch of the same precision into this one.</summary>
    /// <exception cref="StrataException">The precisions differ.</exception>
    public void Merge(HyperLogLog other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._precision != _precision)
        {
            throw new StrataException(
                ErrorCodes.ArgumentInvalid, $"cannot merge a HyperLogLog sketch of precision {other._precision} into one of precision {_precision}");
        }

        TensorPrimitives.Max(_registers, other._registers, _registers);
    }

    /// <summary>A deep copy.</summary>
    public HyperLogLog Clone() => new(_precision, (byte[])_registers.Clone());

    /// <summary>The estimated number of distinct values added.</summary>
    public double Estimate()
    {
        var m = _registers.Length;
        var q = 64 - _precision;
        Span<int> histogram = stackalloc int[q + 2];
        foreach (var r in _registers)
        {
            histogram[r]++;
        }

        if (histogram[0] == m)
        {
            return 0;
        }

        if (histogram[0] > 0)
        {
            var linear = m * Math.Log((double)m / histogram[0]);
            if (linear <= LinearCountingLimit * m)
            {
                return linear;
            }
        }

        // Ertl, "New cardinality estimation algorithms for HyperLogLog sketches" (2017), section 4.
        var z = m * Tau(1 - ((double)histogram[q + 1] / m));
        for (var k = q; k >= 1; k--)
        {
            z = 0.5 * (z + histogram[k]);
        }

        z += m * Sigma((double)histogram[0] / m);
        return m / (2 * Math.Log(2)) * m / z;
    }

    /// <summary>The registers (for serialization).</summary>
    internal ReadOnlySpan<byte> Registers => _registers;

    /// <summary>Rebuilds a sketch from saved registers, checking their range; <paramref name="path"/> names the field in errors.</summary>
    internal static HyperLogLog FromRegisters(int precision, byte[] registers, string path)
    {
        if (precision is < MinPrecision or > MaxPrecision)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"profile JSON: {path}.precision must be within [{MinPrecision}, {MaxPrecision}], not {precision}");
        }

        if (registers.Length != 1 << precision)
        {
            throw new StrataException(
                ErrorCodes.DataMalformed, $"profile JSON: {path}.registers holds {registers.Length} registers, precision {precision} needs {1 << precision}");
        }

        var maxRank = 65 - precision;
        if (TensorPrimitives.Max(registers) > maxRank)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"profile JSON: {path}.registers holds a value above {maxRank}");
        }

        return new HyperLogLog(precision, registers);
    }

    /// <summary>The hash of an integer value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong HashInteger(long value) => Finalize((ulong)value);

    /// <summary>The hash of a non-NaN floating-point value (adding +0 turns −0 into +0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong HashFloat(double value) => Finalize(BitConverter.DoubleToUInt64Bits(value + 0.0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Finalize(ulong bits)
    {
        var state = bits ^ HashSeed;
        return SplitMix64.Next(ref state);
    }

    /// <summary>Records a 64-bit hash: the top p bits pick a register, the position of the first 1 bit after them is the rank.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void AddHash(ulong hash)
    {
        var index = (int)(hash >> (64 - _precision));

        // NOTE: the guard bit caps the rank at 65 - p, so a register never overflows its byte.
        var rank = (byte)(BitOperations.LeadingZeroCount((hash << _precision) | (1UL << (_precision - 1))) + 1);
        ref var register = ref _registers[index];
        if (rank > register)
        {
            register = rank;
        }
    }

    private static double Sigma(double x)
    {
        if (x == 1)
        {
            return double.PositiveInfinity;
        }

        var y = 1.0;
        var z = x;
        double previous;
        do
        {
            x *= x;
            previous = z;
            z += x * y;
            y += y;
        }
        while (z != previous);
        return z;
    }

    private static double Tau(double x)
    {
        if (x == 0 || x == 1)
        {
            return 0;
        }

        var y = 1.0;
        var z = 1 - x;
        double previous;
        do
        {
            x = Math.Sqrt(x);
            previous = z;
            y *= 0.5;
            z -= (1 - x) * (1 - x) * y;
        }
        while (z != previous);
        return z / 3;
    }
}
