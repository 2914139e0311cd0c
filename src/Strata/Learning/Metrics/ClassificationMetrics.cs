namespace Strata.Learning.Metrics;

/// <summary>
/// Metrics of predicted classes against true classes (indices 0..K-1), for any number of classes, with optional
/// weights (an empty span means all ones). Precision, recall and F1 of a class with nothing predicted (or no support)
/// are 0, as scikit-learn's default <c>zero_division</c>. Every metric is NaN for no rows or zero total weight.
/// </summary>
public static class ClassificationMetrics
{
    /// <summary>Weighted fraction of rows whose predicted class is the true class (scikit-learn's <c>accuracy_score</c>).</summary>
    /// <exception cref="StrataException">A class index out of range or a negative weight.</exception>
    public static double Accuracy(ReadOnlySpan<int> labels, ReadOnlySpan<int> predicted, int classCount, ReadOnlySpan<double> weights = default) =>
        Accuracy(ConfusionMatrix.Compute(labels, predicted, classCount, weights));

    /// <summary>Accuracy from a confusion matrix.</summary>
    public static double Accuracy(ConfusionMatrix confusion)
    {
        ArgumentNullException.ThrowIfNull(confusion);
        var total = confusion.Total;
        return total > 0 ? confusion.Correct / total : double.NaN;
    }

    /// <summary>Precision, recall and F1 combined by <paramref name="average"/> (scikit-learn's <c>precision_recall_fscore_support</c>).</summary>
    /// <exception cref="StrataException">A class index out of range or a negative weight.</exception>
    public static PrecisionRecall PrecisionRecallF1(ReadOnlySpan<int> labels, ReadOnlySpan<int> predicted, int classCount, Average average, ReadOnlySpan<double> weights = default) =>
        PrecisionRecallF1(ConfusionMatrix.Compute(labels, predicted, classCount, weights), average);

    /// <summary>Precision, recall and F1 from a confusion matrix.</summary>
    /// <exception cref="ArgumentException"><see cref="Average.Binary"/> for more than two classes.</exception>
    public static PrecisionRecall PrecisionRecallF1(ConfusionMatrix confusion, Average average)
    {
        ArgumentNullException.ThrowIfNull(confusion);
        var k = confusion.ClassCount;
        var total = confusion.Total;
        if (!(total > 0))
        {
            return new PrecisionRecall(double.NaN, double.NaN, double.NaN);
        }

        switch (average)
        {
            case Average.Binary:
                if (k != 2)
                {
                    throw new ArgumentException($"binary averaging needs 2 classes, not {k}", nameof(average));
                }

                return ForClass(confusion, 1);
            case Average.Micro:
            {
                var accuracy = confusion.Correct / total;
                return new PrecisionRecall(accuracy, accuracy, accuracy);
            }

            default:
            {
                double precision = 0, recall = 0, f1 = 0, norm = 0;
                for (var c = 0; c < k; c++)
                {
                    var weight = average == Average.Macro ? (confusion.Occurs(c) ? 1 : 0) : Support(confusion, c);
                    if (weight > 0)
                    {
                        var one = ForClass(confusion, c);
                        precision += weight * one.Precision;
                        recall += weight * one.Recall;
                        f1 += weight * one.F1;
                        norm += weight;
                    }
                }

                return norm > 0 ? new PrecisionRecall(precision / norm, recall / norm, f1 / norm) : new PrecisionRecall(0, 0, 0);
            }
        }
    }

    /// <summary>Precision, recall and F1 of one class.</summary>
    public static PrecisionRecall ForClass(ConfusionMatrix confusion, int classIndex)
    {
        ArgumentNullException.ThrowIfNull(confusion);
        var tp = confusion[classIndex, classIndex];
        double predicted = 0, support = 0;
        for (var c = 0; c < confusion.ClassCount; c++)
        {
            predicted += confusion[c, classIndex];
            support += confusion[classIndex, c];
        }

        var precision = predicted > 0 ? tp / predicted : 0;
        var recall = support > 0 ? tp / support : 0;
        var f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
        return new PrecisionRecall(precision, recall, f1);
    }

    /// <summary>The class with the highest probability in each row (the first on ties), from row-major probabilities.</summary>
    public static int[] ArgMax(ReadOnlySpan<double> probabilities, int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if (probabilities.Length % classCount != 0)
        {
            throw new ArgumentException($"{probabilities.Length} probabilities do not divide into rows of {classCount}", nameof(probabilities));
        }

        var result = new int[probabilities.Length / classCount];
        for (var r = 0; r < result.Length; r++)
        {
            var row = probabilities.Slice(r * classCount, classCount);
            var best = 0;
            for (var c = 1; c < classCount; c++)
            {
                if (row[c] > row[best])
                {
                    best = c;
                }
            }

            result[r] = best;
        }

        return result;
    }

    private static double Support(ConfusionMatrix confusion, int classIndex)
    {
        var support = 0.0;
        for (var c = 0; c < confusion.ClassCount; c++)
        {
            support += confusion[classIndex, c];
        }

        return support;
    }
}

/// <summary>Precision, recall and F1 (of one class or averaged).</summary>
public readonly record struct PrecisionRecall(double Precision, double Recall, double F1);
