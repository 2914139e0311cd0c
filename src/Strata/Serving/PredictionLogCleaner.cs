using Strata.Artifacts;
using Strata.Serving.Metrics;

namespace Strata.Serving;

/// <summary>What one retention pass found and did.</summary>
/// <param name="Deleted">Segments this pass deleted.</param>
/// <param name="DeletedBytes">Their bytes.</param>
/// <param name="Kept">Closed segments left in the folder.</param>
/// <param name="KeptBytes">Their bytes.</param>
internal readonly record struct RetentionPass(int Deleted, long DeletedBytes, int Kept, long KeptBytes);

/// <summary>
/// Enforces a <see cref="PredictionLogRetention"/> on a prediction-log folder, on a thread of its own (never the
/// requests' nor the writer's): a pass when it starts, after each segment the log closes (<see cref="Signal"/>), and
/// at least once an interval (the age limit, and segments closed by replicas sharing the folder).
/// </summary>
/// <remarks>
/// A pass lists the closed segments (<c>*.jsonl</c> files named as the log names them; never <c>.jsonl.open</c>),
/// oldest first by modification time (when the writer last wrote it, about when it was closed), then by name. It
/// deletes those last written longer ago than the age limit, then the oldest while the rest is over the cap, and then
/// flushes the folder, so a crash cannot bring a deleted entry back. Replicas sharing the folder may run passes at
/// once: a segment another one deleted first is simply gone (and counted by whoever deleted it). A reader that opened a
/// segment before it was deleted reads it to its end (the OS keeps the file until it is closed).
/// <para>
/// Each deletion is first recorded in the folder's retention ledger (<see cref="PredictionLogLedger"/>: a file of this
/// cleaner's own, the line flushed to disk before the unlink), so a monitor that had not read the segment yet is told
/// its records are gone. A deletion the ledger cannot record (a full disk) is made all the same — the cap comes first —
/// and reported through the warning.
/// </para>
/// </remarks>
internal sealed class PredictionLogCleaner
{
    private const string SizeReason = "size";
    private const string AgeReason = "age";
    private readonly string _folder;
    private readonly PredictionLogRetention _retention;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _interval;
    private readonly Action<string>? _warn;
    private readonly PredictionLogLedger _ledger;
    private readonly Counter _deletedSegments;
    private readonly Counter _deletedBytes;
    private readonly Gauge.Child _bytes;
    private readonly Gauge.Child _oldest;
    private readonly object _wake = new(); // pulsed by Signal; a Monitor rather than an event, which would need disposing
    private readonly Lock _passLock = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private bool _started;
    private bool _signalled;
    private int _passRequests;
    private int _passesDone;
    private string? _lastProblem;

