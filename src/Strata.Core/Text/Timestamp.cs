using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Strata;

/// <summary>
/// Timestamps are UTC microseconds since 1970-01-01 (a <see cref="long"/>), everywhere in Strata. This class converts
/// them to and from .NET types and ISO 8601 text.
/// </summary>
public static class Timestamp
{
    /// <summary>Microseconds per second.</summary>
    public const long MicrosPerSecond = 1_000_000;

    /// <summary>Microseconds per day.</summary>
    public const long MicrosPerDay = 86_400 * MicrosPerSecond;

    /// <summary>0001-01-01T00:00:00Z, the earliest representable instant.</summary>
    public const long MinValue = -62_135_596_800_000_000;

    /// <summary>9999-12-31T23:59:59.999999Z, the latest representable instant.</summary>
    public const long MaxValue = 253_402_300_799_999_999;

    private const long UnixEpochTicks = 621_355_968_000_000_000;

    /// <summary>Converts a DateTime; an unspecified kind counts as UTC, a local one is converted to UTC.</summary>
    public static long FromDateTime(DateTime value)
    {
        if (value.Kind == DateTimeKind.Local)
        {
            value = value.ToUniversalTime();
        }

        return Math.DivRem(value.Ticks - UnixEpochTicks, 10, out var rem) - (rem < 0 ? 1 : 0);
    }

    /// <summary>Converts a DateTimeOffset to its UTC instant.</summary>
    public static long FromDateTimeOffset(DateTimeOffset value) => FromDateTime(value.UtcDateTime);

    /// <summary>Converts to a UTC DateTime.</summary>
    public static DateTime ToDateTime(long micros)
    {
        if (micros is < MinValue or > MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(micros), micros, "timestamp outside years 1..9999");
        }

        return new DateTime((micros * 10) + UnixEpochTicks, DateTimeKind.Utc);
    }

    /// <summary>Formats as ISO 8601 in UTC: <c>2001-01-01T00:01:00Z</c>, with six fraction digits when the value has any.</summary>
    public static string Format(long micros)
    {
        var dt = ToDateTime(micros);
        return dt.Ticks % TimeSpan.TicksPerSecond == 0
            ? dt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : dt.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>Parses ISO 8601 text (see <see cref="TryParse(ReadOnlySpan{byte}, out long)"/>).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out long micros)
    {
        Span<byte> buffer = stackalloc byte[40];
        if (text.Length > buffer.Length || Encoding.UTF8.GetByteCount(text) != text.Length)
        {
            micros = 0;
            return false;
        }

        var written = Encoding.UTF8.GetBytes(text, buffer);
        return TryParse(buffer[..written], out micros);
    }

    /// <summary>
    /// Parses <c>YYYY-MM-DD</c>, optionally followed by <c>T</c> or a space and <c>HH:MM</c>, <c>:SS</c>, a fraction of up to
    /// nine digits (truncated to microseconds) and a zone (<c>Z</c>, <c>±HH:MM</c>, <c>±HHMM</c>, <c>±HH</c>). Text without a
    /// zone is read as UTC. Rejects impossible dates such as 2001-02-29.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParse(ReadOnlySpan<byte> s, out long micros)
    {
        micros = 0;
        if (s.Length < 10 || s[4] != '-' || s[7] != '-')
        {
            return false;
        }

        if (!TryDigits4(s, 0, out var year) || !TryDigits2(s, 5, out var month) || !TryDigits2(s, 8, out var day))
        {
            return false;
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DaysInMonth(year, month))
        {
            return false;
        }

        long hour = 0, minute = 0, second = 0, fraction = 0;
        var i = 10;
        if (i < s.Length && (s[i] == 'T' || s[i] == ' ' || s[i] == 't'))
        {
            if (s.Length < i + 6 || s[i + 3] != ':' || !TryDigits2(s, i + 1, out var h) || !TryDigits2(s, i + 4, out var m))
            {
                return false;
            }

            hour = h;
            minute = m;
            i += 6;
            if (i < s.Length && s[i] == ':')
            {
                if (s.Length < i + 3 || !TryDigits2(s, i + 1, out var sec))
                {
                    return false;
                }

                second = sec;
                i += 3;
                if (i < s.Length && (s[i] == '.' || s[i] == ','))
                {
                    i++;
                    var digits = 0;
                    while (i < s.Length && (uint)(s[i] - '0') <= 9)
                    {
                        if (digits < 6)
                        {
                            fraction = (fraction * 10) + (s[i] - '0');
                        }

                        digits++;
                        i++;
                    }

                    if (digits is 0 or > 9)
                    {
                        return false;
                    }

                    for (var d = digits; d < 6; d++)
                    {
                        fraction *= 10;
                    }
                }
            }

            if (hour > 23 || minute > 59 || second > 59)
            {
                return false;
            }
        }

        long offsetMinutes = 0;
        if (i < s.Length)
        {
            if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.Length)
            {
                i++;
            }
            else if (s[i] == '+' || s[i] == '-')
            {
                var sign = s[i] == '-' ? -1 : 1;
                if (!TryDigits2(s, i + 1, out var oh))
                {
                    return false;
                }

                var om = 0;
                var rest = s.Length - (i + 3);
                if (rest == 3 && s[i + 3] == ':' && TryDigits2(s, i + 4, out var m1))
                {
                    om = m1;
                }
                else if (rest == 2 && TryDigits2(s, i + 3, out var m2))
                {
                    om = m2;
                }
                else if (rest != 0)
                {
                    return false;
                }

                if (oh > 23 || om > 59)
                {
                    return false;
                }

                offsetMinutes = sign * ((oh * 60) + om);
                i = s.Length;
            }
            else
            {
                return false;
            }
        }

        if (i != s.Length)
        {
            return false;
        }

        var days = DaysFromCivil(year, month, day);
        micros = (days * MicrosPerDay) + (((hour * 3600) + (minute * 60) + second - (offsetMinutes * 60)) * MicrosPerSecond) + fraction;
        return micros is >= MinValue and <= MaxValue;
    }

    /// <summary>Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).</summary>
    internal static long DaysFromCivil(long year, long month, long day)
    {
        year -= month <= 2 ? 1 : 0;
        var era = (year >= 0 ? year : year - 399) / 400;
        var yearOfEra = year - (era * 400);
        var dayOfYear = ((153 * (month + (month > 2 ? -3 : 9))) + 2) / 5 + day - 1;
        var dayOfEra = (yearOfEra * 365) + (yearOfEra / 4) - (yearOfEra / 100) + dayOfYear;
        return (era * 146097) + dayOfEra - 719468;
    }

    private static int DaysInMonth(int year, int month) => month switch
    {
        2 => (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28,
        4 or 6 or 9 or 11 => 30,
        _ => 31,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryDigits2(ReadOnlySpan<byte> s, int at, out int value)
    {
        value = 0;
        if (at + 2 > s.Length)
        {
            return false;
        }

        var a = (uint)(s[at] - '0');
        var b = (uint)(s[at + 1] - '0');
        if (a > 9 || b > 9)
        {
            return false;
        }

        value = (int)((a * 10) + b);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryDigits4(ReadOnlySpan<byte> s, int at, out int value)
    {
        value = 0;
        if (!TryDigits2(s, at, out var hi) || !TryDigits2(s, at + 2, out var lo))
        {
            return false;
        }

        value = (hi * 100) + lo;
        return true;
    }
}
