using System.Globalization;

namespace Strata.Learning.Metrics;

/// <summary>Checks shared by the metric functions; an empty weight span means every weight is 1.</summary>
internal static class MetricInput
{
    public static double Weight(ReadOnlySpan<double> weights, int i) => weights.IsEmpty ? 1 : weights[i];

    public static void Check(int rows, int values, string name, ReadOnlySpan<double> weights)
    {
        if (values != rows)
        {
            throw new ArgumentException($"{name} has {values} values but there are {rows} labels", name);
        }

        if (!weights.IsEmpty && weights.Length != rows)
        {
            throw new ArgumentException($"weights has {weights.Length} values but there are {rows} labels", nameof(weights));
        }

        for (var i = 0; i < weights.Length; i++)
        {
            if (!(weights[i] >= 0) || double.IsInfinity(weights[i]))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"sample weight is {Text(weights[i])} at row {i + 1}; weights must be finite and non-negative");
            }
        }
    }

    public static void CheckClasses(ReadOnlySpan<int> labels, int classCount, string name = "label")
    {
        if (classCount < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "classification needs at least 2 classes");
        }

        for (var i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{name} is {labels[i].ToString(CultureInfo.InvariantCulture)} at row {i + 1}; expected a class index in 0..{classCount - 1}");
            }
        }
    }

    public static void CheckScores(ReadOnlySpan<double> scores, string name)
    {
        for (var i = 0; i < scores.Length; i++)
        {
            if (!double.IsFinite(scores[i]))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{name} is {Text(scores[i])} at row {i + 1}; expected a finite number");
            }
        }
    }

    public static void CheckProbabilities(ReadOnlySpan<double> probabilities, string name = "probability")
    {
        for (var i = 0; i < probabilities.Length; i++)
        {
            if (!(probabilities[i] >= 0 && probabilities[i] <= 1))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{name} is {Text(probabilities[i])} at position {i + 1}; expected a value in [0, 1]");
            }
        }
    }

    public static double TotalWeight(ReadOnlySpan<double> weights, int rows)
    {
        if (weights.IsEmpty)
        {
            return rows;
        }

        var sum = 0.0;
        foreach (var w in weights)
        {
            sum += w;
        }

        return sum;
    }

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
}
