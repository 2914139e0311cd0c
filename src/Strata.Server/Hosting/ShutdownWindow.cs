using System.Globalization;

namespace Strata.Server.Hosting;

/// <summary>
/// How long the host waits, once told to stop, for requests in flight and then for the stores, the serving runtime and
/// the prediction log to close: the operator's <c>shutdownTimeoutSeconds</c> (the .NET host's own setting, also
/// <c>DOTNET_SHUTDOWNTIMEOUTSECONDS</c>) or <c>HostOptions:ShutdownTimeout</c> (a time span) when configured, else 30 s.
/// </summary>
internal static class ShutdownWindow
{
    /// <summary>The window when none is configured (.NET's default).</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    /// <summary>The longest window taken: a day (the host's timer refuses 49 days and more, and only when it stops).</summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(1);

    /// <summary>The .NET host's setting, in whole seconds.</summary>
    public const string SecondsSetting = "shutdownTimeoutSeconds";

    /// <summary>The <see cref="HostOptions"/> property as a setting (a time span such as 00:01:30), which the host leaves unread.</summary>
    public const string TimeSpanSetting = "HostOptions:ShutdownTimeout";

    /// <summary>The configured window, else <see cref="Default"/>.</summary>
    /// <exception cref="StrataException">A setting that is not a window from 0 to <see cref="Max"/>, or both given and unequal.</exception>
    public static TimeSpan From(IConfiguration configuration)
    {
        var seconds = Seconds(configuration[SecondsSetting]);
        var span = Span(configuration[TimeSpanSetting]);
        if (seconds is { } a && span is { } b && a != b)
        {
            throw new StrataException(
                ErrorCodes.ArgumentInvalid,
                $"the shutdown timeout is set twice, as {SecondsSetting} ({a.TotalSeconds:0} s) and as {TimeSpanSetting} ({b:c}); set one");
        }

        return seconds ?? span ?? Default;
    }

    // NOTE: the host reads shutdownTimeoutSeconds itself, but a value it cannot parse ('30s', '-1', '1.5') it ignores without
    // a word and keeps 30 s: an operator who set it would learn so only when a long request was cut.
    private static TimeSpan? Seconds(string? text) =>
        string.IsNullOrEmpty(text) ? null
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= Max.TotalSeconds ? TimeSpan.FromSeconds(n)
        : throw Invalid(SecondsSetting, text, $"a whole number of seconds from 0 to {Max.TotalSeconds:0}");

    private static TimeSpan? Span(string? text) =>
        string.IsNullOrEmpty(text) ? null
        : TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var t) && t >= TimeSpan.Zero && t <= Max ? t
        : throw Invalid(TimeSpanSetting, text, "a time span from 00:00:00 to 1.00:00:00 (such as 00:01:30)");

    private static StrataException Invalid(string setting, string value, string expected) => new(
        ErrorCodes.ArgumentInvalid,
        $"setting {setting} is '{value}', not {expected}: how long requests in flight may take to finish once the server is told to stop");
}
