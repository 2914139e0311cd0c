using Strata.Learning.Metrics;
using Strata.Stores;
using Strata.Monitoring.Drift;
using Strata.Monitoring.Skew;

namespace Strata.Monitoring;

/// <summary>The checks a monitor runs on each window.</summary>
public static class MonitorChecks
{
    /// <summary>Data drift of the served inputs against the reference (result score: the drifted share).</summary>
    public const string DataDrift = "data_drift";

    /// <summary>Drift of the predictions against the reference's predictions (result score: the test's statistic).</summary>
    public const string PredictionDrift = "prediction_drift";

    /// <summary>Quality metrics from labels; a result per metric, named <c>quality.&lt;metric&gt;</c> (e.g. quality.auc).</summary>
    public const string Quality = "quality";

    /// <summary>
    /// Training–serving skew: served feature values against the offline store's at the same entities and times (status
    /// skewed, no_skew or insufficient_data; score: the largest mismatch share of a decided feature).
    /// </summary>
    public const string Skew = "skew";

    /// <summary>Every check a monitor may run.</summary>
    public static IReadOnlyList<string> All { get; } = [DataDrift, PredictionDrift, Quality, Skew];

    /// <summary>The metrics a quality check stores, each as the check <c>quality.&lt;metric&gt;</c>.</summary>
    public static IReadOnlyList<string> QualityMetrics { get; } =
        [MetricNames.RocAuc, MetricNames.Accuracy, MetricNames.LogLoss, MetricNames.Brier, MetricNames.Rmse, MetricNames.Mae];

    /// <summary>
    /// Refuses a check name no stored result can have, naming those that can (a misspelt filter would otherwise read
    /// as "no results").
    /// </summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.ArgumentInvalid"/> naming <paramref name="field"/>.</exception>
    public static void CheckFilter(string field, string check)
    {
        ArgumentNullException.ThrowIfNull(check);
        if (All.Contains(check, StringComparer.Ordinal)
            || (check.StartsWith(Quality + ".", StringComparison.Ordinal) && QualityMetrics.Contains(check[(Quality.Length + 1)..], StringComparer.Ordinal)))
        {
            return;
        }

        throw new StrataException(
            ErrorCodes.ArgumentInvalid,
            $"field '{field}' '{check}' is not a check; known: {string.Join(", ", All.Where(c => c != Quality))}, {Quality} (every quality metric), " +
            $"or {Quality}.<metric> with metric one of {string.Join(", ", QualityMetrics)}");
    }
}

/// <summary>
/// What a monitor watches on one endpoint: its features, checks, tumbling window, thresholds and minimum sample size,
/// and the alert rules over its results. Declared in <c>strata.yaml</c> (see MonitorConfig) or in C#.
/// </summary>
public sealed record MonitorSpec
{
    /// <summary>The monitor's name (unique per endpoint).</summary>
    public required string Name { get; init; }

    /// <summary>The endpoint whose served records it reads.</summary>
    public required string Endpoint { get; init; }

    /// <summary>The registered model (its versions' reference profiles are the baseline).</summary>
    public required string Model { get; init; }

    /// <summary>The input features to test; empty means every reference column the served records carry.</summary>
    public IReadOnlyList<string> Features { get; init; } = [];

    /// <summary>Checks to run (<see cref="MonitorChecks"/>).</summary>
    public IReadOnlyList<string> Checks { get; init; } = [MonitorChecks.DataDrift, MonitorChecks.PredictionDrift];

    /// <summary>The tumbling window (default one hour; at least one second, at most 31 days).</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Drift methods, thresholds and the minimum sample size (below it a window is "insufficient data").</summary>
    public DriftOptions Drift { get; init; } = DriftOptions.Default;

    /// <summary>The served records' prediction column.</summary>
    public string PredictionColumn { get; init; } = "prediction";

    /// <summary>Alert rules over the results.</summary>
    public IReadOnlyList<AlertRule> Alerts { get; init; } = [];

    /// <summary>
    /// How long after a window ends its labels may still arrive (null: one window). The server evaluates a window's
    /// quality once its end plus this delay has passed, from the labels that arrived by then; later labels are counted as
    /// late. Drift is not delayed. At most 90 days.
    /// </summary>
    public TimeSpan? LabelDelay { get; init; }

    /// <summary>The label delay in effect (<see cref="LabelDelay"/>, else the window).</summary>
    public TimeSpan EffectiveLabelDelay => LabelDelay ?? Window;

    /// <summary>The skew check's thresholds (default and per feature), tolerances and minimum of matched rows per window.</summary>
    public SkewOptions Skew { get; init; } = new() { MinRows = 30, MaxRows = 50_000 };

    /// <summary>The feature service whose features the skew check compares; null: the endpoint's own.</summary>
    public string? SkewService { get; init; }

    /// <summary>The window in microseconds.</summary>
    public long WindowMicros => Window.Ticks / 10;

