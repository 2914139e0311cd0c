using System.Globalization;
using System.Runtime.CompilerServices;

namespace Strata.Data.Text;

/// <summary>Parses numbers and booleans straight from UTF-8 field bytes, without allocating.</summary>
internal static class Utf8Numbers
{
    // Exact powers of ten up to 1e22: a mantissa below 2^53 times one of these is correctly rounded (Clinger's fast path).
    private static readonly double[] PowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    /// <summary>Strips ASCII spaces and tabs at both ends (numbers and booleans tolerate them; strings keep them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        var start = 0;
        var end = s.Length;
        while (start < end && (s[start] == ' ' || s[start] == '\t'))
        {
            start++;
        }

        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        {
            end--;
        }

        return s[start..end];
    }

    /// <summary>An optionally signed run of decimal digits that fits in a long.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseInt64(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty)
        {
            return false;
        }

        var i = 0;
        var negative = false;
        if (s[0] == '-' || s[0] == '+')
        {
            negative = s[0] == '-';
            i = 1;
            if (s.Length == 1)
            {
                return false;
            }
        }

        // Up to 18 digits cannot overflow; longer runs take the checked path.
        if (s.Length - i <= 18)
        {
            long acc = 0;
            for (; i < s.Length; i++)
            {
                var d = (uint)(s[i] - '0');
                if (d > 9)
                {
                    return false;
                }

                acc = (acc * 10) + d;
            }

            value = negative ? -acc : acc;
            return true;
        }

        ulong big = 0;
        for (; i < s.Length; i++)
        {
            var d = (uint)(s[i] - '0');
            if (d > 9 || big > (ulong.MaxValue - d) / 10)
            {
                return false;
            }

            big = (big * 10) + d;
        }

        if (negative)
        {
            if (big > 9_223_372_036_854_775_808UL)
            {
                return false;
            }

            value = (long)(0UL - big);
            return true;
        }

        if (big > long.MaxValue)
        {
            return false;
        }

        value = (long)big;
        return true;
    }

    /// <summary>True when the text is an integer literal, whatever its size (used to tell "out of range" from "not a number").</summary>
    public static bool IsIntegerLiteral(ReadOnlySpan<byte> s)
    {
        var i = s.Length > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
        if (i == s.Length)
        {
            return false;
        }

        for (; i < s.Length; i++)
        {
            if ((uint)(s[i] - '0') > 9)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A decimal or scientific number, <c>NaN</c>, <c>Infinity</c> or <c>-Infinity</c>. Finite text that overflows to
    /// infinity is rejected (<paramref name="overflow"/> tells the caller why).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseDouble(ReadOnlySpan<byte> s, out double value, out bool overflow)
    {
        overflow = false;
        if (TryFastDouble(s, out value))
        {
            return true;
        }

        if (s.IsEmpty || !double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            return false;
        }

        // Reject thousands of digits of nothing and literals like "1e999" that silently become infinity.
        if (double.IsInfinity(value) && !LooksLikeInfinityWord(s))
        {
            overflow = true;
            return false;
        }

        return true;
    }

    /// <summary>true/false in any letter case.</summary>
    public static bool TryParseBool(ReadOnlySpan<byte> s, out bool value)
    {
        if (s.Length == 4 && (s[0] | 0x20) == 't' && (s[1] | 0x20) == 'r' && (s[2] | 0x20) == 'u' && (s[3] | 0x20) == 'e')
        {
            value = true;
            return true;
        }

        if (s.Length == 5 && (s[0] | 0x20) == 'f' && (s[1] | 0x20) == 'a' && (s[2] | 0x20) == 'l' && (s[3] | 0x20) == 's' && (s[4] | 0x20) == 'e')
        {
            value = false;
            return true;
        }

        value = false;
        return false;
    }

    private static bool LooksLikeInfinityWord(ReadOnlySpan<byte> s)
    {
        var t = s[0] is (byte)'-' or (byte)'+' ? s[1..] : s;
        return (t.Length > 0 && (t[0] | 0x20) == 'i') || t.SequenceEqual("∞"u8);
    }

    /// <summary>[sign] digits [. digits] [e [sign] digits] with at most 19 significant digits and a small exponent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryFastDouble(ReadOnlySpan<byte> s, out double value)
    {
        value = 0;
        var i = 0;
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            i = 1;
        }

        ulong mantissa = 0;
        var exponent = 0;
        var intDigits = AccumulateDigits(s, ref i, ref mantissa);
        var digits = intDigits;
        var fracDigits = 0;
        if (i < s.Length && s[i] == '.')
        {
            i++;
            fracDigits = AccumulateDigits(s, ref i, ref mantissa);
            digits += fracDigits;
            exponent = -fracDigits;
        }

        if (intDigits + fracDigits == 0 || digits > 19)
        {
            return false;
        }

        if (i < s.Length && (s[i] == 'e' || s[i] == 'E'))
        {
            i++;
            var expNegative = false;
            if (i < s.Length && (s[i] == '-' || s[i] == '+'))
            {
                expNegative = s[i] == '-';
                i++;
            }

            var expStart = i;
            var e = 0;
            for (; i < s.Length && i - expStart < 4; i++)
            {
                var d = (uint)(s[i] - '0');
                if (d > 9)
                {
                    break;
                }

                e = (e * 10) + (int)d;
            }

            if (i == expStart)
            {
                return false;
            }

            exponent += expNegative ? -e : e;
        }

        if (i != s.Length || mantissa > (1UL << 53))
        {
            return false;
        }

        double result = mantissa;
        if (exponent < 0)
        {
            if (-exponent > 22)
            {
                return false;
            }

            result /= PowersOfTen[-exponent];
        }
        else if (exponent > 0)
        {
            if (exponent > 22)
            {
                return false;
            }

            result *= PowersOfTen[exponent];
        }

        value = negative ? -result : result;
        return true;
    }

    /// <summary>Appends the decimal digits at <paramref name="i"/> to <paramref name="mantissa"/>; returns how many there were.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AccumulateDigits(ReadOnlySpan<byte> s, ref int i, ref ulong mantissa)
    {
        var start = i;
        for (; i < s.Length; i++)
        {
            var d = (uint)(s[i] - '0');
            if (d > 9)
            {
                break;
            }

            mantissa = (mantissa * 10) + d;
        }

        return i - start;
    }
}
