using System.Globalization;

namespace Strata.Features.Definitions;

/// <summary>
/// Durations as feature definitions write them: a whole number and a unit — <c>90s</c>, <c>10m</c>, <c>3h</c>,
/// <c>1d</c> — or <c>0</c>. Whole seconds only, so the canonical text (largest unit that divides exactly) round-trips.
/// </summary>
public static class Durations
{
    /// <summary>Longest duration accepted (ten years), so arithmetic on microseconds never overflows.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(3660);

    /// <summary>Parses <c>90s</c>, <c>10m</c>, <c>3h</c>, <c>1d</c> or <c>0</c>.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        if (text == "0")
        {
            return true;
        }

        var seconds = text[^1] switch { 's' => 1L, 'm' => 60L, 'h' => 3600L, 'd' => 86400L, _ => 0L };
        if (seconds == 0
            || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || count > (long)Max.TotalSeconds / seconds)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(count * seconds);
        return true;
    }

    /// <summary>The canonical text: the largest of d, h, m, s that divides the duration exactly; <c>0</c> for zero.</summary>
    /// <exception cref="ArgumentException">Negative or not whole seconds.</exception>
    public static string Format(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero || duration.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new ArgumentException($"duration {duration} is not a whole, non-negative number of seconds", nameof(duration));
        }

        var seconds = duration.Ticks / TimeSpan.TicksPerSecond;
        if (seconds == 0)
        {
            return "0";
        }

        foreach (var (unit, size) in new[] { ('d', 86400L), ('h', 3600L), ('m', 60L) })
        {
            if (seconds % size == 0)
            {
                return (seconds / size).ToString(CultureInfo.InvariantCulture) + unit;
            }
        }

        return seconds.ToString(CultureInfo.InvariantCulture) + "s";
    }

    /// <summary>True for a duration <see cref="Format"/> can write and definitions may hold.</summary>
    public static bool IsValid(TimeSpan duration) =>
        duration >= TimeSpan.Zero && duration <= Max && duration.Ticks % TimeSpan.TicksPerSecond == 0;
}
