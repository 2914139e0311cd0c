using System.Diagnostics.CodeAnalysis;

namespace Strata.Learning.Linear;

/// <summary>The linear learners by name, with options from <c>--set key=value</c> text (for the CLI and pipelines).</summary>
public static class LinearLearners
{
    /// <summary>The names: logistic, linear, svm.</summary>
    public static IReadOnlyList<string> Names { get; } = [LogisticRegressionLearner.LearnerName, LinearRegressionLearner.LearnerName, LinearSvmLearner.LearnerName];

    /// <summary>A learner by name with options overridden by <paramref name="settings"/>; false for a name that is not a linear learner.</summary>
    /// <exception cref="StrataException">An unknown option key or a bad value (naming both).</exception>
    public static bool TryCreate(string name, IEnumerable<KeyValuePair<string, string>>? settings, [NotNullWhen(true)] out ILearner? learner)
    {
        settings ??= [];
        learner = name switch
        {
            LogisticRegressionLearner.LearnerName => new LogisticRegressionLearner(LogisticRegressionOptions.Parse(settings)),
            LinearRegressionLearner.LearnerName => new LinearRegressionLearner(LinearRegressionOptions.Parse(settings)),
            LinearSvmLearner.LearnerName => new LinearSvmLearner(LinearSvmOptions.Parse(settings)),
            _ => null,
        };
        return learner is not null;
    }

    /// <summary>A learner by name with options overridden by <paramref name="settings"/>.</summary>
    /// <exception cref="StrataException">An unknown learner, option key or a bad value.</exception>
    public static ILearner Create(string name, IEnumerable<KeyValuePair<string, string>>? settings = null) =>
        TryCreate(name, settings, out var learner)
            ? learner
            : throw new StrataException(ErrorCodes.ArgumentInvalid, $"unknown linear learner '{name}' (known: {string.Join(", ", Names)})");
}
