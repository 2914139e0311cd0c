using System.Globalization;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Testing;
using static Strata.Tests.Serving.PredictionLogSamples;

namespace Strata.Tests.Serving;

/// <summary>
/// Segments left open by a crash: closed at the next start however recent, and on a later tick when a replica sharing
/// the folder crashes meanwhile; a segment whose writer is alive (its lock held) is left open.
/// </summary>
public sealed class PredictionLogLeftoverTests : IDisposable
{
    private readonly TempFolder _folder = new("strata-log-leftover");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_segment_left_open_by_a_crash_a_moment_ago_is_closed_at_start_and_read_torn_last_line_and_all()
    {
        var leftover = Leftover(secondsAgo: 1, "r1", "r2");
        File.AppendAllText(leftover, "{\"v\":1,\"time\":"); // the crash tore the last line

        await using (Log())
        {
            Assert.False(File.Exists(leftover));
            Assert.Equal(["r1", "r2"], await ReadAsync());
        }
    }

    [Fact]
    public async Task A_replica_crashing_after_start_has_its_segment_closed_on_a_later_tick()
    {
        await using var log = Log(age: TimeSpan.FromMilliseconds(50));
        var leftover = Leftover(secondsAgo: 0, "r1");

        await WaitAsync(() => !File.Exists(leftover));

        Assert.Equal(["r1"], await ReadAsync());
    }

    [Fact]
    public async Task A_segment_whose_writer_holds_its_lock_is_left_open_and_closed_once_the_writer_is_gone()
    {
        var live = Leftover(secondsAgo: 600, "r1");
        var writer = new FileStream(live, FileMode.Open, FileAccess.Write, FileShare.None); // how a live writer holds its segment
        try
        {
            await using var log = Log(age: TimeSpan.FromMilliseconds(20));
            await Task.Delay(300); // many ticks, each a look for leftovers

            Assert.True(File.Exists(live));

            await writer.DisposeAsync(); // the writer dies: the OS lets go of its lock
            await WaitAsync(() => !File.Exists(live));
            Assert.Equal(["r1"], await ReadAsync());
        }
        finally
        {
            await writer.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_second_log_sharing_the_folder_leaves_the_first_ones_open_segment_alone()
    {
        await using var first = Log();
        Assert.True(first.TryWrite(Prediction("r1")));
        await WaitAsync(() => OpenSegments().Length == 1);
        var open = Assert.Single(OpenSegments());

        await using (Log(age: TimeSpan.FromMilliseconds(20)))
        {
            await Task.Delay(300);
            Assert.True(File.Exists(open));
        }

        await first.FlushAsync();
        Assert.Equal(["r1"], await ReadAsync());
    }

    [Fact]
    public async Task A_folder_moved_away_while_serving_is_made_again_and_logging_goes_on()
    {
        // Its new segments were opened in the missing folder: every write failed until an operator put it back.
        var metrics = new MetricRegistry();
        await using var log = new PredictionLog(new PredictionLogOptions { Folder = _folder.Path, WriteInterval = TimeSpan.FromMilliseconds(1) }, metrics);
        log.TryWrite(Prediction("r1"));
        await log.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var moved = _folder.Path + "-moved";
        Directory.Move(_folder.Path, moved);
        try
        {
            log.TryWrite(Prediction("r2"));
            await log.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(["r2"], await ReadAsync());
            var text = PrometheusText.ToText(metrics);
            Assert.Contains("strata_serving_predictions_logged_total 2\n", text, StringComparison.Ordinal);
            Assert.Contains("strata_serving_prediction_log_failures_total 0\n", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(moved, recursive: true);
        }
    }

    private PredictionLog Log(TimeSpan? age = null) =>
        new(new PredictionLogOptions { Folder = _folder.Path, MaxSegmentAge = age ?? TimeSpan.FromMinutes(1), WriteInterval = TimeSpan.FromMilliseconds(1) }, new MetricRegistry());

    /// <summary>An open segment as a crashed writer (pid 1, which is never this test) leaves it, named and written that long ago.</summary>
    private string Leftover(int secondsAgo, params string[] ids)
    {
        var time = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (secondsAgo * 1000L)) * 1000;
        var name = string.Create(CultureInfo.InvariantCulture, $"{time:D20}-{1:D7}-{1:D6}{PredictionLog.OpenExtension}");
        return _folder.WriteText(name, string.Concat(ids.Select(id => Line(id, time) + "\n")));
    }

    private string[] OpenSegments() => Directory.GetFiles(_folder.Path, "*" + PredictionLog.OpenExtension);

    private Task<List<string>> ReadAsync() => RequestIdsAsync(_folder.Path);
}
