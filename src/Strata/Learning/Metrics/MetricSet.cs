namespace Strata.Learning.Metrics;

/// <summary>
/// The standard metrics of a task over one set of rows (the whole data or a slice), by name (see
/// <see cref="MetricNames"/>), in a fixed order: binary: auc, average_precision, log_loss, brier, ece, accuracy,
/// precision, recall, f1 (class decisions at probability ≥ 0.5, as <see cref="Model.Outputs"/>); multiclass: accuracy,
/// log_loss, auc_ovr_macro, auc_ovr_weighted, precision/recall/f1 macro and weighted, brier (summed over classes),
/// ece (top-label; decisions by highest probability); regression: rmse, mse, mae, r2. A metric that is undefined on
/// these rows (no rows, zero weight, a single class for AUC) is NaN.
/// </summary>
public sealed class MetricSet
{
    private readonly OrderedDictionary<string, double> _values;

    private MetricSet(LearningTask task, int rows, double totalWeight, OrderedDictionary<string, double> values, ConfusionMatrix? confusion)
    {
        Task = task;
        Rows = rows;
        TotalWeight = totalWeight;
        _values = values;
        Confusion = confusion;
    }

    /// <summary>The task the metrics are for.</summary>
    public LearningTask Task { get; }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Sum of the sample weights (the row count without weights).</summary>
    public double TotalWeight { get; }

    /// <summary>The metrics by name, in a fixed order per task.</summary>
    public IReadOnlyDictionary<string, double> Values => _values;

    /// <summary>The confusion matrix (classification), else null.</summary>
    public ConfusionMatrix? Confusion { get; }

    /// <summary>A metric by name.</summary>
    /// <exception cref="KeyNotFoundException">The task has no such metric.</exception>
    public double this[string name] => _values.TryGetValue(name, out var value)
        ? value
        : throw new KeyNotFoundException($"no metric '{name}' for {Task.Name()} (metrics: {string.Join(", ", _values.Keys)})");

    /// <summary>The names of the metrics a task reports, in order.</summary>
    public static IReadOnlyList<string> NamesFor(LearningTask task) => task switch
    {
        LearningTask.BinaryClassification =>
        [
            MetricNames.RocAuc, MetricNames.AveragePrecision, MetricNames.LogLoss, MetricNames.Brier, MetricNames.Ece,
            MetricNames.Accuracy, MetricNames.Precision, MetricNames.Recall, MetricNames.F1,
        ],
        LearningTask.MulticlassClassification =>
        [
            MetricNames.Accuracy, MetricNames.LogLoss, MetricNames.RocAucOvrMacro, MetricNames.RocAucOvrWeighted,
            MetricNames.PrecisionMacro, MetricNames.RecallMacro, MetricNames.F1Macro,
            MetricNames.PrecisionWeighted, MetricNames.RecallWeighted, MetricNames.F1Weighted, MetricNames.Brier, MetricNames.Ece,
        ],
        _ => [MetricNames.Rmse, MetricNames.Mse, MetricNames.Mae, MetricNames.R2],
    };

