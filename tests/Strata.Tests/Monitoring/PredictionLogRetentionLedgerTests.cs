using System.Globalization;
using System.Text.Json;
using Strata.Monitoring;
using Strata.Monitoring.Drift;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Testing;

namespace Strata.Tests.Monitoring;

/// <summary>
/// Segments the prediction log's retention deletes before a monitor read them are recorded in its ledger and counted as
/// missed by the feed (once, and the feed moves past them), never silently skipped; a torn last ledger line (a crash
/// while writing) is ignored, a damaged complete line is skipped and counted.
/// </summary>
public sealed class PredictionLogRetentionLedgerTests() : SqliteStoreTests("strata-retention-ledger")
{
    private const long Hour = 3_600_000_000L;

    // A fixed wall clock for the cleaner; segments are last written relative to it (oldest first).
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    // Record times of a replayed log, in 2001; segments are named a minute ago, as a writer names them by its clock.
    private static readonly long Replayed = new DateTimeOffset(2001, 5, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;

    private readonly long _named = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000) * 1000;

    private string LogFolder => Path.Combine(Folder.Path, "predictions");

    [Fact]
    public async Task Segments_deleted_before_the_feed_read_them_are_counted_missed_once_and_the_rest_is_read()
    {
        var a = Segment(0, "a1", "a2");
        var b = Segment(1, "b1");
        var (_, afterFirst, firstMissed) = await ReadAsync(PredictionLogPosition.Start);
        var c = Segment(2, "c1", "c2");
        var d = Segment(3, "d1");
        var e = Segment(4, "e1", "e2");
        var unread = Length(c) + Length(d);

        var pass = Cleaner(new PredictionLogRetention { MaxBytes = Length(e) }).Enforce(); // deletes a to d, oldest first
        var (ids, afterSecond, missed) = await ReadAsync(afterFirst);
        var (again, _, missedAgain) = await ReadAsync(afterSecond);

        Assert.Equal(4, pass.Deleted);
        Assert.Equal(PredictionLogMissed.None, firstMissed);
        Assert.Equal(["e1", "e2"], ids);
        Assert.Equal(new PredictionLogMissed(2, unread), missed); // a and b were read: not missed
        Assert.Equal(
            $"2 segments ({unread:N0} bytes) of predictions were deleted by retention before this monitor read them",
            missed.ToString());
        Assert.Empty(again);
        Assert.True(missedAgain.IsNone, "counted again");
        Assert.All(new[] { a, b, c, d }, p => Assert.False(File.Exists(p)));
    }

    [Fact]
    public async Task A_feed_that_had_read_everything_misses_nothing_when_retention_deletes_it()
    {
        Segment(0, "a1");
        Segment(1, "b1");
        var (_, position, _) = await ReadAsync(PredictionLogPosition.Start);

        Assert.Equal(2, Cleaner(new PredictionLogRetention { MaxBytes = 1 }).Enforce().Deleted);
        var (ids, _, missed) = await ReadAsync(position);

        Assert.Empty(ids);
        Assert.True(missed.IsNone, missed.ToString());
    }

    [Fact]
    public async Task A_feed_that_never_read_counts_nothing_deleted_before_it_began_and_moves_past_it()
    {
        Segment(0, "a1");
        Segment(1, "b1");
        var c = Segment(2, "c1");
        Cleaner(new PredictionLogRetention { MaxBytes = Length(c) }).Enforce();

        var (ids, position, missed) = await ReadAsync(PredictionLogPosition.Start);
        var (_, _, later) = await ReadAsync(position);

        Assert.Equal(["c1"], ids);
        Assert.True(missed.IsNone && later.IsNone);
    }

    [Fact]
    public async Task A_segment_a_read_stopped_inside_counts_as_missed_when_it_is_deleted_before_the_rest_was_read()
    {
        var a = Timed(0, ("a1", 0), ("a2", 2 * Hour));
        var (ids, position, _) = await ReadAsync(PredictionLogPosition.Start, until: Replayed + Hour);
        var b = Segment(1, "b1");
        var partlyRead = Length(a);

        Cleaner(new PredictionLogRetention { MaxBytes = Length(b) }).Enforce();
        var (rest, _, missed) = await ReadAsync(position);

        Assert.Equal(["a1"], ids);
        Assert.Equal(["b1"], rest);
        Assert.Equal(new PredictionLogMissed(1, partlyRead), missed);
    }

