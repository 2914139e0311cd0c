using System.Globalization;
using Strata.Features.Definitions;

namespace Strata.Serving;

/// <summary>
/// How much of the prediction log is kept: a cap on the bytes of the folder's closed segments and an optional age
/// limit, judged by when a segment was last written (its modification time), never by the times in its name or its
/// records. Beyond either, the oldest closed segments are deleted (<see cref="PredictionLogCleaner"/>). Segments are
/// deleted whole; segments being written (<c>.jsonl.open</c>) are never counted nor deleted.
/// </summary>
public sealed record PredictionLogRetention
{
    /// <summary>
    /// The cap when none is set: 10 GiB. At the ~520-byte lines of a one-row prediction that is about 20 million
    /// predictions: at 100 a second about 2.4 days, at 1,000 about 6 hours, at the server's peak of ~45,000 about
    /// 7 minutes. Small against a server's disk, yet days of a typical endpoint's traffic.
    /// </summary>
    public const long DefaultMaxBytes = 10L << 30;

    /// <summary>The retention when nothing is set: <see cref="DefaultMaxBytes"/>, no age limit.</summary>
    public static PredictionLogRetention Default { get; } = new();

    /// <summary>Most bytes the folder's closed segments (every replica's, when shared) may hold; 0: no cap.</summary>
    public long MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>Longest a closed segment is kept after it was last written; <see cref="TimeSpan.Zero"/>: no age limit.</summary>
    public TimeSpan MaxAge { get; init; }

    /// <summary>The retention in words, for logs: <c>at most 10 GiB, no age limit</c>.</summary>
    public override string ToString() =>
        (MaxBytes > 0 ? "at most " + FormatBytes(MaxBytes) : "no size cap") + ", "
        + (MaxAge > TimeSpan.Zero ? "deleted " + FormatAge(MaxAge) + " after last written" : "no age limit");

    /// <summary>
    /// Reads a size cap: a whole number of bytes (<c>10737418240</c>), or a number with a unit — <c>KiB</c>, <c>MiB</c>,
    /// <c>GiB</c>, <c>TiB</c> (powers of 1024) or <c>KB</c>, <c>MB</c>, <c>GB</c>, <c>TB</c> (powers of 1000) — such as
    /// <c>10GiB</c> or <c>1.5 TB</c>; <c>0</c> or <c>off</c> for no cap.
    /// </summary>
    /// <param name="setting">The setting's name, for the error.</param>
    /// <param name="text">The value.</param>
    /// <exception cref="StrataException">Anything else (argument invalid), naming the setting and the value.</exception>
    public static long ParseBytes(string setting, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var value = text.Trim();
        if (value.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }

        var digits = value.Length;
        while (digits > 0 && char.IsAsciiLetter(value[digits - 1]))
        {
            digits--;
        }

        var unit = value[digits..];
        decimal? scale = unit.ToUpperInvariant() switch
        {
            "" or "B" => 1m,
            "KIB" => 1024m,
            "MIB" => 1024m * 1024,
            "GIB" => 1024m * 1024 * 1024,
            "TIB" => 1024m * 1024 * 1024 * 1024,
            "KB" => 1e3m,
            "MB" => 1e6m,
            "GB" => 1e9m,
            "TB" => 1e12m,
            _ => null,
        };
        var number = value[..digits].TrimEnd();
        if (scale is { } s && number.Length > 0
            && decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var count)
            && (s > 1 || decimal.Truncate(count) == count)
            && count <= long.MaxValue / s)
        {
            return (long)decimal.Truncate(count * s);
        }

        throw Invalid(setting, text, "a size such as 10GiB, 500MiB, 2TB or a number of bytes, or 0 (or off) for no cap",
            "the most the prediction log's closed segments may hold before the oldest are deleted");
    }

    /// <summary>
    /// Reads an age limit: a whole number and a unit (<c>90m</c>, <c>12h</c>, <c>7d</c>, as durations are written in
    /// <c>strata.yaml</c>) or a time span (<c>7.00:00:00</c>); <c>0</c> or <c>off</c> for no age limit.
    /// </summary>
    /// <param name="setting">The setting's name, for the error.</param>
    /// <param name="text">The value.</param>
    /// <exception cref="StrataException">Anything else (argument invalid), naming the setting and the value.</exception>
    public static TimeSpan ParseAge(string setting, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var value = text.Trim();
        if (value.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return TimeSpan.Zero;
        }

        if (Durations.TryParse(value, out var age)
            || (value.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out age) && age >= TimeSpan.Zero && age <= Durations.Max))
        {
            return age;
        }

        throw Invalid(setting, text, "an age such as 90m, 12h or 7d (or a time span such as 7.00:00:00), or 0 (or off) for no age limit",
            "how long after it was last written a closed segment of the prediction log is deleted");
    }

    private static StrataException Invalid(string setting, string value, string expected, string what) =>
        new(ErrorCodes.ArgumentInvalid, $"setting {setting} is '{value}', not {expected}: {what}");

    private static string FormatBytes(long bytes)
    {
        foreach (var (unit, size) in new[] { ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10) })
        {
            if (bytes >= size && bytes % size == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{bytes / size} {unit}");
            }
        }

        return string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes");
    }

    private static string FormatAge(TimeSpan age) =>
        Durations.IsValid(age) ? Durations.Format(age) : age.ToString("c", CultureInfo.InvariantCulture);
}
