using Strata.Serving;

namespace Strata.Server;

/// <summary>
/// The prediction log's retention, from <c>Strata:PredictionLog</c> (<c>--Strata:PredictionLog:RetentionBytes 20GiB</c>,
/// <c>Strata__PredictionLog__RetentionAge=7d</c>…); see <see cref="PredictionLogRetention"/> and docs/serving.md.
/// </summary>
public sealed class PredictionLogServerOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = StrataServerOptions.Section + ":PredictionLog";

    /// <summary>The size cap's setting.</summary>
    public const string RetentionBytesSetting = Section + ":" + nameof(RetentionBytes);

    /// <summary>The age limit's setting.</summary>
    public const string RetentionAgeSetting = Section + ":" + nameof(RetentionAge);

    /// <summary>
    /// Most bytes the closed segments of the home's <c>predictions/</c> may hold before the oldest are deleted: bytes, or
    /// a size such as <c>10GiB</c> (the default), <c>500MiB</c>, <c>2TB</c>; <c>0</c> or <c>off</c> for no cap.
    /// </summary>
    public string? RetentionBytes { get; set; }

    /// <summary>
    /// How long after it was last written a closed segment is deleted: <c>90m</c>, <c>12h</c>, <c>7d</c> or a time span;
    /// <c>0</c> or <c>off</c> (the default) for no age limit.
    /// </summary>
    public string? RetentionAge { get; set; }

    /// <summary>The retention these settings give (unset ones keep <see cref="PredictionLogRetention.Default"/>'s).</summary>
    /// <exception cref="StrataException">A setting that is not a size or an age, naming it and its value.</exception>
    public PredictionLogRetention Retention()
    {
        var retention = PredictionLogRetention.Default;
        if (!string.IsNullOrWhiteSpace(RetentionBytes))
        {
            retention = retention with { MaxBytes = PredictionLogRetention.ParseBytes(RetentionBytesSetting, RetentionBytes) };
        }

        if (!string.IsNullOrWhiteSpace(RetentionAge))
        {
            retention = retention with { MaxAge = PredictionLogRetention.ParseAge(RetentionAgeSetting, RetentionAge) };
        }

        return retention;
    }

    /// <summary>The configured retention, checked (at start-up, so a value that is not one stops the start, naming the setting).</summary>
    /// <exception cref="StrataException">A setting that is not a size or an age.</exception>
    public static PredictionLogRetention From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return new PredictionLogServerOptions { RetentionBytes = configuration[RetentionBytesSetting], RetentionAge = configuration[RetentionAgeSetting] }.Retention();
    }
}
