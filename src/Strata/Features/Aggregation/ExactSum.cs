using System.Numerics;
using System.Runtime.CompilerServices;

namespace Strata.Features.Aggregation;

/// <summary>
/// The exact sum of doubles as a 2176-bit two's complement fixed-point integer in units of 2^-1074 (the smallest
/// subnormal), rounded once to the nearest double (ties to even) when read. Exact arithmetic makes the result independent of
/// the order values are added and removed in, so a batch sliding window (add the newest, remove the oldest) and a
/// streaming recomputation of the same window give bit-identical sums: the train/serve consistency guarantee rests on it.
/// </summary>
/// <remarks>
/// Finite doubles span bits 0..2097 of the fixed-point value; 2176 bits leave 78 bits of headroom for carries (2^77 values)
/// and the sign. NaN and infinities are counted apart: any NaN, or both infinities, give NaN; one infinity gives itself.
/// </remarks>
internal struct ExactSum
{
    private const int LimbCount = 34;
    private Limbs _limbs;
    private long _nan;
    private long _positiveInfinity;
    private long _negativeInfinity;

    /// <summary>Adds a value.</summary>
    public void Add(double value) => Accumulate(value, +1);

    /// <summary>Removes a value added before.</summary>
    public void Remove(double value) => Accumulate(value, -1);

    /// <summary>Back to zero.</summary>
    public void Clear() => this = default;

    /// <summary>The exact sum rounded to the nearest double, ties to even; an exact zero is +0.</summary>
    public readonly double ToDouble()
    {
        if (_nan > 0 || (_positiveInfinity > 0 && _negativeInfinity > 0))
        {
            return double.NaN;
        }

        if (_positiveInfinity > 0)
        {
            return double.PositiveInfinity;
        }

        if (_negativeInfinity > 0)
        {
            return double.NegativeInfinity;
        }

        var magnitude = _limbs;
        var negative = (long)magnitude[LimbCount - 1] < 0;
        if (negative)
        {
            Negate(ref magnitude);
        }

        var top = LimbCount - 1;
        while (top >= 0 && magnitude[top] == 0)
        {
            top--;
        }

        if (top < 0)
        {
            return 0.0;
        }

        var highest = (top * 64) + 63 - BitOperations.LeadingZeroCount(magnitude[top]);
        ulong bits;
        if (highest <= 52)
        {
            // Fits a 53-bit mantissa at the smallest exponent: exact (subnormal when below 2^52).
            var q = magnitude[0];
            bits = q < 1UL << 52 ? q : (1UL << 52) | (q - (1UL << 52));
        }
        else
        {
            var lsb = highest - 52;
            var q = Extract(ref magnitude, lsb, 53);
            var half = Bit(ref magnitude, lsb - 1);
            var sticky = half && AnyBelow(ref magnitude, lsb - 1);
            if (half && (sticky || (q & 1) == 1))
            {
                q++;
                if (q == 1UL << 53)
                {
                    q >>= 1;
                    lsb++;
                }
            }

            var exponent = (ulong)lsb + 1;
            bits = exponent >= 2047 ? 0x7FFUL << 52 : (exponent << 52) | (q - (1UL << 52));
        }

        return BitConverter.UInt64BitsToDouble(bits | (negative ? 1UL << 63 : 0));
    }

    private void Accumulate(double value, int sign)
    {
        if (double.IsNaN(value))
        {
            _nan += sign;
            return;
        }

        if (double.IsInfinity(value))
        {
            if (value > 0)
            {
                _positiveInfinity += sign;
            }
            else
            {
                _negativeInfinity += sign;
            }

            return;
        }

        var raw = BitConverter.DoubleToUInt64Bits(value);
        var exponent = (int)((raw >> 52) & 0x7FF);
        var mantissa = raw & ((1UL << 52) - 1);
        if (exponent == 0)
        {
            if (mantissa == 0)
            {
                return;
            }

            exponent = 1; // subnormal: same scale as the smallest normal, no implicit bit
        }
        else
        {
            mantissa |= 1UL << 52;
        }

        // Bit position of the mantissa's lowest bit in units of 2^-1074.
        var position = exponent - 1;
        var limb = position >> 6;
        var shift = position & 63;
        var low = mantissa << shift;
        var high = shift == 0 ? 0 : mantissa >> (64 - shift);
        if ((raw >> 63 == 0) == (sign > 0))
        {
            AddAt(limb, low, high);
        }
        else
        {
            SubtractAt(limb, low, high);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AddAt(int limb, ulong low, ulong high)
    {
        var before = _limbs[limb];
        _limbs[limb] = before + low;
        ulong carry = _limbs[limb] < before ? 1UL : 0UL;
        var next = _limbs[limb + 1];
        var sum = next + high;
        var carry2 = sum < next ? 1UL : 0UL;
        _limbs[limb + 1] = sum + carry;
        carry = carry2 | (_limbs[limb + 1] < sum ? 1UL : 0UL);
        for (var i = limb + 2; carry != 0 && i < LimbCount; i++)
        {
            _limbs[i]++;
            carry = _limbs[i] == 0 ? 1UL : 0UL;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SubtractAt(int limb, ulong low, ulong high)
    {
        var before = _limbs[limb];
        _limbs[limb] = before - low;
        ulong borrow = before < low ? 1UL : 0UL;
        var next = _limbs[limb + 1];
        var difference = next - high;
        var borrow2 = next < high ? 1UL : 0UL;
        _limbs[limb + 1] = difference - borrow;
        borrow = borrow2 | (difference < borrow ? 1UL : 0UL);
        for (var i = limb + 2; borrow != 0 && i < LimbCount; i++)
        {
            borrow = _limbs[i] == 0 ? 1UL : 0UL;
            _limbs[i]--;
        }
    }

    private static void Negate(ref Limbs limbs)
    {
        ulong carry = 1;
        for (var i = 0; i < LimbCount; i++)
        {
            var inverted = ~limbs[i];
            limbs[i] = inverted + carry;
            carry = carry != 0 && limbs[i] == 0 ? 1UL : 0UL;
        }
    }

    private static bool Bit(ref Limbs limbs, int position) => ((limbs[position >> 6] >> (position & 63)) & 1) == 1;

    /// <summary>Bits [position, position + count) as an integer (count ≤ 64).</summary>
    private static ulong Extract(ref Limbs limbs, int position, int count)
    {
        var limb = position >> 6;
        var shift = position & 63;
        var value = limbs[limb] >> shift;
        if (shift != 0 && limb + 1 < LimbCount)
        {
            value |= limbs[limb + 1] << (64 - shift);
        }

        return count == 64 ? value : value & ((1UL << count) - 1);
    }

    /// <summary>True when any bit below <paramref name="position"/> is set.</summary>
    private static bool AnyBelow(ref Limbs limbs, int position)
    {
        var limb = position >> 6;
        var shift = position & 63;
        if (shift != 0 && (limbs[limb] & ((1UL << shift) - 1)) != 0)
        {
            return true;
        }

        for (var i = limb - 1; i >= 0; i--)
        {
            if (limbs[i] != 0)
            {
                return true;
            }
        }

        return false;
    }

    [InlineArray(LimbCount)]
    private struct Limbs
    {
        private ulong _element;
    }
}
