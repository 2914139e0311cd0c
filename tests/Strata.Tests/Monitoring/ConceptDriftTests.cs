using Strata.Learning.Metrics;
using Strata.Monitoring.Quality;

namespace Strata.Tests.Monitoring;

public sealed class ConceptDriftTests
{
    private const int ChangeAt = 3000;

    public static TheoryData<string> Detectors() => ["adwin", "page-hinkley"];

    [Theory]
    [MemberData(nameof(Detectors))]
    public void A_detector_alarms_soon_after_the_error_rate_rises_and_never_before(string name)
    {
        var detector = Create(name);
        var stream = Bernoulli(seed: 11, (ChangeAt, 0.1), (3000, 0.4));

        var alarms = Alarms(detector, stream);

        Assert.NotEmpty(alarms);
        Assert.True(alarms[0] >= ChangeAt, $"{name} raised a false alarm at {alarms[0]} before the change at {ChangeAt}");
        Assert.True(alarms[0] < ChangeAt + 500, $"{name} first alarmed at {alarms[0]}, more than 500 values after the change at {ChangeAt}");
    }

    [Theory]
    [MemberData(nameof(Detectors))]
    public void A_detector_stays_silent_on_a_stationary_seeded_stream(string name)
    {
        var runs = int.TryParse(Environment.GetEnvironmentVariable("STRATA_FUZZ_ITERATIONS"), out var n) ? n : 3;
        for (var seed = 0; seed < runs; seed++)
        {
            var alarms = Alarms(Create(name), Bernoulli(seed: 100 + seed, (10_000, 0.2)));

            Assert.True(alarms.Count == 0, $"{name} alarmed at {string.Join(", ", alarms)} on a stationary stream (seed {100 + seed})");
        }
    }

    [Fact]
    public void Adwin_shrinks_its_window_to_the_values_after_the_change()
    {
        var adwin = new Adwin();
        Alarms(adwin, Bernoulli(seed: 5, (ChangeAt, 0.1), (3000, 0.6)));

        Assert.InRange(adwin.Count, 1, 3100);
        Assert.InRange(adwin.Mean, 0.5, 0.7);
    }

    [Fact]
    public void Windowed_quality_matches_offline_metrics_per_window_and_rejects_bad_labels()
    {
        var random = new Random(3);
        var pairs = Enumerable.Range(0, 600)
            .Select(i => new LabeledPrediction(i * 10_000_000L, random.NextDouble(), random.Next(2)))
            .ToArray();

        var windows = WindowedQuality.Compute(pairs, QualityTask.Binary, 3_600_000_000L);

        Assert.Equal(2, windows.Count);
        var first = pairs.Where(p => p.TimestampMicros < 3_600_000_000L).ToArray();
        Assert.Equal(first.Length, windows[0].Count);
        Assert.Equal(
            BinaryMetrics.RocAuc([.. first.Select(p => (int)p.Label)], [.. first.Select(p => p.Prediction)]),
            windows[0].Metrics[MetricNames.RocAuc]);
        var bad = Assert.Throws<StrataException>(() => WindowedQuality.Compute([new LabeledPrediction(0, 0.5, 2)], QualityTask.Binary, 1000));
        Assert.Equal(ErrorCodes.DataType, bad.Code);
    }

    // NOTE: river's λ = 50 false-alarms on about 1 in 50 stationary Bernoulli(0.2) streams of 10,000; λ = 80 passed 100 seeds.
    private static IChangeDetector Create(string name) => name == "adwin" ? new Adwin() : new PageHinkley(threshold: 80);

    private static List<int> Alarms(IChangeDetector detector, double[] stream)
    {
        var alarms = new List<int>();
        for (var i = 0; i < stream.Length; i++)
        {
            if (detector.Add(stream[i]))
            {
                alarms.Add(i);
            }
        }

        return alarms;
    }

    private static double[] Bernoulli(int seed, params (int Count, double Rate)[] segments)
    {
        var random = new Random(seed);
        return [.. segments.SelectMany(s => Enumerable.Range(0, s.Count).Select(_ => random.NextDouble() < s.Rate ? 1.0 : 0.0))];
    }
}