    /// <summary>Throws when the spec is inconsistent.</summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.ArgumentInvalid"/>, naming the field.</exception>
    public void Validate()
    {
        Names.Check("monitor name", Name);
        Names.Check("endpoint", Endpoint);
        Names.Check("model", Model);
        if (Window < TimeSpan.FromSeconds(1) || Window > TimeSpan.FromDays(31))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"monitor '{Name}': window {Window} must be within 1 second and 31 days");
        }

        if (LabelDelay is { } delay && (delay < TimeSpan.Zero || delay > TimeSpan.FromDays(90)))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"monitor '{Name}': label_delay {delay} must be within 0 and 90 days");
        }

        foreach (var check in Checks)
        {
            if (!MonitorChecks.All.Contains(check, StringComparer.Ordinal))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"monitor '{Name}': unknown check '{check}' ({string.Join(", ", MonitorChecks.All)})");
            }
        }

        if (Checks.Contains(MonitorChecks.Skew))
        {
            Skew.Validate();
            if (SkewService is not null)
            {
                Names.Check("skew.service", SkewService);
            }
        }

        Drift.Validate();
        foreach (var rule in Alerts)
        {
            rule.Validate(Name);
        }
    }

    /// <summary>Throws when the monitor names a feature (to watch, or in per-feature drift options) that <paramref name="available"/> lacks.</summary>
    /// <param name="available">The features the model's data has (its reference profile's columns, or its signature's inputs).</param>
    /// <param name="source">What they come from, for the message (e.g. "model 'delays' version 3").</param>
    /// <exception cref="StrataException"><see cref="ErrorCodes.ArgumentInvalid"/>, naming the field and the feature.</exception>
    public void CheckFeatures(IReadOnlySet<string> available, string source)
    {
        ArgumentNullException.ThrowIfNull(available);
        for (var i = 0; i < Features.Count; i++)
        {
            if (!available.Contains(Features[i]))
            {
                throw new StrataException(
                    ErrorCodes.ArgumentInvalid,
                    $"field 'features[{i}]': monitor '{Name}' watches feature '{Features[i]}', which {source} does not have (features: {string.Join(", ", available.Order(StringComparer.Ordinal))})");
            }
        }

        foreach (var name in Drift.Features.Keys)
        {
            if (name != PredictionColumn && !available.Contains(name))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'drift.features.{name}': monitor '{Name}' sets options for feature '{name}', which {source} does not have");
            }
        }
    }
}

/// <summary>How an alert rule compares a result.</summary>
public enum AlertComparison
{
    /// <summary>The result's status is "drift" (or "skewed", for the skew check).</summary>
    Drifted,

    /// <summary>The result's score is below the threshold (e.g. AUC below 0.7).</summary>
    Below,

    /// <summary>The result's score is above the threshold.</summary>
    Above,
}

/// <summary>What an alert does when it fires.</summary>
public enum AlertActionKind
{
    /// <summary>POST the alert as JSON to a URL (bounded timeout and retries; never blocks monitoring).</summary>
    Webhook,

    /// <summary>Record the alert in the audit log.</summary>
    Log,

    /// <summary>Start a pipeline run (e.g. retraining) through <see cref="IPipelineTrigger"/>.</summary>
    TriggerPipeline,
}

/// <summary>One action of an alert rule.</summary>
/// <param name="Kind">The kind.</param>
/// <param name="Target">The webhook URL or the pipeline name; null for a log entry.</param>
public sealed record AlertAction(AlertActionKind Kind, string? Target = null);

/// <summary>
/// Fires when a run of <see cref="ConsecutiveWindows"/> consecutive windows of a check meets the condition (e.g. data
/// drift in 2 consecutive windows; quality.auc below 0.7): once per run, again only after the condition has broken.
/// </summary>
public sealed record AlertRule
{
    /// <summary>The rule's name.</summary>
    public required string Name { get; init; }

    /// <summary>The check whose results it reads (data_drift, prediction_drift, quality.auc, …).</summary>
    public required string Check { get; init; }

    /// <summary>The comparison.</summary>
    public AlertComparison Comparison { get; init; } = AlertComparison.Drifted;

    /// <summary>The threshold for <see cref="AlertComparison.Below"/> and <see cref="AlertComparison.Above"/>.</summary>
    public double Threshold { get; init; }

    /// <summary>Consecutive windows that must meet the condition (1..1000).</summary>
    public int ConsecutiveWindows { get; init; } = 1;

    /// <summary>What to do.</summary>
    public IReadOnlyList<AlertAction> Actions { get; init; } = [new AlertAction(AlertActionKind.Log)];

    internal void Validate(string monitor)
    {
        Names.Check("alert name", Name);
        Names.Check("alert check", Check, NameKind.Key);
        if (ConsecutiveWindows is < 1 or > 1000)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"monitor '{monitor}' alert '{Name}': windows {ConsecutiveWindows} must be within [1, 1000]");
        }

        if (Comparison != AlertComparison.Drifted && !double.IsFinite(Threshold))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"monitor '{monitor}' alert '{Name}': the threshold must be a finite number");
        }

        foreach (var action in Actions)
        {
            switch (action.Kind)
            {
                case AlertActionKind.Webhook:
                    if (!Uri.TryCreate(action.Target, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    {
                        throw new StrataException(ErrorCodes.ArgumentInvalid, $"monitor '{monitor}' alert '{Name}': webhook URL '{action.Target}' must be an absolute http(s) URL");
                    }

                    break;
                case AlertActionKind.TriggerPipeline:
                    Names.Check("pipeline", action.Target);
                    break;
            }
        }
    }
}