    [Fact]
    public async Task A_segment_deleted_between_the_feed_s_listing_and_its_opening_is_counted_when_found_gone()
    {
        Segment(0, "a1");
        var (_, position, _) = await ReadAsync(PredictionLogPosition.Start);
        Segment(1, "b1");
        var c = Segment(2, "c1");
        var bytes = Length(c);
        var feed = new PredictionLogFeed(LogFolder, "e", position: position);
        var ids = new List<string>();

        await foreach (var record in feed.ReadRecordsAsync())
        {
            ids.Add(record.RequestId);
            if (ids.Count == 1)
            {
                // The feed has listed b and c and is reading b: the retention records c (after the feed read the ledger) and deletes it.
                Ledger($"{Path.GetFileName(c)}\t{bytes}\tsize\t1\n");
                File.Delete(c);
            }
        }

        var (_, _, later) = await ReadAsync(feed.Position);

        Assert.Equal(["b1"], ids);
        Assert.Equal(new PredictionLogMissed(1, bytes), feed.Missed);
        Assert.True(later.IsNone, "counted again");
    }

    [Fact]
    public async Task The_cleaner_records_each_deletion_in_its_own_ledger_before_the_unlink_and_replicas_never_share_a_file()
    {
        var paths = Enumerable.Range(0, 40).Select(i => Segment(i, $"r{i:D2}")).ToList();
        var replicas = Enumerable.Range(0, 4).Select(_ => Cleaner(new PredictionLogRetention { MaxBytes = 10 * Length(paths[0]) })).ToList();

        var passes = await Task.WhenAll(replicas.Select(r => Task.Run(r.Enforce)));
        var ledger = PredictionLogLedger.Read(LogFolder);

        Assert.Equal(30, passes.Sum(p => p.Deleted));
        Assert.Equal(paths[..30].Select(Path.GetFileName).Order(StringComparer.Ordinal), ledger.Entries.Keys.Order(StringComparer.Ordinal));
        Assert.All(ledger.Entries.Values, e => Assert.Equal((Length(paths[^1]), "size", Now.ToUnixTimeMilliseconds() * 1000), (e.Bytes, e.Reason, e.DeletedAt)));
        Assert.Equal(0, ledger.Unreadable);
        var files = PredictionLogLedger.Files(LogFolder);
        Assert.Equal(replicas.Count(r => r.LedgerFile is not null), files.Count);
        Assert.All(files, f => Assert.Matches(@"^retention-\d{20}-\d{7}-[0-9a-f]{8}\.ledger$", Path.GetFileName(f)));
        Assert.Equal(paths[30..], PredictionLogReader.Segments(LogFolder)); // the ledger files are not segments
        Assert.Equal(paths[30..].Select(p => $"r{paths.IndexOf(p):D2}"), await PredictionLogSamplesIds());
    }

    [Fact]
    public async Task A_torn_last_ledger_line_is_ignored_its_segment_was_never_deleted()
    {
        Segment(0, "a1");
        var (_, position, _) = await ReadAsync(PredictionLogPosition.Start);
        var b = Segment(1, "b1");
        var c = Segment(2, "c1");
        File.Delete(b);

        // A crash while appending c's line, before its unlink: c is still there.
        Ledger($"{Path.GetFileName(b)}\t123\tsize\t1\n{Path.GetFileName(c)}\t45");
        var (ids, _, missed) = await ReadAsync(position);

        Assert.Equal(["c1"], ids);
        Assert.Equal(new PredictionLogMissed(1, 123), missed);
    }

    [Fact]
    public void A_ledger_line_caught_while_it_is_written_is_read_once_whole_and_the_lines_before_it_once()
    {
        var segment = Path.GetFileName(Segment(0, "a1"));
        var path = Ledger($"{segment}\t10\tsize\t1\n{segment[..^3]}");

        var partial = PredictionLogLedger.Read(LogFolder);
        File.AppendAllText(path, $"{segment[^3..]}\t20\tage\t2\n");
        var whole = PredictionLogLedger.Read(LogFolder);
        var again = PredictionLogLedger.Read(LogFolder);

        Assert.Equal((10L, 0), (Assert.Single(partial.Entries).Value.Bytes, partial.Unreadable));
        Assert.Equal(("age", 20L, 0), (Assert.Single(whole.Entries).Value.Reason, whole.Entries[segment].Bytes, whole.Unreadable));
        Assert.Equal(whole.Entries, again.Entries);
    }

