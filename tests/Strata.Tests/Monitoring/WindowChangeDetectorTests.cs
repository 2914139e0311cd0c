using Strata.Monitoring;
using Strata.Monitoring.Quality;

namespace Strata.Tests.Monitoring;

public sealed class WindowChangeDetectorTests
{
    private const long Hour = 3_600_000_000L;

    private static readonly MonitorSpec Spec = new() { Name = "q", Endpoint = "flights", Model = "delays", Checks = [MonitorChecks.Quality], Drift = Strata.Monitoring.Drift.DriftOptions.Default with { MinimumSampleSize = 50 } };

    /// <summary>Binary predictions that are wrong with probability <paramref name="errorRate"/> (fixed seed).</summary>
    private static List<LabeledPrediction> Stream(long start, int count, double errorRate, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var label = random.Next(2);
            var wrong = random.NextDouble() < errorRate;
            return new LabeledPrediction(start + i, wrong ? 1 - label : label, label);
        })];
    }

    [Fact]
    public void Detectors_alarm_when_the_error_rate_jumps_at_the_window_boundary_and_stay_quiet_on_a_steady_stream()
    {
        var before = Stream(0, 400, 0.1, seed: 1);

        var jumped = WindowedQuality.ChangeResults(Spec, Hour, before, Stream(Hour, 400, 0.7, seed: 2), QualityTask.Binary);
        var steady = WindowedQuality.ChangeResults(Spec, Hour, before, Stream(Hour, 400, 0.1, seed: 3), QualityTask.Binary);
        var few = WindowedQuality.ChangeResults(Spec, Hour, before, Stream(Hour, 20, 0.7, seed: 4), QualityTask.Binary);

        Assert.Equal(["quality.adwin", "quality.page_hinkley"], jumped.Select(r => r.Check));
        Assert.All(jumped, r => Assert.Equal("drift", r.Status));
        Assert.All(jumped, r => Assert.True(r.Score >= 1));
        Assert.All(steady, r => Assert.Equal(("no_drift", (double?)0), (r.Status, r.Score)));
        Assert.All(few, r => Assert.Equal(("insufficient_data", (double?)null, 20L), (r.Status, r.Score, r.Rows)));
        Assert.Empty(WindowedQuality.ChangeResults(Spec, Hour, before, [], QualityTask.Binary));
    }
}
