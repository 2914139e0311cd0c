namespace Strata.Learning.Metrics;

/// <summary>
/// Metrics of a binary classifier over arrays: labels are 0 or 1 (1 = positive), scores or probabilities are of the
/// positive class, and weights are optional (an empty span means all ones). Each follows scikit-learn 1.2's definition
/// and tie handling. Where a metric is undefined (no rows, zero total weight, or a single class for the rank metrics)
/// it is <see cref="double.NaN"/> rather than an error, so one degenerate slice does not stop an evaluation.
/// </summary>
public static class BinaryMetrics
{
    /// <summary>Bins of the expected calibration error: 10 of equal width on [0, 1].</summary>
    public const int CalibrationBins = 10;

    /// <summary>
    /// Area under the ROC curve, by the trapezoidal rule over the distinct score thresholds (scikit-learn's
    /// <c>roc_auc_score</c>): tied scores form one threshold, so a tie between a positive and a negative counts one half.
    /// NaN when either class has zero total weight (scikit-learn raises instead).
    /// </summary>
    /// <exception cref="StrataException">A label other than 0/1, a score that is not finite, or a negative weight.</exception>
    public static double RocAuc(ReadOnlySpan<int> labels, ReadOnlySpan<double> scores, ReadOnlySpan<double> weights = default)
    {
        var order = Descending(labels, scores, weights, "score");
        double tp = 0, fp = 0, previousTp = 0, previousFp = 0, area = 0;
        for (var i = 0; i < order.Length;)
        {
            var score = scores[order[i]];
            for (; i < order.Length && scores[order[i]] == score; i++)
            {
                var w = MetricInput.Weight(weights, order[i]);
                if (labels[order[i]] == 1)
                {
                    tp += w;
                }
                else
                {
                    fp += w;
                }
            }

            area += (fp - previousFp) * (tp + previousTp) / 2;
            (previousTp, previousFp) = (tp, fp);
        }

        return tp > 0 && fp > 0 ? area / (tp * fp) : double.NaN;
    }

