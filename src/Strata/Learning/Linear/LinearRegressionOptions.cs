namespace Strata.Learning.Linear;

/// <summary>
/// Options of the <c>linear</c> learner: least squares, with no penalty by default (ordinary least squares), ridge
/// (L2), lasso (L1) or elastic net (both), loss <c>½(y − margin)²</c>.
/// </summary>
public sealed record LinearRegressionOptions : LinearSolverOptions
{
    /// <inheritdoc />
    private protected override string LearnerName => LinearRegressionLearner.LearnerName;

    /// <summary>A copy with one option set from text (<c>--set key=value</c>).</summary>
    /// <exception cref="StrataException">An unknown key or a bad value (naming both).</exception>
    public LinearRegressionOptions With(string key, string value) => (LinearRegressionOptions)WithCommon(key, value);

    /// <summary>Defaults overridden by <c>key → value</c> settings, in order.</summary>
    /// <exception cref="StrataException">An unknown key or a bad value (naming both).</exception>
    public static LinearRegressionOptions Parse(IEnumerable<KeyValuePair<string, string>> settings) =>
        OptionText.Apply(new LinearRegressionOptions(), settings, static (o, k, v) => o.With(k, v));

    /// <summary>Defaults overridden by <c>key=value</c> texts, in order.</summary>
    /// <exception cref="StrataException">A text without '=', an unknown key or a bad value.</exception>
    public static LinearRegressionOptions Parse(IEnumerable<string> pairs) => Parse(OptionText.Pairs(LinearRegressionLearner.LearnerName, pairs));
}
