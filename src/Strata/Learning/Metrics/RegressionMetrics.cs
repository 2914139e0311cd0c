namespace Strata.Learning.Metrics;

/// <summary>
/// Regression metrics over arrays of true and predicted values with optional weights (an empty span means all ones),
/// as scikit-learn 1.2 defines them. NaN for no rows or zero total weight.
/// </summary>
public static class RegressionMetrics
{
    /// <summary>Mean squared error Σ w·(y − ŷ)² / Σ w.</summary>
    /// <exception cref="StrataException">A value that is not finite or a negative weight.</exception>
    public static double Mse(ReadOnlySpan<double> labels, ReadOnlySpan<double> predictions, ReadOnlySpan<double> weights = default)
    {
        Check(labels, predictions, weights);
        var sum = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            var d = labels[i] - predictions[i];
            sum += MetricInput.Weight(weights, i) * d * d;
        }

        return BinaryMetrics.Mean(sum, weights, labels.Length);
    }

    /// <summary>Root mean squared error, √<see cref="Mse"/>.</summary>
    /// <exception cref="StrataException">A value that is not finite or a negative weight.</exception>
    public static double Rmse(ReadOnlySpan<double> labels, ReadOnlySpan<double> predictions, ReadOnlySpan<double> weights = default) =>
        Math.Sqrt(Mse(labels, predictions, weights));

    /// <summary>Mean absolute error Σ w·|y − ŷ| / Σ w.</summary>
    /// <exception cref="StrataException">A value that is not finite or a negative weight.</exception>
    public static double Mae(ReadOnlySpan<double> labels, ReadOnlySpan<double> predictions, ReadOnlySpan<double> weights = default)
    {
        Check(labels, predictions, weights);
        var sum = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            sum += MetricInput.Weight(weights, i) * Math.Abs(labels[i] - predictions[i]);
        }

        return BinaryMetrics.Mean(sum, weights, labels.Length);
    }

    /// <summary>
    /// Coefficient of determination 1 − Σ w(y − ŷ)² / Σ w(y − ȳ)² with ȳ the weighted mean. A constant label gives 1
    /// for perfect predictions and 0 otherwise (scikit-learn's <c>force_finite=True</c>).
    /// </summary>
    /// <exception cref="StrataException">A value that is not finite or a negative weight.</exception>
    public static double R2(ReadOnlySpan<double> labels, ReadOnlySpan<double> predictions, ReadOnlySpan<double> weights = default)
    {
        Check(labels, predictions, weights);
        var total = MetricInput.TotalWeight(weights, labels.Length);
        if (!(total > 0))
        {
            return double.NaN;
        }

        var mean = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            mean += MetricInput.Weight(weights, i) * labels[i];
        }

        mean /= total;
        double residual = 0, spread = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            var w = MetricInput.Weight(weights, i);
            var r = labels[i] - predictions[i];
            var d = labels[i] - mean;
            residual += w * r * r;
            spread += w * d * d;
        }

        return residual == 0 ? 1 : spread == 0 ? 0 : 1 - (residual / spread);
    }

    private static void Check(ReadOnlySpan<double> labels, ReadOnlySpan<double> predictions, ReadOnlySpan<double> weights)
    {
        MetricInput.Check(labels.Length, predictions.Length, nameof(predictions), weights);
        MetricInput.CheckScores(labels, "label");
        MetricInput.CheckScores(predictions, "prediction");
    }
}
