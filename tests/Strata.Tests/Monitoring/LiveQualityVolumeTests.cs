using System.Diagnostics;
using System.Globalization;
using Strata.Monitoring;
using Strata.Stores;
using Strata.Testing;
using Xunit.Abstractions;

namespace Strata.Tests.Monitoring;

/// <summary>
/// The live quality pass over many labelled requests on the embedded store: every label is counted once, per window.
/// STRATA_LIVE_QUALITY_ROWS sets the volume (default 20,000; docs/monitoring.md has the figures for 200,000 and 1,000,000).
/// </summary>
public sealed class LiveQualityVolumeTests(ITestOutputHelper output) : SqliteStoreTests("live-quality-volume")
{
    private const long Hour = 3_600_000_000L;
    private const int Windows = 10;
    [Fact]
    public async Task Every_label_of_many_windows_is_counted_once_in_its_window()
    {
        var rows = int.TryParse(Environment.GetEnvironmentVariable("STRATA_LIVE_QUALITY_ROWS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 20_000;
        var random = new Random(7);
        var step = Windows * Hour / rows;
        for (var chunk = 0; chunk < rows; chunk += 10_000)
        {
            var count = Math.Min(10_000, rows - chunk);
            var served = Enumerable.Range(chunk, count).Select(i => new IndexedPrediction($"r{i}", i * step, 1, random.NextDouble(), "no\nyes")).ToList();
            await Store.MonitorState.IndexPredictionsAsync("flights", "delays", served, new MonitorFeedState("seg", chunk + count, 0));
            await Store.Monitoring.SaveLabelsAsync("flights", "delays", [.. served.Select(p => new FeedbackLabel(p.RequestId, p.Score > 0.5 == random.NextDouble() < 0.8 ? 1 : 0))], Actor.Local);
        }

        var spec = new MonitorSpec
        {
            Name = "q", Endpoint = "delays", Model = "delay", Window = TimeSpan.FromHours(1), LabelDelay = TimeSpan.FromHours(1), Checks = [MonitorChecks.Quality],
        };
        var monitor = new LiveMonitor("flights", spec, Folder.Path, Store, (_, _) => Task.FromResult<Strata.Monitoring.Drift.DriftProfile?>(null), alerts: null);

        var watch = Stopwatch.StartNew();
        var tick = await monitor.TickAsync((Windows + 1) * Hour, TimeSpan.Zero);
        watch.Stop();
        var again = await monitor.TickAsync((Windows + 1) * Hour, TimeSpan.Zero);

        output.WriteLine($"{rows} labelled requests in {Windows} windows: quality pass {watch.Elapsed.TotalSeconds:F2} s ({rows / watch.Elapsed.TotalSeconds:F0} labels/s)");
        var accuracy = tick.Results.Where(r => r.Check == "quality.accuracy").ToList();
        Assert.Equal(Windows, accuracy.Count);
        Assert.Equal(rows, accuracy.Sum(r => r.Rows));
        Assert.Equal((long)rows, tick.Labels);
        Assert.All(accuracy, r => Assert.InRange(r.Score!.Value, 0.7, 0.9));
        Assert.Equal(Windows * Hour, tick.QualityUntil);
        Assert.Empty(again.Results);
    }
}