    /// <summary>
    /// Computes a task's metrics. <paramref name="labels"/> are class indices (classification) or values (regression);
    /// <paramref name="predictions"/> are the positive-class probability per row (binary), row-major class
    /// probabilities (multiclass, <paramref name="classCount"/> per row), or predicted values (regression).
    /// </summary>
    /// <exception cref="StrataException">A label out of range, a prediction that is not a valid probability or finite value, or a negative weight.</exception>
    public static MetricSet Compute(LearningTask task, int classCount, ReadOnlySpan<double> labels, ReadOnlySpan<double> predictions, ReadOnlySpan<double> weights = default)
    {
        var values = new OrderedDictionary<string, double>(StringComparer.Ordinal);
        var total = MetricInput.TotalWeight(weights, labels.Length);
        ConfusionMatrix? confusion = null;
        switch (task)
        {
            case LearningTask.BinaryClassification:
            {
                var classes = Classes(labels, 2);
                var predicted = new int[predictions.Length];
                for (var i = 0; i < predicted.Length; i++)
                {
                    predicted[i] = predictions[i] >= 0.5 ? 1 : 0;
                }

                confusion = ConfusionMatrix.Compute(classes, predicted, 2, weights);
                values[MetricNames.RocAuc] = BinaryMetrics.RocAuc(classes, predictions, weights);
                values[MetricNames.AveragePrecision] = BinaryMetrics.AveragePrecision(classes, predictions, weights);
                values[MetricNames.LogLoss] = BinaryMetrics.LogLoss(classes, predictions, weights);
                values[MetricNames.Brier] = BinaryMetrics.BrierScore(classes, predictions, weights);
                values[MetricNames.Ece] = BinaryMetrics.ExpectedCalibrationError(classes, predictions, weights);
                values[MetricNames.Accuracy] = ClassificationMetrics.Accuracy(confusion);
                var binary = ClassificationMetrics.PrecisionRecallF1(confusion, Average.Binary);
                values[MetricNames.Precision] = binary.Precision;
                values[MetricNames.Recall] = binary.Recall;
                values[MetricNames.F1] = binary.F1;
                break;
            }

            case LearningTask.MulticlassClassification:
            {
                var classes = Classes(labels, classCount);
                var predicted = ClassificationMetrics.ArgMax(predictions, classCount);
                confusion = ConfusionMatrix.Compute(classes, predicted, classCount, weights);
                values[MetricNames.Accuracy] = ClassificationMetrics.Accuracy(confusion);
                values[MetricNames.LogLoss] = MulticlassMetrics.LogLoss(classes, predictions, classCount, weights);
                values[MetricNames.RocAucOvrMacro] = MulticlassMetrics.RocAucOneVsRest(classes, predictions, classCount, Average.Macro, weights);
                values[MetricNames.RocAucOvrWeighted] = MulticlassMetrics.RocAucOneVsRest(classes, predictions, classCount, Average.Weighted, weights);
                var macro = ClassificationMetrics.PrecisionRecallF1(confusion, Average.Macro);
                values[MetricNames.PrecisionMacro] = macro.Precision;
                values[MetricNames.RecallMacro] = macro.Recall;
                values[MetricNames.F1Macro] = macro.F1;
                var weighted = ClassificationMetrics.PrecisionRecallF1(confusion, Average.Weighted);
                values[MetricNames.PrecisionWeighted] = weighted.Precision;
                values[MetricNames.RecallWeighted] = weighted.Recall;
                values[MetricNames.F1Weighted] = weighted.F1;
                values[MetricNames.Brier] = MulticlassMetrics.BrierScore(classes, predictions, classCount, weights);
                values[MetricNames.Ece] = MulticlassMetrics.ExpectedCalibrationError(classes, predictions, classCount, weights);
                break;
            }

            default:
                values[MetricNames.Rmse] = RegressionMetrics.Rmse(labels, predictions, weights);
                values[MetricNames.Mse] = RegressionMetrics.Mse(labels, predictions, weights);
                values[MetricNames.Mae] = RegressionMetrics.Mae(labels, predictions, weights);
                values[MetricNames.R2] = RegressionMetrics.R2(labels, predictions, weights);
                break;
        }

        return new MetricSet(task, labels.Length, total, values, confusion);
    }

    /// <summary>A model's metrics from its raw margins (as <see cref="Model.PredictMargins(FeatureMatrix, Span{double})"/> writes them).</summary>
    /// <exception cref="StrataException">A label out of range, a margin that is not finite, or a negative weight.</exception>
    public static MetricSet FromMargins(Model model, ReadOnlySpan<double> labels, ReadOnlySpan<double> margins, ReadOnlySpan<double> weights = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Compute(model.Task, model.OutputCount, labels, Predictions(model, margins), weights);
    }

    /// <summary>What <see cref="Compute"/> reads as predictions: probabilities or values, from a model's margins.</summary>
    internal static double[] Predictions(Model model, ReadOnlySpan<double> margins)
    {
        var predictions = new double[margins.Length];
        if (model.Task == LearningTask.MulticlassClassification)
        {
            var k = model.OutputCount;
            for (var r = 0; r < margins.Length / k; r++)
            {
                model.Probabilities(margins.Slice(r * k, k), predictions.AsSpan(r * k, k));
            }
        }
        else
        {
            for (var i = 0; i < margins.Length; i++)
            {
                predictions[i] = Model.Apply(model.Transform, margins[i]);
            }
        }

        return predictions;
    }

    private static int[] Classes(ReadOnlySpan<double> labels, int classCount)
    {
        var classes = new int[labels.Length];
        for (var i = 0; i < classes.Length; i++)
        {
            var label = labels[i];
            if (!(label >= 0 && label < classCount && label == Math.Floor(label)))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"label is {label.ToString(System.Globalization.CultureInfo.InvariantCulture)} at row {i + 1}; expected a class index in 0..{classCount - 1}");
            }

            classes[i] = (int)label;
        }

        return classes;
    }
}
