namespace Strata.Learning.Linear;

/// <summary>
/// Options of the <c>logistic</c> learner: binary logistic regression (sigmoid) or multinomial (softmax over one weight
/// vector per class, every class's weights penalised, as scikit-learn's <c>multi_class="multinomial"</c>).
/// </summary>
public sealed record LogisticRegressionOptions : LinearSolverOptions
{
    /// <summary>Defaults: L2 = 1e-4 (enough to keep separable data finite), no L1.</summary>
    public LogisticRegressionOptions()
    {
        L2 = 1e-4;
    }

    /// <inheritdoc />
    private protected override string LearnerName => LogisticRegressionLearner.LearnerName;

    /// <summary>A copy with one option set from text (<c>--set key=value</c>).</summary>
    /// <exception cref="StrataException">An unknown key or a bad value (naming both).</exception>
    public LogisticRegressionOptions With(string key, string value) => (LogisticRegressionOptions)WithCommon(key, value);

    /// <summary>Defaults overridden by <c>key → value</c> settings, in order.</summary>
    /// <exception cref="StrataException">An unknown key or a bad value (naming both).</exception>
    public static LogisticRegressionOptions Parse(IEnumerable<KeyValuePair<string, string>> settings) =>
        OptionText.Apply(new LogisticRegressionOptions(), settings, static (o, k, v) => o.With(k, v));

    /// <summary>Defaults overridden by <c>key=value</c> texts, in order.</summary>
    /// <exception cref="StrataException">A text without '=', an unknown key or a bad value.</exception>
    public static LogisticRegressionOptions Parse(IEnumerable<string> pairs) => Parse(OptionText.Pairs(LogisticRegressionLearner.LearnerName, pairs));
}