    /// <param name="folder">The log's folder.</param>
    /// <param name="retention">What to keep.</param>
    /// <param name="metrics">Where the counters and gauges are registered.</param>
    /// <param name="clock">
    /// The wall clock ages are measured on (a file's modification time is the OS's): never a replayed clock, such as
    /// the quickstart's server runs on.
    /// </param>
    /// <param name="interval">Longest time between two passes.</param>
    /// <param name="warn">Where a segment that cannot be deleted (or a folder that cannot be listed) is reported, once per problem.</param>
    public PredictionLogCleaner(string folder, PredictionLogRetention retention, MetricRegistry metrics, TimeProvider clock, TimeSpan interval, Action<string>? warn)
    {
        ArgumentNullException.ThrowIfNull(retention);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentOutOfRangeException.ThrowIfNegative(retention.MaxBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(retention.MaxAge, TimeSpan.Zero);
        _folder = folder;
        _retention = retention;
        _clock = clock;
        _interval = interval > TimeSpan.Zero ? interval : TimeSpan.FromMinutes(1);
        _warn = warn;
        _ledger = new PredictionLogLedger(folder, clock);
        _deletedSegments = metrics.CreateCounter(
            "strata_serving_prediction_log_retention_deleted_segments_total",
            "Closed prediction-log segments deleted by retention, by reason: size (the folder's closed segments were over the cap) or age (last written longer ago than the age limit).",
            "reason");
        _deletedBytes = metrics.CreateCounter(
            "strata_serving_prediction_log_retention_deleted_bytes_total",
            "Bytes of the closed prediction-log segments deleted by retention, by reason (size or age).",
            "reason");
        foreach (var reason in new[] { SizeReason, AgeReason })
        {
            _deletedSegments.Labels(reason);
            _deletedBytes.Labels(reason);
        }

        _bytes = metrics.CreateGauge(
            "strata_serving_prediction_log_bytes",
            "Bytes of the closed segments in the prediction log's folder (every replica's, when shared), as of the last retention pass.").Unlabelled;
        _oldest = metrics.CreateGauge(
            "strata_serving_prediction_log_oldest_segment_timestamp_seconds",
            "When the oldest closed segment in the prediction log's folder was last written (Unix seconds), as of the last retention pass: how far back the log reaches; 0 when it holds none.").Unlabelled;
    }

    /// <summary>The ledger file this cleaner appends to now (null before its first deletion).</summary>
    internal string? LedgerFile => _ledger.CurrentFile;

    /// <summary>Starts the cleaner's thread, which makes its first pass at once.</summary>
    public void Start()
    {
        _started = true;
        new Thread(Run) { IsBackground = true, Name = "Strata PredictionLogCleaner" }.Start();
    }

    /// <summary>Asks for a pass soon (a segment was closed); never waits.</summary>
    public void Signal()
    {
        lock (_wake)
        {
            _signalled = true;
            Monitor.Pulse(_wake);
        }
    }

    /// <summary>Waits for a pass that starts after this call (tests: the folder is then within the retention).</summary>
    public async Task PassAsync(CancellationToken cancellationToken = default)
    {
        if (!_started)
        {
            Enforce();
            return;
        }

        var wanted = Interlocked.Increment(ref _passRequests);
        Signal();
        while (Volatile.Read(ref _passesDone) < wanted) // int.MaxValue once the thread has stopped
        {
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the thread (a pass under way stops after the segment it is deleting) and waits for it.</summary>
    public Task StopAsync()
    {
        _stopping = true;
        Signal();
        return _started ? _stopped.Task : Task.CompletedTask;
    }

    /// <summary>One pass, on the calling thread; never throws (a problem is reported through the warning and tried again next pass).</summary>
    public RetentionPass Enforce()
    {
        lock (_passLock)
        {
            List<Segment> segments;
            try
            {
                segments = List();
            }
            catch (DirectoryNotFoundException)
            {
                return default; // moved or deleted while serving: the writer makes it again
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Report($"prediction log retention cannot list '{_folder}': {e.Message}");
                return default;
            }

            segments.Sort(static (a, b) => a.Written != b.Written ? a.Written.CompareTo(b.Written) : string.CompareOrdinal(a.Path, b.Path));
            var total = segments.Sum(s => s.Length);
            var now = _clock.GetUtcNow().UtcDateTime;
            var maxAge = _retention.MaxAge;
            int deleted = 0, kept = 0;
            long deletedBytes = 0;
            DateTime? oldest = null;
            string? problem = null;
            var recorded = false;
            foreach (var segment in segments)
            {
                var reason = maxAge > TimeSpan.Zero && now - segment.Written > maxAge ? AgeReason
                    : _retention.MaxBytes > 0 && total > _retention.MaxBytes ? SizeReason
                    : null;
                if (reason is null || _stopping)
                {
                    oldest ??= segment.Written;
                    kept++;
                    continue;
                }

                if (!_ledger.TryAppend(Path.GetFileName(segment.Path), segment.Length, reason, out var unrecorded))
                {
                    problem ??= $"prediction log retention cannot record the deletion of '{segment.Path}' in its ledger, and deletes it all the same (a monitor that had not read it is not told): {unrecorded}";
                }

                recorded = true;
                switch (DurableFile.Delete(segment.Path, out var error))
                {
                    case DurableFile.Deletion.Deleted:
                        deleted++;
                        deletedBytes += segment.Length;
                        total -= segment.Length;
                        _deletedSegments.Labels(reason).Inc();
                        _deletedBytes.Labels(reason).Inc(segment.Length);
                        break;
                    case DurableFile.Deletion.Gone:
                        total -= segment.Length; // another replica's pass deleted it first
                        break;
                    default:
                        // Kept and still counted: newer segments go in its stead while the folder is over the cap.
                        problem ??= $"prediction log retention cannot delete '{segment.Path}': {error}";
                        oldest ??= segment.Written;
                        kept++;
                        break;
                }
            }

            if (deleted > 0)
            {
                try
                {
                    DurableFile.FsyncDirectory(_folder);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    problem ??= $"prediction log retention cannot flush '{_folder}' after deleting segments: {e.Message}";
                }
            }

            if (recorded)
            {
                problem ??= _ledger.Prune();
            }

            _bytes.Set(total);
            _oldest.Set(oldest is { } time ? new DateTimeOffset(time, TimeSpan.Zero).ToUnixTimeMilliseconds() / 1000.0 : 0);
            if (problem is not null)
            {
                Report(problem);
            }
            else
            {
                _lastProblem = null;
            }

            return new RetentionPass(deleted, deletedBytes, kept, total);
        }
    }

    /// <summary>True for a file name the log gives a closed segment: <c>&lt;20 digits&gt;-&lt;pid&gt;-&lt;sequence&gt;.jsonl</c>.</summary>
    internal static bool IsSegmentName(string name)
    {
        if (!name.EndsWith(PredictionLog.SegmentExtension, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = name[..^PredictionLog.SegmentExtension.Length].Split('-');
        return parts.Length == 3 && parts[0].Length == 20 && parts.All(p => p.Length > 0 && p.All(char.IsAsciiDigit));
    }

    private void Run()
    {
        try
        {
            while (!_stopping)
            {
                var requests = Volatile.Read(ref _passRequests);
                try
                {
                    Enforce();
                }
#pragma warning disable CA1031 // a fault in a pass must not end the process (this thread is its own): reported, and the next pass tries again
                catch (Exception e)
#pragma warning restore CA1031
                {
                    _warn?.Invoke($"prediction log retention failed: {e.Message}");
                }

                Volatile.Write(ref _passesDone, requests);
                lock (_wake)
                {
                    if (!_signalled && !_stopping)
                    {
                        Monitor.Wait(_wake, _interval);
                    }

                    _signalled = false;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _passesDone, int.MaxValue);
            _stopped.TrySetResult();
        }
    }

    /// <summary>The folder's closed segments (a file gone since the listing is left out).</summary>
    private List<Segment> List()
    {
        var segments = new List<Segment>();
        foreach (var path in Directory.EnumerateFiles(_folder, "*" + PredictionLog.SegmentExtension))
        {
            if (!IsSegmentName(Path.GetFileName(path)))
            {
                continue; // not the log's: never counted nor deleted
            }

            var info = new FileInfo(path);
            if (info.Exists)
            {
                segments.Add(new Segment(path, info.Length, info.LastWriteTimeUtc));
            }
        }

        return segments;
    }

    /// <summary>Reports a problem once, until a pass goes without one or the problem changes.</summary>
    private void Report(string problem)
    {
        if (problem != _lastProblem)
        {
            _lastProblem = problem;
            _warn?.Invoke(problem);
        }
    }

    private readonly record struct Segment(string Path, long Length, DateTime Written);
}
