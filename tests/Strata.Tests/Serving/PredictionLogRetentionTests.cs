using System.Globalization;
using Strata.Monitoring;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Testing;
using static Strata.Tests.Serving.PredictionLogSamples;

namespace Strata.Tests.Serving;

/// <summary>
/// The prediction log's retention: a cap on the bytes of the folder's closed segments and an age limit by modification
/// time; the oldest closed segments go first, open ones never; passes of replicas sharing the folder agree; a setting
/// that is not a size or an age is refused, naming it.
/// </summary>
public sealed class PredictionLogRetentionTests : IDisposable
{
    private const string BytesSetting = "Strata:PredictionLog:RetentionBytes";
    private const string AgeSetting = "Strata:PredictionLog:RetentionAge";

    // A fixed wall clock for the age tests; file times are set relative to it.
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    // Record times (and the names of segments of a replayed log) in 2001, as the quickstart's server writes them.
    private static readonly long Replayed = new DateTimeOffset(2001, 5, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;

    private readonly TempFolder _folder = new("strata-log-retention");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_log_over_its_cap_deletes_its_oldest_closed_segments_first_until_the_rest_fits()
    {
        // Nothing was ever deleted: at 25 MB/s the folder grew by 90 GB an hour until the disk was full.
        var metrics = new MetricRegistry();
        var line = await OneLineSegmentBytesAsync();
        var cap = (3 * line) + (line / 2);
        await using var log = Log(new PredictionLogRetention { MaxBytes = cap }, metrics);

        for (var i = 0; i < 10; i++)
        {
            Assert.True(log.TryWrite(Prediction($"r{i}")));
            await log.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30)); // a flush closes the segment: one line each
        }