    [Fact]
    public async Task A_damaged_ledger_line_is_skipped_and_counted_and_the_rest_still_counts()
    {
        Segment(0, "a1");
        var (_, position, _) = await ReadAsync(PredictionLogPosition.Start);
        var b = Segment(1, "b1");
        var c = Segment(2, "c1");
        File.Delete(b);
        File.Delete(c);

        Ledger($"{Path.GetFileName(b)}\t100\tsize\t1\nthis is not an entry\n{Path.GetFileName(c)}\t-5\tage\t1\n{Path.GetFileName(c)}\t200\tage\t2\n");
        var (_, _, missed) = await ReadAsync(position);

        Assert.Equal(new PredictionLogMissed(2, 300) { UnreadableLedgerLines = 2 }, missed);
        Assert.EndsWith(
            "; 2 lines of the prediction log's retention ledger could not be read (segments deleted unread may go uncounted)", missed.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00000000000000000001-0000001-000001.jsonl\t10\tsize\t5", true)]
    [InlineData("00000000000000000001-0000001-000001.jsonl\t10\tsize", false)]
    [InlineData("00000000000000000001-0000001-000001.jsonl\t10\tsize\t5\textra", false)]
    [InlineData("export.jsonl\t10\tsize\t5", false)]
    [InlineData("00000000000000000001-0000001-000001.jsonl\tten\tsize\t5", false)]
    [InlineData("00000000000000000001-0000001-000001.jsonl\t10\tSize!\t5", false)]
    [InlineData("00000000000000000001-0000001-000001.jsonl\t10\t\t5", false)]
    [InlineData("", false)]
    public void A_ledger_line_is_a_segment_name_its_bytes_a_reason_and_a_time(string line, bool valid) =>
        Assert.Equal(valid, PredictionLogLedger.Parse(line) is not null);

    [Fact]
    public void The_ledger_is_pruned_of_its_least_recently_written_files_over_its_cap_never_a_recent_one()
    {
        Directory.CreateDirectory(LogFolder);
        var old = Enumerable.Range(0, 6).Select(i =>
        {
            var path = Path.Combine(LogFolder, $"retention-{i:D20}-0000001-0000000{i}.ledger");
            File.WriteAllText(path, new string('x', (1 << 20) - 1024));
            File.SetLastWriteTimeUtc(path, (Now - TimeSpan.FromDays(10 - i)).UtcDateTime);
            return path;
        }).ToList();
        var recent = Path.Combine(LogFolder, "retention-00000000000000000009-0000001-00000009.ledger");
        File.WriteAllText(recent, new string('x', (1 << 20) - 1024));
        File.SetLastWriteTimeUtc(recent, (Now - TimeSpan.FromMinutes(5)).UtcDateTime);
        var segment = Segment(0, "a1");

        Cleaner(new PredictionLogRetention { MaxBytes = 1 }).Enforce();

        Assert.False(File.Exists(segment));
        Assert.Equal([false, false, false, true, true, true], old.Select(File.Exists));
        Assert.True(File.Exists(recent));
        Assert.True(PredictionLogLedger.Files(LogFolder).Sum(f => new FileInfo(f).Length) <= PredictionLogLedger.MaxBytes);
    }

    [Fact]
    public async Task A_live_monitor_reports_what_it_missed_with_the_tick_and_in_the_details_of_the_windows_it_evaluated()
    {
        var spec = new MonitorSpec
        {
            Name = "drift", Endpoint = "e", Model = "m", Features = ["distance"], Checks = [MonitorChecks.DataDrift],
            Drift = new DriftOptions { MinimumSampleSize = 5 },
        };
        var reference = Reference();
        var monitor = new LiveMonitor("flights", spec, LogFolder, Store, (_, _) => Task.FromResult<DriftProfile?>(reference), alerts: null);
        Written(0, Rows(0, 0));
        var lost = Written(1, Rows(1, Hour));
        var first = await monitor.TickAsync(Replayed + Hour, TimeSpan.Zero); // window 0 (the read stops at lost's first record)
        var kept = Written(2, Rows(2, 2 * Hour));
        var lostBytes = Length(lost);

        Cleaner(new PredictionLogRetention { MaxBytes = Length(kept) }).Enforce();
        var second = await monitor.TickAsync(Replayed + (3 * Hour), TimeSpan.Zero);
        var third = await monitor.TickAsync(Replayed + (4 * Hour), TimeSpan.Zero);

        Assert.True(first.Missed.IsNone);
        Assert.Single(first.Results);
        Assert.Equal(new PredictionLogMissed(1, lostBytes), second.Missed);
        var result = Assert.Single(second.Results); // window 1 has no rows left: no result
        Assert.Equal(Replayed + (2 * Hour), result.WindowStart);
        using var details = JsonDocument.Parse(result.Details!);
        var note = details.RootElement.GetProperty(LiveMonitor.MissedKey);
        Assert.Equal((1, lostBytes), (note.GetProperty("segments").GetInt32(), note.GetProperty("bytes").GetInt64()));
        Assert.Equal(second.Missed.ToString(), note.GetProperty("message").GetString());
        Assert.True(details.RootElement.GetProperty("features").GetArrayLength() > 0); // the drift details are kept
        Assert.True(third.Missed.IsNone);
        Assert.DoesNotContain(LiveMonitor.MissedKey, first.Results[0].Details, StringComparison.Ordinal);
    }

    private Task<List<string>> PredictionLogSamplesIds() => Strata.Tests.Serving.PredictionLogSamples.RequestIdsAsync(LogFolder);

    private async Task<(List<string> Ids, PredictionLogPosition Position, PredictionLogMissed Missed)> ReadAsync(PredictionLogPosition position, long? until = null)
    {
        var feed = new PredictionLogFeed(LogFolder, "e", position: position);
        var ids = new List<string>();
        await foreach (var record in feed.ReadRecordsAsync(until))
        {
            ids.Add(record.RequestId);
        }

        return (ids, feed.Position, feed.Missed);
    }

    /// <summary>Reads the feed, running <paramref name="meanwhile"/> once the feed has listed the folder (at its first record).</summary>
    private static async IAsyncEnumerable<PredictionRecord> ReadAfterListingAsync(PredictionLogFeed feed, Action meanwhile)
    {
        var ran = false;
        await foreach (var record in feed.ReadRecordsAsync())
        {
            if (!ran)
            {
                ran = true;
                meanwhile(); // the feed has listed b and c and is reading b (opened: read to its end)
                yield return record; // b1
                continue;
            }

            yield return record;
        }
    }

    private PredictionLogCleaner Cleaner(PredictionLogRetention retention) =>
        new(LogFolder, retention, new MetricRegistry(), new FixedClock(Now), TimeSpan.FromMinutes(1), warn: null);

    /// <summary>Closed segment number <paramref name="n"/> of one record per id.</summary>

    private string Segment(int n, params string[] ids) => Timed(n, [.. ids.Select((id, i) => (id, (long)i))]);

    /// <summary>Closed segment number <paramref name="n"/> of records at these offsets from the replay's start.</summary>
    private string Timed(int n, params (string Id, long Offset)[] records) =>
        Written(n, string.Concat(records.Select(r => Line(r.Id, Replayed + r.Offset + n, 258) + "\n")));

    /// <summary>Closed segment number <paramref name="n"/> holding <paramref name="text"/>, named n ms after the first and written n minutes after it.</summary>
    private string Written(int n, string text)
    {
        Directory.CreateDirectory(LogFolder);
        var name = string.Create(CultureInfo.InvariantCulture, $"{_named + (n * 1000):D20}-{1:D7}-{n + 1:D6}");
        var path = Path.Combine(LogFolder, name + PredictionLog.SegmentExtension);
        File.WriteAllText(path, text);
        File.SetLastWriteTimeUtc(path, (Now - TimeSpan.FromHours(1) + TimeSpan.FromMinutes(n)).UtcDateTime);
        return path;
    }

    /// <summary>Ten records of window <paramref name="n"/> starting <paramref name="offset"/> after the replay's start.</summary>
    private static string Rows(int n, long offset) =>
        string.Concat(Enumerable.Range(0, 10).Select(i => Line($"w{n}-{i}", Replayed + offset + i, 100 + (i * 300)) + "\n"));

    private string Ledger(string text)
    {
        Directory.CreateDirectory(LogFolder);
        var path = Path.Combine(LogFolder, "retention-00000000000000000001-0000001-00000001.ledger");
        File.WriteAllText(path, text);
        return path;
    }

    private static long Length(string path) => new FileInfo(path).Length;

    private static string Line(string id, long time, double distance) =>
        string.Create(CultureInfo.InvariantCulture, $"{{\"v\":1,\"time\":{time},\"request_id\":\"{id}\",\"endpoint\":\"e\",\"project\":\"flights\",\"model\":\"m\",\"version\":1,") +
        string.Create(CultureInfo.InvariantCulture, $"\"role\":\"champion\",\"latency_ms\":0.25,\"rows\":[{{\"inputs\":{{\"distance\":{distance}}},\"value\":2.5}}]}}");

    private static DriftProfile Reference()
    {
        var table = Table.From(("distance", Columns.Float64([.. Enumerable.Range(0, 500).Select(i => (double?)(100 + (i * 5.8)))])));
        var layout = DriftLayout.FromProfile(Strata.Data.Profiling.Profiler.Profile(table));
        return DriftProfileBuilder.Profile(layout, table);
    }

    /// <summary>A wall clock stopped at one instant.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
