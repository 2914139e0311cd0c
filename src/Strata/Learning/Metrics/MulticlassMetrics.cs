namespace Strata.Learning.Metrics;

/// <summary>
/// Probability metrics of a K-class classifier over arrays: labels are class indices, probabilities are row-major
/// (<c>probabilities[row · K + class]</c>), weights optional (an empty span means all ones). NaN where undefined.
/// </summary>
public static class MulticlassMetrics
{
    /// <summary>
    /// Mean negative log-likelihood of the true class, each probability clipped to [ε, 1 − ε] (float64 epsilon) and each
    /// row renormalised, as scikit-learn's <c>log_loss</c>.
    /// </summary>
    /// <exception cref="StrataException">A class index out of range, a probability outside [0, 1], or a negative weight.</exception>
    public static double LogLoss(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, int classCount, ReadOnlySpan<double> weights = default)
    {
        Check(labels, probabilities, classCount, weights);
        var sum = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            var row = probabilities.Slice(i * classCount, classCount);
            var total = 0.0;
            foreach (var p in row)
            {
                total += Math.Clamp(p, BinaryMetrics.Eps, 1 - BinaryMetrics.Eps);
            }

            var truth = Math.Clamp(row[labels[i]], BinaryMetrics.Eps, 1 - BinaryMetrics.Eps);
            sum += MetricInput.Weight(weights, i) * -Math.Log(truth / total);
        }

        return BinaryMetrics.Mean(sum, weights, labels.Length);
    }

    /// <summary>Brier score summed over classes: Σ w·Σ_k (p_k − 1[y = k])² / Σ w (0 to 2; binary data gives twice the binary Brier score).</summary>
    /// <exception cref="StrataException">A class index out of range, a probability outside [0, 1], or a negative weight.</exception>
    public static double BrierScore(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, int classCount, ReadOnlySpan<double> weights = default)
    {
        Check(labels, probabilities, classCount, weights);
        var sum = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            var row = probabilities.Slice(i * classCount, classCount);
            var squares = 0.0;
            for (var c = 0; c < classCount; c++)
            {
                var d = row[c] - (c == labels[i] ? 1 : 0);
                squares += d * d;
            }

            sum += MetricInput.Weight(weights, i) * squares;
        }

        return BinaryMetrics.Mean(sum, weights, labels.Length);
    }

    /// <summary>
    /// One-vs-rest ROC AUC: each class's probability ranks that class against the rest, averaged unweighted
    /// (<see cref="Average.Macro"/>) or by class support (<see cref="Average.Weighted"/>), as scikit-learn's
    /// <c>roc_auc_score(multi_class="ovr")</c>. NaN if some class is absent (scikit-learn raises).
    /// </summary>
    /// <exception cref="StrataException">A class index out of range, a probability that is not finite, or a negative weight.</exception>
    /// <exception cref="ArgumentException">An average other than macro or weighted.</exception>
    public static double RocAucOneVsRest(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, int classCount, Average average = Average.Macro, ReadOnlySpan<double> weights = default)
    {
        if (average is not (Average.Macro or Average.Weighted))
        {
            throw new ArgumentException("one-vs-rest AUC averages are macro or weighted", nameof(average));
        }

        Check(labels, probabilities, classCount, weights);
        var rows = labels.Length;
        var binary = new int[rows];
        var scores = new double[rows];
        double sum = 0, norm = 0;
        for (var c = 0; c < classCount; c++)
        {
            var support = 0.0;
            for (var i = 0; i < rows; i++)
            {
                binary[i] = labels[i] == c ? 1 : 0;
                scores[i] = probabilities[(i * classCount) + c];
                support += binary[i] * MetricInput.Weight(weights, i);
            }

            var auc = BinaryMetrics.RocAuc(binary, scores, weights);
            var weight = average == Average.Macro ? 1 : support;
            sum += weight * auc;
            norm += weight;
        }

        return norm > 0 ? sum / norm : double.NaN;
    }

    /// <summary>
    /// Top-label expected calibration error: the confidence is the highest probability of a row, the outcome whether
    /// that class is the true one, binned into <paramref name="bins"/> equal-width bins as
    /// <see cref="BinaryMetrics.CalibrationCurve"/>.
    /// </summary>
    /// <exception cref="StrataException">A class index out of range, a probability outside [0, 1], or a negative weight.</exception>
    public static double ExpectedCalibrationError(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, int classCount, ReadOnlySpan<double> weights = default, int bins = BinaryMetrics.CalibrationBins) =>
        BinaryMetrics.CalibrationError(CalibrationCurve(labels, probabilities, classCount, weights, bins));

    /// <summary>The top-label reliability diagram (see <see cref="ExpectedCalibrationError"/>).</summary>
    /// <exception cref="StrataException">A class index out of range, a probability outside [0, 1], or a negative weight.</exception>
    public static CalibrationBin[] CalibrationCurve(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, int classCount, ReadOnlySpan<double> weights = default, int bins = BinaryMetrics.CalibrationBins)
    {
        Check(labels, probabilities, classCount, weights);
        var predicted = ClassificationMetrics.ArgMax(probabilities, classCount);
        var confidence = new double[labels.Length];
        var correct = new double[labels.Length];
        for (var i = 0; i < labels.Length; i++)
        {
            confidence[i] = probabilities[(i * classCount) + predicted[i]];
            correct[i] = predicted[i] == labels[i] ? 1 : 0;
        }

        return BinaryMetrics.Bin(correct, confidence, weights, bins);
    }

    private static void Check(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, int classCount, ReadOnlySpan<double> weights)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        MetricInput.Check(labels.Length, probabilities.Length / classCount, nameof(probabilities), weights);
        if (probabilities.Length != labels.Length * classCount)
        {
            throw new ArgumentException($"expected {labels.Length} × {classCount} probabilities, got {probabilities.Length}", nameof(probabilities));
        }

        MetricInput.CheckClasses(labels, classCount);
        MetricInput.CheckProbabilities(probabilities);
    }
}
