namespace Strata.Data.Validation;

/// <summary>The kinds of problem validation reports, after TensorFlow Data Validation's anomaly types.</summary>
public enum AnomalyKind
{
    /// <summary>A column the schema lists is not in the data.</summary>
    MissingColumn,
    /// <summary>The data has a column the schema does not list.</summary>
    ExtraColumn,
    /// <summary>Values that cannot be read as the schema's type.</summary>
    TypeMismatch,
    /// <summary>More nulls than the schema allows.</summary>
    NullFraction,
    /// <summary>Values below the schema's min or above its max.</summary>
    OutOfRange,
    /// <summary>Values outside the schema's categories.</summary>
    UnknownCategory,
    /// <summary>The distribution moved further from the reference profile than the threshold.</summary>
    DistributionSkew,
}

/// <summary>One problem found in the data, with the numbers behind it.</summary>
/// <param name="Column">The column it concerns.</param>
/// <param name="Kind">What kind of problem.</param>
/// <param name="Description">A sentence a person can act on.</param>
/// <param name="Observed">The measured value (a fraction, a distance, a count), when there is one.</param>
/// <param name="Limit">The schema's limit it exceeded, when there is one.</param>
/// <param name="Examples">Up to a few offending values (never for PII columns).</param>
public sealed record Anomaly(string Column, AnomalyKind Kind, string Description, double? Observed = null, double? Limit = null, IReadOnlyList<string>? Examples = null)
{
    /// <summary>A stable snake_case code for scripts (missing_column, type_mismatch, …).</summary>
    public string Code => Kind switch
    {
        AnomalyKind.MissingColumn => "missing_column",
        AnomalyKind.ExtraColumn => "extra_column",
        AnomalyKind.TypeMismatch => "type_mismatch",
        AnomalyKind.NullFraction => "null_fraction",
        AnomalyKind.OutOfRange => "out_of_range",
        AnomalyKind.UnknownCategory => "unknown_category",
        _ => "distribution_skew",
    };
}

/// <summary>The outcome of validating a file against a schema.</summary>
public sealed class ValidationReport
{
    /// <summary>The input's name.</summary>
    public required string Input { get; init; }

    /// <summary>Rows read.</summary>
    public required long Rows { get; init; }

    /// <summary>Problems found, ordered by column as in the schema, then by kind.</summary>
    public required IReadOnlyList<Anomaly> Anomalies { get; init; }

    /// <summary>Columns compared with the reference profile (empty without one).</summary>
    public IReadOnlyDictionary<string, double> SkewDistances { get; init; } = new Dictionary<string, double>();

    /// <summary>True when anything was found.</summary>
    public bool HasAnomalies => Anomalies.Count > 0;
}
