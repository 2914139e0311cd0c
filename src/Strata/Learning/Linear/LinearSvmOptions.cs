namespace Strata.Learning.Linear;

/// <summary>
/// Options of the <c>svm</c> learner: a binary linear support vector machine with the squared hinge loss
/// <c>max(0, 1 − y·score)²</c> (y = ±1), which is smooth enough for L-BFGS (scikit-learn's <c>LinearSVC</c> default loss,
/// but with an unpenalised intercept).
/// </summary>
public sealed record LinearSvmOptions : LinearSolverOptions
{
    /// <summary>Defaults: L2 = 1e-4, no L1, Platt calibration on.</summary>
    public LinearSvmOptions()
    {
        L2 = 1e-4;
    }

    /// <summary>
    /// Fit Platt scaling (probability = 1 / (1 + e^(A·score + B))) after training, on the validation set when one is given,
    /// else on the training set (then probabilities are optimistic where the SVM overfits). False: probability =
    /// sigmoid(score), which is monotone in the score but not calibrated. Key <c>calibrate</c>.
    /// </summary>
    public bool Calibrate { get; init; } = true;

    /// <inheritdoc />
    private protected override string LearnerName => LinearSvmLearner.LearnerName;

    /// <inheritdoc />
    public override IReadOnlyList<string> Keys => [.. base.Keys, "calibrate"];

    /// <inheritdoc />
    private protected override void AddSettings(IDictionary<string, string> settings) => settings["calibrate"] = OptionText.Format(Calibrate);

    /// <summary>A copy with one option set from text (<c>--set key=value</c>).</summary>
    /// <exception cref="StrataException">An unknown key or a bad value (naming both).</exception>
    public LinearSvmOptions With(string key, string value) => key == "calibrate"
        ? this with { Calibrate = OptionText.Bool(LearnerName, key, value) }
        : (LinearSvmOptions)WithCommon(key, value);

    /// <summary>Defaults overridden by <c>key → value</c> settings, in order.</summary>
    /// <exception cref="StrataException">An unknown key or a bad value (naming both).</exception>
    public static LinearSvmOptions Parse(IEnumerable<KeyValuePair<string, string>> settings) =>
        OptionText.Apply(new LinearSvmOptions(), settings, static (o, k, v) => o.With(k, v));

    /// <summary>Defaults overridden by <c>key=value</c> texts, in order.</summary>
    /// <exception cref="StrataException">A text without '=', an unknown key or a bad value.</exception>
    public static LinearSvmOptions Parse(IEnumerable<string> pairs) => Parse(OptionText.Pairs(LinearSvmLearner.LearnerName, pairs));
}
