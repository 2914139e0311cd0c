using System.Globalization;

namespace Strata.Pipelines;

/// <summary>
/// A 5-field cron schedule (minute hour day-of-month month day-of-week, in UTC): <c>*</c>, values, ranges <c>a-b</c>,
/// lists <c>a,b</c>, steps <c>*/n</c> and <c>a-b/n</c>, month and day names (<c>jan</c>, <c>mon</c>); day-of-week 0 and 7
/// are Sunday. As in cron, when both day fields are restricted a day matching either is due.
/// </summary>
public sealed class CronSchedule
{
    private static readonly string[] MonthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    private static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    private readonly bool[] _minutes;
    private readonly bool[] _hours;
    private readonly bool[] _days;
    private readonly bool[] _months;
    private readonly bool[] _weekdays;
    private readonly bool _daysRestricted;
    private readonly bool _weekdaysRestricted;

    private CronSchedule(string text, bool[] minutes, bool[] hours, bool[] days, bool[] months, bool[] weekdays, bool daysRestricted, bool weekdaysRestricted)
    {
        Text = text;
        _minutes = minutes;
        _hours = hours;
        _days = days;
        _months = months;
        _weekdays = weekdays;
        _daysRestricted = daysRestricted;
        _weekdaysRestricted = weekdaysRestricted;
    }

    /// <summary>The expression.</summary>
    public string Text { get; }

    /// <summary>Parses an expression.</summary>
    /// <exception cref="StrataException">Not five fields, or a field out of its range, naming the field.</exception>
    public static CronSchedule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > 200)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "cron: an expression is at most 200 characters");
        }

        var fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 5)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"cron: '{text}' has {fields.Length} fields; a schedule has 5 (minute hour day-of-month month day-of-week)");
        }

        var weekdays = Field(fields[4], "day-of-week", 0, 7, DayNames);
        weekdays[0] |= weekdays[7];
        return new CronSchedule(
            text,
            Field(fields[0], "minute", 0, 59, null),
            Field(fields[1], "hour", 0, 23, null),
            Field(fields[2], "day-of-month", 1, 31, null),
            Field(fields[3], "month", 1, 12, MonthNames),
            weekdays,
            fields[2] != "*",
            fields[4] != "*");
    }

    /// <summary>The first minute strictly after <paramref name="after"/> that the schedule is due (UTC), or null within four years.</summary>
    public DateTimeOffset? Next(DateTimeOffset after)
    {
        var t = after.ToUniversalTime();
        t = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero).AddMinutes(1);
        var end = t.AddYears(4);
        while (t < end)
        {
            if (!_months[t.Month] || !DayMatches(t))
            {
                t = new DateTimeOffset(t.Year, t.Month, t.Day, 0, 0, 0, TimeSpan.Zero).AddDays(1);
                continue;
            }

            if (!_hours[t.Hour])
            {
                t = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
                continue;
            }

            if (_minutes[t.Minute])
            {
                return t;
            }

            t = t.AddMinutes(1);
        }

        return null;
    }

    private bool DayMatches(DateTimeOffset t)
    {
        var day = _days[t.Day];
        var weekday = _weekdays[(int)t.DayOfWeek];
        return _daysRestricted && _weekdaysRestricted ? day || weekday : day && weekday;
    }

    private static bool[] Field(string text, string name, int min, int max, string[]? names)
    {
        var set = new bool[max + 1];
        foreach (var part in text.Split(','))
        {
            var step = 1;
            var range = part;
            var slash = part.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0)
            {
                step = int.TryParse(part[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0
                    ? s
                    : throw Bad(name, text, $"'{part[(slash + 1)..]}' is not a positive step");
                range = part[..slash];
            }

            int low, high;
            if (range == "*")
            {
                (low, high) = (min, max);
            }
            else
            {
                var dash = range.IndexOf('-', StringComparison.Ordinal);
                low = Value(dash >= 0 ? range[..dash] : range);
                high = dash >= 0 ? Value(range[(dash + 1)..]) : slash >= 0 ? max : low;
                if (high < low)
                {
                    throw Bad(name, text, $"'{range}' runs backwards");
                }
            }

            for (var v = low; v <= high; v += step)
            {
                set[v] = true;
            }
        }

        return set;

        int Value(string token)
        {
            var index = names is null ? -1 : Array.IndexOf(names, token.ToLowerInvariant());
            var value = index >= 0 ? index + (name == "month" ? 1 : 0)
                : int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
                : throw Bad(name, text, $"'{token}' is not a number");
            return value >= min && value <= max ? value : throw Bad(name, text, $"{value} is outside {min}-{max}");
        }
    }

    private static StrataException Bad(string field, string text, string why) => new(ErrorCodes.ArgumentInvalid, $"cron: {field} '{text}': {why}");
}
