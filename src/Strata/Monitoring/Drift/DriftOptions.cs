using System.Globalization;

namespace Strata.Monitoring.Drift;

/// <summary>A data-drift test.</summary>
public enum DriftMethod
{
    /// <summary>Population stability index over reference-quantile bins; drift when ≥ the threshold (default 0.1).</summary>
    Psi,

    /// <summary>Two-sample Kolmogorov–Smirnov; drift when the p-value is below the threshold (default 0.05).</summary>
    KolmogorovSmirnov,

    /// <summary>Wasserstein distance divided by the reference's standard deviation; drift when ≥ the threshold (default 0.1).</summary>
    Wasserstein,

    /// <summary>Jensen–Shannon distance (natural log); drift when ≥ the threshold (default 0.1).</summary>
    JensenShannon,

    /// <summary>Pearson's chi-square against the reference's frequencies; drift when the p-value is below the threshold (default 0.05).</summary>
    ChiSquare,
}

/// <summary>The verdict on one feature or on the data set.</summary>
public enum DriftStatus
{
    /// <summary>Tested, not drifted.</summary>
    NoDrift,

    /// <summary>Tested, drifted.</summary>
    Drift,

    /// <summary>Too few values to test (never read as "no drift").</summary>
    InsufficientData,
}

/// <summary>A per-feature override of the method and/or threshold.</summary>
/// <param name="Method">The test, or null for the default choice.</param>
/// <param name="Threshold">The threshold, or null for the method's default.</param>
public sealed record FeatureDriftOptions(DriftMethod? Method = null, double? Threshold = null);

/// <summary>
/// How drift is tested. The defaults are Evidently's: numeric features use Wasserstein (0.1) above 1,000 reference
/// values and KS (p &lt; 0.05) otherwise; categorical ones Jensen–Shannon (0.1) above 1,000 and chi-square (p &lt; 0.05)
/// otherwise; the data set drifts when at least half of the tested features do.
/// </summary>
public sealed record DriftOptions
{
    /// <summary>The defaults.</summary>
    public static DriftOptions Default { get; } = new();

    /// <summary>Reference size above which the distance methods replace the hypothesis tests (Evidently: 1,000).</summary>
    public long LargeReferenceRows { get; init; } = 1000;

    /// <summary>Fewest current values (and reference values) a feature needs to be tested; below it the verdict is insufficient data.</summary>
    public long MinimumSampleSize { get; init; } = 30;

    /// <summary>Share of tested features that must drift for the data set to drift (Evidently: 0.5).</summary>
    public double DriftShare { get; init; } = 0.5;

    /// <summary>Bins for PSI and Jensen–Shannon on numeric features (reference-quantile bins).</summary>
    public int Bins { get; init; } = 10;

    /// <summary>Overrides by feature name.</summary>
    public IReadOnlyDictionary<string, FeatureDriftOptions> Features { get; init; } = new Dictionary<string, FeatureDriftOptions>();

    /// <summary>The default threshold of a method.</summary>
    public static double DefaultThreshold(DriftMethod method) => method switch
    {
        DriftMethod.KolmogorovSmirnov or DriftMethod.ChiSquare => 0.05,
        _ => 0.1,
    };

    /// <summary>Throws when a value is out of range.</summary>
    /// <param name="named">How the caller names an option given its <c>strata.yaml</c> name (a command its own flags); default <c>field 'min_samples'</c>.</param>
    /// <exception cref="StrataException"><see cref="ErrorCodes.ArgumentInvalid"/>, naming the option.</exception>
    public void Validate(Func<string, string>? named = null)
    {
        StrataException Invalid(string field, object value, string rule) =>
            new(ErrorCodes.ArgumentInvalid, $"{named?.Invoke(field) ?? $"field '{field}'"}: {Convert.ToString(value, CultureInfo.InvariantCulture)} {rule}");

        if (MinimumSampleSize < 1)
        {
            throw Invalid("min_samples", MinimumSampleSize, "must be at least 1");
        }

        if (!(DriftShare is > 0 and <= 1))
        {
            throw Invalid("drift.share", DriftShare, "must be within (0, 1]");
        }

        if (Bins is < 2 or > 1000)
        {
            throw Invalid("drift.bins", Bins, "must be within [2, 1000]");
        }

        if (LargeReferenceRows < 0)
        {
            throw Invalid("drift.large_reference_rows", LargeReferenceRows, "must be at least 0");
        }

        foreach (var (name, feature) in Features)
        {
            if (feature.Threshold is { } t && !(double.IsFinite(t) && t >= 0))
            {
                throw Invalid($"drift.features.{name}.threshold", t, "must be a finite number ≥ 0");
            }
        }
    }

}

/// <summary>One feature's drift verdict.</summary>
/// <param name="Feature">The feature.</param>
/// <param name="Method">The test used.</param>
/// <param name="Score">The statistic or distance (NaN when there was too little data).</param>
/// <param name="PValue">The p-value for KS and chi-square.</param>
/// <param name="Threshold">The threshold applied.</param>
/// <param name="Status">Drift, no drift, or insufficient data.</param>
/// <param name="ReferenceCount">Reference values.</param>
/// <param name="CurrentCount">Current values.</param>
public sealed record FeatureDrift(
    string Feature, DriftMethod Method, double Score, double? PValue, double Threshold, DriftStatus Status, long ReferenceCount, long CurrentCount);

/// <summary>The drift of a data set: each feature's verdict and the share that drifted.</summary>
/// <param name="Features">Per-feature verdicts, in layout order.</param>
/// <param name="DriftedCount">Features that drifted.</param>
/// <param name="TestedCount">Features with enough data to test.</param>
/// <param name="DriftShare">DriftedCount / TestedCount (0 when none was tested).</param>
/// <param name="Status">Drift when the share reaches the option's threshold; insufficient data when nothing could be tested.</param>
public sealed record DatasetDrift(IReadOnlyList<FeatureDrift> Features, int DriftedCount, int TestedCount, double DriftShare, DriftStatus Status);