        await log.EnforceRetentionAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(ClosedBytes() <= cap, $"the closed segments hold {ClosedBytes()} bytes, over the cap of {cap}");
        Assert.Equal(["r7", "r8", "r9"], await ReadAsync());
        var text = PrometheusText.ToText(metrics);
        Assert.Contains("strata_serving_prediction_log_retention_deleted_segments_total{reason=\"size\"} 7\n", text, StringComparison.Ordinal);
        Assert.Contains($"strata_serving_prediction_log_retention_deleted_bytes_total{{reason=\"size\"}} {7 * line}\n", text, StringComparison.Ordinal);
        Assert.Contains("strata_serving_prediction_log_retention_deleted_segments_total{reason=\"age\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains($"strata_serving_prediction_log_bytes {3 * line}\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_segments_are_never_deleted_nor_counted_the_log_s_own_and_a_live_replica_s()
    {
        var replica = _folder.WriteText(Name(Replayed, pid: 1, seq: 1) + PredictionLog.OpenExtension, Line("live", Replayed) + "\n");
        var closed = Closed(Replayed, "old");
        await using var held = new FileStream(replica, FileMode.Open, FileAccess.Write, FileShare.None); // its writer is alive
        await using var log = Log(new PredictionLogRetention { MaxBytes = 1 });
        Assert.True(log.TryWrite(Prediction("mine")));
        await WaitAsync(() => OpenSegments().Length == 2);

        await log.EnforceRetentionAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(File.Exists(closed));
        Assert.Equal(2, OpenSegments().Length);
        Assert.True(File.Exists(replica));
    }

    [Fact]
    public void The_age_limit_goes_by_when_a_segment_was_last_written_never_by_its_name_or_its_records()
    {
        // Names and records from 2001 (a replay) but written a few minutes ago: kept. A name from today written long ago: deleted.
        var recent = Closed(Replayed, "recent", written: Now - TimeSpan.FromMinutes(10));
        var justOver = Closed(Replayed + 1000, "just-over", written: Now - TimeSpan.FromHours(1) - TimeSpan.FromSeconds(1));
        var stale = Closed(Now.ToUnixTimeMilliseconds() * 1000, "stale", written: Now - TimeSpan.FromHours(2));
        var metrics = new MetricRegistry();

        var pass = Cleaner(new PredictionLogRetention { MaxBytes = 0, MaxAge = TimeSpan.FromHours(1) }, metrics).Enforce();

        Assert.True(File.Exists(recent));
        Assert.False(File.Exists(justOver));
        Assert.False(File.Exists(stale));
        Assert.Equal((2, 1), (pass.Deleted, pass.Kept));
        var text = PrometheusText.ToText(metrics);
        Assert.Contains("strata_serving_prediction_log_retention_deleted_segments_total{reason=\"age\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("strata_serving_prediction_log_retention_deleted_segments_total{reason=\"size\"} 0\n", text, StringComparison.Ordinal);
        var oldest = (Now - TimeSpan.FromMinutes(10)).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        Assert.Contains($"strata_serving_prediction_log_oldest_segment_timestamp_seconds {oldest}\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Oldest_means_last_written_longest_ago_whatever_the_names_say()
    {
        // A segment named late but closed first (a leftover of a crash closed at the next start keeps its old time).
        var first = Closed(Replayed + 3000, "written-first", written: Now - TimeSpan.FromMinutes(30));
        var second = Closed(Replayed + 1000, "written-second", written: Now - TimeSpan.FromMinutes(20));
        var third = Closed(Replayed + 2000, "written-third", written: Now - TimeSpan.FromMinutes(10));

        Cleaner(new PredictionLogRetention { MaxBytes = new FileInfo(second).Length + new FileInfo(third).Length }).Enforce();

        Assert.Equal([false, true, true], new[] { first, second, third }.Select(File.Exists));
    }

    [Fact]
    public void With_no_cap_and_no_age_limit_nothing_is_deleted_and_the_folder_is_still_measured()
    {
        var paths = Enumerable.Range(0, 3).Select(i => Closed(Replayed + (i * 1000), $"r{i}", written: Now - TimeSpan.FromDays(400))).ToList();
        var metrics = new MetricRegistry();

        var pass = Cleaner(new PredictionLogRetention { MaxBytes = 0, MaxAge = TimeSpan.Zero }, metrics).Enforce();

        Assert.All(paths, p => Assert.True(File.Exists(p)));
        Assert.Equal(0, pass.Deleted);
        Assert.Contains($"strata_serving_prediction_log_bytes {paths.Sum(p => new FileInfo(p).Length)}\n", PrometheusText.ToText(metrics), StringComparison.Ordinal);
    }

    [Fact]
    public void Only_files_named_as_the_log_names_its_segments_are_counted_or_deleted()
    {
        var segment = Closed(Replayed, "r0", written: Now - TimeSpan.FromMinutes(5));
        var foreign = _folder.WriteText("export.jsonl", new string('x', 10_000));
        var notes = _folder.WriteText("README.txt", "kept");

        var pass = Cleaner(new PredictionLogRetention { MaxBytes = 1 }).Enforce();

        Assert.False(File.Exists(segment));
        Assert.True(File.Exists(foreign));
        Assert.True(File.Exists(notes));
        Assert.Equal((1, 0, 0L), (pass.Deleted, pass.Kept, pass.KeptBytes));
    }

    [Fact]
    public async Task Replicas_enforcing_at_once_on_one_folder_delete_each_segment_once_and_stop_at_the_cap()
    {
        var paths = Enumerable.Range(0, 200).Select(i => Closed(Replayed + (i * 1000), $"r{i:D3}", written: Now - TimeSpan.FromSeconds(1000 - i))).ToList();
        var size = new FileInfo(paths[0]).Length;
        var retention = new PredictionLogRetention { MaxBytes = 20 * size };
        var replicas = Enumerable.Range(0, 4).Select(_ => Cleaner(retention)).ToList();

        var passes = await Task.WhenAll(replicas.Select(r => Task.Run(r.Enforce)));

        Assert.Equal(paths[^20..], paths.Where(File.Exists));
        Assert.Equal(180, passes.Sum(p => p.Deleted)); // a segment another replica deleted first is not counted again
        Assert.All(passes, p => Assert.Equal(20 * size, p.KeptBytes));
    }

    [Fact]
    public async Task A_segment_deleted_after_it_was_listed_is_passed_over_by_readers_and_monitors()
    {
        var first = Closed(Replayed, "r0", "r1");
        var second = Closed(Replayed + 1000, "r2");
        var feed = new PredictionLogFeed(_folder.Path, "e");
        await foreach (var record in feed.ReadRecordsAsync())
        {
            if (record.RequestId == "r0")
            {
                break; // stopped inside the first segment
            }
        }

        File.Delete(first); // retention deletes it before the monitor comes back
        var third = Closed(Replayed + 2000, "r3");
        var read = new List<string>();
        await foreach (var record in new PredictionLogFeed(_folder.Path, "e", position: feed.Position).ReadRecordsAsync())
        {
            read.Add(record.RequestId);
        }

        Assert.Equal(["r2", "r3"], read);
        Assert.Empty(await PredictionLogReader.ReadListedSegmentAsync(first, 0).ToListAsync());
        await Assert.ThrowsAsync<FileNotFoundException>(async () => await PredictionLogReader.ReadSegmentAsync(first, 0).ToListAsync());
        Assert.True(File.Exists(second) && File.Exists(third));
    }

    [Theory]
    [InlineData("10GiB", 10L << 30)]
    [InlineData("500 MiB", 500L << 20)]
    [InlineData("1.5KiB", 1536L)]
    [InlineData("2TB", 2_000_000_000_000L)]
    [InlineData("64mb", 64_000_000L)]
    [InlineData("4096", 4096L)]
    [InlineData("0", 0L)]
    [InlineData("off", 0L)]
    public void A_size_cap_is_bytes_or_a_size_with_its_unit_and_0_or_off_is_none(string text, long bytes) =>
        Assert.Equal(bytes, PredictionLogRetention.ParseBytes(BytesSetting, text));

    [Theory]
    [InlineData("10XB")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("ten")]
    [InlineData("GiB")]
    [InlineData("")]
    [InlineData("9999999999TiB")]
    [InlineData("10 GiB extra")]
    public void A_size_cap_that_is_not_one_is_refused_naming_the_setting_and_the_value(string text)
    {
        var e = Assert.Throws<StrataException>(() => PredictionLogRetention.ParseBytes(BytesSetting, text));

        Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code);
        Assert.StartsWith($"setting {BytesSetting} is '{text}', not a size such as 10GiB", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("90m", 90 * 60)]
    [InlineData("12h", 12 * 3600)]
    [InlineData("7d", 7 * 86400)]
    [InlineData("7.00:00:00", 7 * 86400)]
    [InlineData("0", 0)]
    [InlineData("off", 0)]
    public void An_age_limit_is_a_duration_or_a_time_span_and_0_or_off_is_none(string text, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), PredictionLogRetention.ParseAge(AgeSetting, text));

    [Theory]
    [InlineData("7")]
    [InlineData("-1d")]
    [InlineData("1.5h")]
    [InlineData("soon")]
    [InlineData("-01:00:00")]
    public void An_age_limit_that_is_not_one_is_refused_naming_the_setting_and_the_value(string text)
    {
        var e = Assert.Throws<StrataException>(() => PredictionLogRetention.ParseAge(AgeSetting, text));

        Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code);
        Assert.StartsWith($"setting {AgeSetting} is '{text}', not an age such as 90m", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_retention_reads_as_words_for_the_start_up_log() =>
        Assert.Equal(
            ["at most 10 GiB, no age limit", "no size cap, deleted 7d after last written"],
            [PredictionLogRetention.Default.ToString(), new PredictionLogRetention { MaxBytes = 0, MaxAge = TimeSpan.FromDays(7) }.ToString()]);

    /// <summary>The size of a segment holding one logged prediction (each test line has the same size).</summary>
    private static async Task<long> OneLineSegmentBytesAsync()
    {
        using var scratch = new TempFolder("strata-log-retention-size");
        await using (var log = new PredictionLog(new PredictionLogOptions { Folder = scratch.Path, WriteInterval = TimeSpan.FromMilliseconds(1) }, new MetricRegistry()))
        {
            log.TryWrite(Prediction("r0"));
        }

        return new FileInfo(Assert.Single(PredictionLogReader.Segments(scratch.Path))).Length;
    }

    private PredictionLog Log(PredictionLogRetention retention, MetricRegistry? metrics = null) =>
        new(new PredictionLogOptions { Folder = _folder.Path, Retention = retention, WriteInterval = TimeSpan.FromMilliseconds(1) }, metrics ?? new MetricRegistry());

    private PredictionLogCleaner Cleaner(PredictionLogRetention retention, MetricRegistry? metrics = null) =>
        new(_folder.Path, retention, metrics ?? new MetricRegistry(), new FixedClock(Now), TimeSpan.FromMinutes(1), warn: null);

    /// <summary>A closed segment named at <paramref name="time"/> (UTC µs) holding records of that time, last written now.</summary>
    private string Closed(long time, params string[] ids) => Closed(time, ids[0], ids.Skip(1).ToArray(), written: null);

    /// <summary>A closed segment of one record, last written at <paramref name="written"/>.</summary>
    private string Closed(long time, string id, DateTimeOffset written) => Closed(time, id, [], written);

    private string Closed(long time, string id, string[] more, DateTimeOffset? written)
    {
        var path = _folder.WriteText(Name(time, pid: 1, seq: 1) + PredictionLog.SegmentExtension, string.Concat(new[] { id }.Concat(more).Select(i => Line(i, time) + "\n")));
        if (written is { } at)
        {
            File.SetLastWriteTimeUtc(path, at.UtcDateTime);
        }

        return path;
    }

    private static string Name(long time, int pid, int seq) => string.Create(CultureInfo.InvariantCulture, $"{time:D20}-{pid:D7}-{seq:D6}");

    private string[] OpenSegments() => Directory.GetFiles(_folder.Path, "*" + PredictionLog.OpenExtension);

    private long ClosedBytes() => PredictionLogReader.Segments(_folder.Path).Sum(p => new FileInfo(p).Length);

    private Task<List<string>> ReadAsync() => RequestIdsAsync(_folder.Path);

    /// <summary>A wall clock stopped at one instant.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
