using Strata.Monitoring;
using Strata.Stores;

namespace Strata.Tests.Monitoring;

public sealed class AlertRuleTests
{
    private const long Hour = 3_600_000_000L;

    [Fact]
    public void A_two_window_drift_rule_fires_once_per_episode_and_again_after_the_drift_stops()
    {
        var spec = MonitorRunnerTests.Spec(new AlertRule { Name = "sustained", Check = MonitorChecks.DataDrift, ConsecutiveWindows = 2 });
        string[] statuses = ["drift", "no_drift", "drift", "drift", "drift", "insufficient_data", "drift", "drift"];
        var results = statuses.Select((s, i) => new MonitorResult(spec.Name, spec.Endpoint, spec.Model, 1, i * Hour, (i + 1) * Hour, MonitorChecks.DataDrift, s, null, 100, null)).ToList();

        var firedAt = Enumerable.Range(0, results.Count).Where(i => AlertDispatcher.Evaluate(spec, results[..(i + 1)]).Count > 0).ToList();

        Assert.Equal([3, 7], firedAt);
    }

    [Fact]
    public void A_quality_rule_fires_when_auc_falls_below_its_threshold_and_not_on_a_gap_between_windows()
    {
        var spec = MonitorRunnerTests.Spec(new AlertRule { Name = "low-auc", Check = "quality.auc", Comparison = AlertComparison.Below, Threshold = 0.7, ConsecutiveWindows = 2 });
        MonitorResult Auc(long start, double value) => new(spec.Name, spec.Endpoint, spec.Model, 0, start, start + Hour, "quality.auc", "ok", value, 500, null);

        var gap = AlertDispatcher.Evaluate(spec, [Auc(0, 0.65), Auc(2 * Hour, 0.6)]);
        var contiguous = AlertDispatcher.Evaluate(spec, [Auc(0, 0.65), Auc(Hour, 0.6)]);
        var fine = AlertDispatcher.Evaluate(spec, [Auc(0, 0.65), Auc(Hour, 0.8)]);

        Assert.Empty(gap);
        Assert.Equal("low-auc", Assert.Single(contiguous).Rule);
        Assert.Empty(fine);
    }
}
