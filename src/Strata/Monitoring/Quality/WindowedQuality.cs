using Strata.Learning.Metrics;

namespace Strata.Monitoring.Quality;

/// <summary>A served prediction joined with the label that arrived later.</summary>
/// <param name="TimestampMicros">When it was served (UTC microseconds).</param>
/// <param name="Prediction">The score (probability of the positive class) or the predicted value.</param>
/// <param name="Label">The true label (0/1 for binary models, the value for regression).</param>
public readonly record struct LabeledPrediction(long TimestampMicros, double Prediction, double Label);

/// <summary>Quality metrics of one window.</summary>
/// <param name="Start">Window start (inclusive, UTC microseconds).</param>
/// <param name="End">Window end (exclusive).</param>
/// <param name="Count">Labeled predictions in the window.</param>
/// <param name="Metrics">Metric name (<see cref="MetricNames"/>) → value.</param>
public sealed record QualityWindow(long Start, long End, long Count, IReadOnlyDictionary<string, double> Metrics);

/// <summary>The kind of model whose quality is tracked.</summary>
public enum QualityTask
{
    /// <summary>Binary classification: AUC, accuracy, log loss, Brier score.</summary>
    Binary,

    /// <summary>Regression: RMSE, MAE.</summary>
    Regression,
}

/// <summary>
/// Rolling quality per tumbling window from (prediction, label) pairs, using the same metric code as offline evaluation
/// (so a window's AUC means what the training report's AUC means), and the per-prediction error stream that
/// <see cref="Adwin"/> and <see cref="PageHinkley"/> watch.
/// </summary>
public static class WindowedQuality
{
    /// <summary>
    /// Metrics per tumbling window of <paramref name="windowMicros"/> aligned to the epoch, in time order; windows with no
    /// labeled prediction are absent, and metrics that need both classes (AUC) are absent from a one-class window.
    /// </summary>
    /// <exception cref="StrataException">A binary label other than 0 or 1 (<see cref="ErrorCodes.DataType"/>).</exception>
    public static IReadOnlyList<QualityWindow> Compute(IEnumerable<LabeledPrediction> pairs, QualityTask task, long windowMicros)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowMicros, 1);
        var result = new List<QualityWindow>();
        foreach (var group in pairs.GroupBy(p => FloorDiv(p.TimestampMicros, windowMicros)).OrderBy(g => g.Key))
        {
            var items = group.ToArray();
            var start = group.Key * windowMicros;
            result.Add(new QualityWindow(start, start + windowMicros, items.Length, Metrics(items, task)));
        }

        return result;
    }

    /// <summary>The error of one prediction: 0/1 misclassification at 0.5 for binary, absolute error for regression.</summary>
    public static double Error(LabeledPrediction pair, QualityTask task) =>
        task == QualityTask.Binary ? ((pair.Prediction >= 0.5 ? 1 : 0) == (int)pair.Label ? 0 : 1) : Math.Abs(pair.Prediction - pair.Label);

    /// <summary>The metrics of a set of labeled predictions.</summary>
    public static IReadOnlyDictionary<string, double> Metrics(IReadOnlyList<LabeledPrediction> items, QualityTask task)
    {
        ArgumentNullException.ThrowIfNull(items);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        if (items.Count == 0)
        {
            return metrics;
        }

        var scores = items.Select(p => p.Prediction).ToArray();
        if (task == QualityTask.Regression)
        {
            var values = items.Select(p => p.Label).ToArray();
            metrics[MetricNames.Rmse] = RegressionMetrics.Rmse(values, scores);
            metrics[MetricNames.Mae] = RegressionMetrics.Mae(values, scores);
            return metrics;
        }

        var labels = new int[items.Count];
        for (var i = 0; i < labels.Length; i++)
        {
            labels[i] = items[i].Label switch
            {
                0 => 0,
                1 => 1,
                var other => throw new StrataException(ErrorCodes.DataType, $"a binary label must be 0 or 1, not {other}"),
            };
        }

        if (labels.Contains(0) && labels.Contains(1))
        {
            metrics[MetricNames.RocAuc] = BinaryMetrics.RocAuc(labels, scores);
        }

        metrics[MetricNames.Accuracy] = 1 - (items.Sum(p => Error(p, task)) / items.Count);
        metrics[MetricNames.LogLoss] = BinaryMetrics.LogLoss(labels, scores);
        metrics[MetricNames.Brier] = BinaryMetrics.BrierScore(labels, scores);
        return metrics;
    }

    /// <summary>
    /// The stored results of one window's quality: one per metric, named <c>quality.&lt;metric&gt;</c>, for all versions
    /// together (version 0); "insufficient_data" without a value below the spec's minimum sample size, else "ok".
    /// </summary>
    public static IReadOnlyList<Stores.MonitorResult> Results(MonitorSpec spec, long start, IReadOnlyList<LabeledPrediction> pairs, QualityTask task, string? details = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(pairs);
        var status = pairs.Count < spec.Drift.MinimumSampleSize ? "insufficient_data" : "ok";
        return [.. Metrics(pairs, task).Select(m => new Stores.MonitorResult(
            spec.Name, spec.Endpoint, spec.Model, 0, start, start + spec.WindowMicros, $"{MonitorChecks.Quality}.{m.Key}", status,
            status == "ok" ? m.Value : null, pairs.Count, details))];
    }

    /// <summary>Check name suffix of the ADWIN result (<c>quality.adwin</c>).</summary>
    public const string AdwinCheck = "adwin";

    /// <summary>Check name suffix of the Page–Hinkley result (<c>quality.page_hinkley</c>).</summary>
    public const string PageHinkleyCheck = "page_hinkley";

    /// <summary>
    /// The change detectors' results of one window: <see cref="Adwin"/> and <see cref="PageHinkley"/> fed the errors of
    /// <paramref name="previous"/> (the window before, to warm up, so a change at the boundary is seen) and then of
    /// <paramref name="current"/>, in serving order; "drift" when a detector alarms on a value of this window (score: its
    /// alarms there), "no_drift", or "insufficient_data" below the spec's minimum sample size.
    /// </summary>
    public static IReadOnlyList<Stores.MonitorResult> ChangeResults(
        MonitorSpec spec, long start, IReadOnlyList<LabeledPrediction> previous, IReadOnlyList<LabeledPrediction> current, QualityTask task)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(current);
        if (current.Count == 0)
        {
            return [];
        }

        var results = new List<Stores.MonitorResult>();
        foreach (var (name, detector) in new (string, IChangeDetector)[] { (AdwinCheck, new Adwin()), (PageHinkleyCheck, new PageHinkley()) })
        {
            foreach (var pair in previous)
            {
                detector.Add(Error(pair, task));
            }

            var alarms = current.Count(pair => detector.Add(Error(pair, task)));
            var status = current.Count < spec.Drift.MinimumSampleSize ? "insufficient_data" : alarms > 0 ? "drift" : "no_drift";
            results.Add(new Stores.MonitorResult(
                spec.Name, spec.Endpoint, spec.Model, 0, start, start + spec.WindowMicros, $"{MonitorChecks.Quality}.{name}", status,
                status == "insufficient_data" ? null : alarms, current.Count, null));
        }

        return results;
    }

    /// <summary>⌊a / b⌋ for b &gt; 0, also for negative a (times before 1970).</summary>
    internal static long FloorDiv(long a, long b) => (a / b) - ((a % b) < 0 ? 1 : 0);
}
