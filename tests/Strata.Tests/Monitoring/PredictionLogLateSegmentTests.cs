using System.Globalization;
using Microsoft.Data.Sqlite;
using Strata.Monitoring;
using Strata.Serving;
using Strata.Storage;
using Strata.Testing;

namespace Strata.Tests.Monitoring;

/// <summary>
/// A segment that closes after later ones were read (left open by a crash and closed at the next start, or a replica's
/// sharing the folder) is read by the feed exactly once, by a monitor's position and by the feedback index alike.
/// </summary>
public sealed class PredictionLogLateSegmentTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _folder = new("strata-late-segment");
    private readonly long _now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
    private StrataHome _home = null!;

    private string LogFolder => Path.Combine(_folder.Path, "predictions");

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        Directory.CreateDirectory(LogFolder);
    }

    public async Task DisposeAsync()
    {
        await _home.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_segment_closed_after_a_later_one_was_read_is_read_next_time_and_only_once()
    {
        var left = Segment(secondsAgo: 2, pid: 1, open: true, ("a1", 1), ("a2", 2));
        Segment(secondsAgo: 1, pid: 2, open: false, ("b1", 3), ("b2", 4));

        var (first, afterFirst) = await ReadAsync(PredictionLogPosition.Start);
        Close(left);
        var (second, afterSecond) = await ReadAsync(afterFirst);
        var (third, _) = await ReadAsync(afterSecond);

        Assert.Equal(["b1", "b2"], first);
        Assert.Equal(["a1", "a2"], second);
        Assert.Empty(third);
    }

    [Fact]
    public async Task A_read_stopped_inside_a_segment_keeps_its_count_when_an_older_segment_closes_meanwhile()
    {
        var left = Segment(secondsAgo: 3, pid: 1, open: true, ("a1", 1), ("a2", 2));
        Segment(secondsAgo: 2, pid: 2, open: false, ("b1", 1), ("b2", 2), ("b3", 3), ("b4", 4));

        var (first, afterFirst) = await ReadAsync(PredictionLogPosition.Start, until: 3);
        Close(left);
        var (second, afterSecond) = await ReadAsync(afterFirst);
        var (third, _) = await ReadAsync(afterSecond);

        Assert.Equal(["b1", "b2"], first);
        Assert.Equal(["a1", "a2", "b3", "b4"], second.Order(StringComparer.Ordinal));
        Assert.Empty(third);
    }

    [Fact]
    public async Task The_feedback_index_finds_the_requests_of_a_segment_closed_after_it_read_later_ones_once()
    {
        var store = _home.Metadata.MonitorState;
        var left = Segment(secondsAgo: 2, pid: 1, open: true, ("a1", 1), ("a2", 2));
        Segment(secondsAgo: 1, pid: 2, open: false, ("b1", 3));

        var first = await FeedbackLabels.IndexAsync(store, LogFolder, "flights", "e");
        Close(left);
        var second = await FeedbackLabels.IndexAsync(store, LogFolder, "flights", "e");
        var third = await FeedbackLabels.IndexAsync(store, LogFolder, "flights", "e");

        Assert.Equal([1L, 2L, 0L], [first, second, third]);
        Assert.Equal(["a1", "a2", "b1"], (await store.FindPredictionsAsync("flights", "e", ["a1", "a2", "b1"])).Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_position_stored_before_segments_were_tracked_resumes_as_it_did()
    {
        Segment(secondsAgo: 3, pid: 1, open: false, ("a1", 1)); // read before the position was stored
        var stored = Segment(secondsAgo: 2, pid: 1, open: false, ("b1", 2), ("b2", 3));
        Segment(secondsAgo: 1, pid: 1, open: false, ("c1", 4));

        var (ids, _) = await ReadAsync(new PredictionLogPosition(Path.GetFileName(stored), 1));

        Assert.Equal(["b2", "c1"], ids);
    }

    private async Task<(List<string> Ids, PredictionLogPosition Position)> ReadAsync(PredictionLogPosition position, long? until = null)
    {
        var feed = new PredictionLogFeed(LogFolder, "e", position: position);
        var ids = new List<string>();
        await foreach (var record in feed.ReadRecordsAsync(until))
        {
            ids.Add(record.RequestId);
        }

        return (ids, feed.Position);
    }

    /// <summary>A segment named as a writer names it, <paramref name="secondsAgo"/> ago, open or closed, ending in a torn line.</summary>
    private string Segment(int secondsAgo, int pid, bool open, params (string Id, long Time)[] records)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"{_now - (secondsAgo * 1_000_000L):D20}-{pid:D7}-{1:D6}");
        var path = Path.Combine(LogFolder, name + (open ? PredictionLog.OpenExtension : PredictionLog.SegmentExtension));
        File.WriteAllText(path, string.Concat(records.Select(r => Line(r.Id, r.Time) + "\n")) + "{\"v\":1,\"ti");
        return path;
    }

    /// <summary>Closes an open segment as the next start does.</summary>
    private static void Close(string open) => File.Move(open, open[..^PredictionLog.OpenExtension.Length] + PredictionLog.SegmentExtension);

    private static string Line(string id, long time) =>
        $"{{\"v\":1,\"time\":{time},\"request_id\":\"{id}\",\"endpoint\":\"e\",\"project\":\"flights\",\"model\":\"m\",\"version\":1," +
        "\"role\":\"champion\",\"latency_ms\":0.25,\"rows\":[{\"inputs\":{\"name\":\"a\"},\"value\":2.5}]}";
}