    /// <summary>
    /// Average precision: Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct score thresholds from the highest down (scikit-learn's
    /// <c>average_precision_score</c>, no interpolation). NaN when the positives have zero total weight (scikit-learn
    /// warns and returns a meaningless value there).
    /// </summary>
    /// <exception cref="StrataException">A label other than 0/1, a score that is not finite, or a negative weight.</exception>
    public static double AveragePrecision(ReadOnlySpan<int> labels, ReadOnlySpan<double> scores, ReadOnlySpan<double> weights = default)
    {
        var order = Descending(labels, scores, weights, "score");
        var positives = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] == 1)
            {
                positives += MetricInput.Weight(weights, i);
            }
        }

        if (!(positives > 0))
        {
            return double.NaN;
        }

        double tp = 0, all = 0, previousTp = 0, sum = 0;
        for (var i = 0; i < order.Length;)
        {
            var score = scores[order[i]];
            for (; i < order.Length && scores[order[i]] == score; i++)
            {
                var w = MetricInput.Weight(weights, order[i]);
                all += w;
                if (labels[order[i]] == 1)
                {
                    tp += w;
                }
            }

            // A threshold that only zero-weight rows reach adds no recall, so its undefined precision does not matter.
            if (all > 0)
            {
                sum += (tp - previousTp) / positives * (tp / all);
            }

            previousTp = tp;
        }

        return sum;
    }

    /// <summary>
    /// Mean negative log-likelihood, −Σ w·log p(true class) / Σ w, with probabilities clipped to [ε, 1 − ε] (ε = 2⁻⁵²,
    /// float64 epsilon) and renormalised, as scikit-learn's <c>log_loss</c>. NaN for no rows or zero total weight.
    /// </summary>
    /// <exception cref="StrataException">A label other than 0/1, a probability outside [0, 1], or a negative weight.</exception>
    public static double LogLoss(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, ReadOnlySpan<double> weights = default)
    {
        CheckInput(labels, probabilities, weights);
        MetricInput.CheckProbabilities(probabilities);
        var sum = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            // As scikit-learn: clip p, pair it with 1 − p, then renormalise the pair.
            var p = Math.Clamp(probabilities[i], Eps, 1 - Eps);
            var q = 1 - p;
            var total = p + q;
            sum += MetricInput.Weight(weights, i) * -Math.Log((labels[i] == 1 ? p : q) / total);
        }

        return Mean(sum, weights, labels.Length);
    }

    /// <summary>Brier score: Σ w·(y − p)² / Σ w (scikit-learn's <c>brier_score_loss</c>). NaN for no rows or zero total weight.</summary>
    /// <exception cref="StrataException">A label other than 0/1, a probability outside [0, 1], or a negative weight.</exception>
    public static double BrierScore(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, ReadOnlySpan<double> weights = default)
    {
        CheckInput(labels, probabilities, weights);
        MetricInput.CheckProbabilities(probabilities);
        var sum = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            var d = labels[i] - probabilities[i];
            sum += MetricInput.Weight(weights, i) * d * d;
        }

        return Mean(sum, weights, labels.Length);
    }

    /// <summary>
    /// The reliability diagram: <paramref name="bins"/> equal-width bins on [0, 1], bin b = min(⌊p·bins⌋, bins − 1), so
    /// each bin is [b/bins, (b+1)/bins) except the last, which includes 1.
    /// </summary>
    /// <exception cref="StrataException">A label other than 0/1, a probability outside [0, 1], or a negative weight.</exception>
    public static CalibrationBin[] CalibrationCurve(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, ReadOnlySpan<double> weights = default, int bins = CalibrationBins)
    {
        CheckInput(labels, probabilities, weights);
        MetricInput.CheckProbabilities(probabilities);
        var outcomes = new double[labels.Length];
        for (var i = 0; i < outcomes.Length; i++)
        {
            outcomes[i] = labels[i];
        }

        return Bin(outcomes, probabilities, weights, bins);
    }

    /// <summary>
    /// Expected calibration error: Σ_b (W_b / W)·|mean outcome_b − mean probability_b| over the bins of
    /// <see cref="CalibrationCurve"/> (10 equal-width bins by default; empty bins add nothing). NaN for no rows or zero total weight.
    /// </summary>
    /// <exception cref="StrataException">A label other than 0/1, a probability outside [0, 1], or a negative weight.</exception>
    public static double ExpectedCalibrationError(ReadOnlySpan<int> labels, ReadOnlySpan<double> probabilities, ReadOnlySpan<double> weights = default, int bins = CalibrationBins) =>
        CalibrationError(CalibrationCurve(labels, probabilities, weights, bins));

    internal const double Eps = 2.220446049250313e-16;

    internal static CalibrationBin[] Bin(ReadOnlySpan<double> outcomes, ReadOnlySpan<double> confidences, ReadOnlySpan<double> weights, int bins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var weight = new double[bins];
        var outcome = new double[bins];
        var confidence = new double[bins];
        var count = new long[bins];
        for (var i = 0; i < confidences.Length; i++)
        {
            var b = Math.Min((int)Math.Floor(confidences[i] * bins), bins - 1);
            var w = MetricInput.Weight(weights, i);
            weight[b] += w;
            outcome[b] += w * outcomes[i];
            confidence[b] += w * confidences[i];
            count[b]++;
        }

        var result = new CalibrationBin[bins];
        for (var b = 0; b < bins; b++)
        {
            result[b] = new CalibrationBin((double)b / bins, (double)(b + 1) / bins, count[b], weight[b], outcome[b], confidence[b]);
        }

        return result;
    }

    internal static double CalibrationError(CalibrationBin[] bins)
    {
        var total = 0.0;
        var gap = 0.0;
        foreach (var bin in bins)
        {
            total += bin.Weight;
            gap += Math.Abs(bin.OutcomeSum - bin.ConfidenceSum);
        }

        return total > 0 ? gap / total : double.NaN;
    }

    internal static double Mean(double sum, ReadOnlySpan<double> weights, int rows)
    {
        var total = MetricInput.TotalWeight(weights, rows);
        return total > 0 ? sum / total : double.NaN;
    }

    private static void CheckInput(ReadOnlySpan<int> labels, ReadOnlySpan<double> values, ReadOnlySpan<double> weights)
    {
        MetricInput.Check(labels.Length, values.Length, "scores", weights);
        MetricInput.CheckClasses(labels, 2);
    }

    /// <summary>Row indices by descending score (rows of equal score stay together; their order does not matter).</summary>
    private static int[] Descending(ReadOnlySpan<int> labels, ReadOnlySpan<double> scores, ReadOnlySpan<double> weights, string name)
    {
        CheckInput(labels, scores, weights);
        MetricInput.CheckScores(scores, name);
        var keys = new double[scores.Length];
        var order = new int[scores.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = -scores[i];
            order[i] = i;
        }

        Array.Sort(keys, order);
        return order;
    }
}

/// <summary>
/// One bin of a reliability diagram over [<paramref name="Lower"/>, <paramref name="Upper"/>): rows, their total weight,
/// and the weighted sums of outcomes (1 = positive or correct) and of predicted probabilities (or confidences).
/// </summary>
public readonly record struct CalibrationBin(double Lower, double Upper, long Rows, double Weight, double OutcomeSum, double ConfidenceSum)
{
    /// <summary>Weighted fraction of positive (or correct) outcomes; NaN for an empty bin.</summary>
    public double MeanOutcome => Weight > 0 ? OutcomeSum / Weight : double.NaN;

    /// <summary>Weighted mean predicted probability; NaN for an empty bin.</summary>
    public double MeanConfidence => Weight > 0 ? ConfidenceSum / Weight : double.NaN;
}
