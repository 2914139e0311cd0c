using Strata.Learning.Gbdt;
using Strata.Learning.Linear;

namespace Strata.Learning;

/// <summary>Every learner by name, made from text settings (what the CLI's <c>--set key=value</c> gives).</summary>
public static class Learners
{
    private static readonly Dictionary<string, Func<IReadOnlyDictionary<string, string>, ILearner>> Factories = new(StringComparer.Ordinal)
    {
        ["gbdt"] = s => new GbdtLearner(GbdtOptions.Parse(s)),
        ["logistic"] = s => LinearLearners.Create("logistic", s),
        ["linear"] = s => LinearLearners.Create("linear", s),
        ["svm"] = s => LinearLearners.Create("svm", s),
    };

    /// <summary>The learner names.</summary>
    public static IReadOnlyCollection<string> Names => Factories.Keys;

    /// <summary>A learner with its settings parsed (errors name the key and value).</summary>
    /// <exception cref="StrataException">An unknown learner or a bad setting.</exception>
    public static ILearner Create(string name, IReadOnlyDictionary<string, string>? settings = null) =>
        Factories.TryGetValue(name, out var factory)
            ? factory(settings ?? new Dictionary<string, string>())
            : throw new StrataException(ErrorCodes.ArgumentInvalid, $"unknown learner '{name}' (choose from {string.Join(", ", Names.Order(StringComparer.Ordinal))})");
}
