using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using Strata.Artifacts;
using Strata.Serving.Metrics;

namespace Strata.Serving;

/// <summary>Where and how the prediction log writes.</summary>
public sealed record PredictionLogOptions
{
    /// <summary>The folder of segment files (the home's <c>predictions/</c>).</summary>
    public required string Folder { get; init; }

    /// <summary>Predictions waiting to be written; beyond it new ones are dropped and counted.</summary>
    public int Capacity { get; init; } = 16_384;

    /// <summary>A segment is closed once it holds this many bytes.</summary>
    public long MaxSegmentBytes { get; init; } = 64L << 20;

    /// <summary>A segment is closed once it is this old, so readers see recent predictions.</summary>
    public TimeSpan MaxSegmentAge { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How often the writer wakes to write what is queued. Short, so each wake is a small burst: with a 10 ms tick the
    /// burst of serializing 50-feature rows put the enriched endpoint's p99 at 2.2-2.6 ms; at 2 ms it was 1.7-2.1 ms.
    /// </summary>
    public TimeSpan WriteInterval { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>How much of the closed segments is kept (default: 10 GiB, no age limit); see <see cref="PredictionLogRetention"/>.</summary>
    public PredictionLogRetention Retention { get; init; } = PredictionLogRetention.Default;

    /// <summary>Where problems the log cannot report otherwise go (a segment retention cannot delete); the server passes its logger.</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>Test hook: waited for (on the writer's own thread) before it drains the queue (a writer that falls behind).</summary>
    internal Func<Task>? BeforeWrite { get; init; }

    /// <summary>Test hook: told each range of a segment whose writeback was started (offset, bytes) and the OS's answer (0, else its error number).</summary>
    internal Action<long, long, int>? WritebackStarted { get; init; }

    /// <summary>
    /// Test hook: the clock segment ages are measured on. The wall clock otherwise, whatever clock the server runs on
    /// (the quickstart's replays 2001), since a segment's modification time is the OS's.
    /// </summary>
    internal TimeProvider RetentionClock { get; init; } = TimeProvider.System;
}

/// <summary>One prediction to log: the request's inputs, the answer and how long it took.</summary>
internal readonly record struct PendingPrediction(
    long Time,
    string RequestId,
    string Endpoint,
    string Project,
    PredictionInput Input,
    PredictionOutput Output,
    double LatencyMs,
    IReadOnlySet<string> Masked);

/// <summary>
/// The prediction log: every sampled prediction (inputs with PII-tagged fields masked, output, model version, latency,
/// request id) becomes a JSON line, queued (bounded) for one writer thread that appends the lines to rolling segment
/// files. A request only ever calls <see cref="QueuedWriter{T}.TryWrite"/>, which encodes the line and never waits: when
/// the queue is full the prediction is dropped and counted. Closed segments beyond the retention (a size cap, an
/// optional age) are deleted, oldest first, by a <see cref="PredictionLogCleaner"/> on its own thread. The format is in
/// docs/serving.md; <see cref="PredictionLogReader"/> reads it back.
/// </summary>
internal sealed class PredictionLog : QueuedWriter<PendingPrediction>
{
    /// <summary>
    /// Bytes written to a segment after which the writer asks the OS to start writing them to disk. Left to itself, the
    /// kernel writes a log's dirty pages back in bursts (every few seconds, those older than 30 s: over 100 MB at once
    /// at 25 MB/s), which took the CPU from requests in spikes; started every MiB, the same writing is spread evenly.
    /// </summary>
    internal const long WritebackBytes = 1 << 20;

    /// <summary>The extension of a closed segment.</summary>
    public const string SegmentExtension = ".jsonl";

    /// <summary>
    /// The extension of the segment being written (readers skip it; one left by a crash is closed at start and on the
    /// writer's later ticks).
    /// </summary>
    public const string OpenExtension = ".jsonl.open";

    /// <summary>The format version written in every line's <c>v</c>.</summary>
    public const int FormatVersion = 1;

    /// <summary>What a masked value reads as.</summary>
    public const string Mask = "***";

    private const int MaxEncoded = 4096;

    // NOTE: .NET takes no file locks when told not to (the System.IO.DisableFileLocking switch); a free lock then proves
    // nothing, and only a segment idle for five segment ages is taken for a leftover.
    private static readonly bool LocksDisabled =
        (AppContext.TryGetSwitch("System.IO.DisableFileLocking", out var disabled) && disabled)
        || Environment.GetEnvironmentVariable("DOTNET_SYSTEM_IO_DISABLEFILELOCKING") is { } value
            && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase));

    // Every record starts so; FormatVersion is part of it.
    private static readonly byte[] Prefix = System.Text.Encoding.UTF8.GetBytes($"{{\"v\":{FormatVersion},\"time\":");
    private static readonly byte[] MaskValue = JsonLine.Quoted(Mask);
    private readonly PredictionLogOptions _options;
    private readonly PredictionLogCleaner _cleaner;
    private FileStream? _segment;
    private string? _segmentPath;
    private long _segmentOpened;
    private long _writebackFrom;
    private long _sequence;
    private long _leftoversChecked;

    public PredictionLog(PredictionLogOptions options, MetricRegistry metrics)
        : base(
            new QueuedWriterOptions { Capacity = options.Capacity, WriteInterval = options.WriteInterval, BeforeWrite = options.BeforeWrite },
            new QueuedWriterCounters(
                metrics.CreateCounter("strata_serving_predictions_logged_total", "Predictions written to the prediction log.").Unlabelled,
                metrics.CreateCounter("strata_serving_predictions_log_dropped_total", "Predictions not logged because the log's queue was full.").Unlabelled,
                metrics.CreateCounter("strata_serving_prediction_log_failures_total", "Predictions not logged because writing them failed (disk full, permissions) or they could not be encoded.").Unlabelled))
    {
        _options = options;
        var interval = options.MaxSegmentAge < TimeSpan.FromMinutes(1) ? options.MaxSegmentAge : TimeSpan.FromMinutes(1);
        _cleaner = new PredictionLogCleaner(options.Folder, options.Retention, metrics, options.RetentionClock, interval, options.Warn);
        DurableFile.CreateDirectory(options.Folder);
        CloseLeftovers();
        _leftoversChecked = Stopwatch.GetTimestamp();

        // Retention runs on a thread of its own, started here (not from the writer's thread, whose lower priority a
        // thread it started would inherit): its first pass now, then after each closed segment and at least once a
        // segment age (at most a minute).
        _cleaner.Start();
        Start();
    }

    /// <summary>Runs a retention pass that starts after this call and waits for it (tests; the folder is then within the retention).</summary>
    internal Task EnforceRetentionAsync(CancellationToken cancellationToken = default) => _cleaner.PassAsync(cancellationToken);

    /// <summary>Writes what is queued, closes the open segment and stops the writer and the retention thread.</summary>
    public override async ValueTask DisposeAsync()
    {
        try
        {
            await base.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await _cleaner.StopAsync().ConfigureAwait(false);
        }
    }

    protected override RecordEncoder CreateEncoder() => new LineEncoder();

    /// <summary>Encodes predictions as JSON lines, for one request thread; keeps what repeats from one record to the next.</summary>
    private sealed class LineEncoder : RecordEncoder
    {
        private readonly Dictionary<string, byte[]> _names = new(StringComparer.Ordinal);
        private readonly Dictionary<string, byte[]> _quoted = new(StringComparer.Ordinal);
        private readonly string?[] _lastNames = new string?[64];
        private readonly byte[]?[] _lastNameBytes = new byte[]?[64];
        private Heading? _head;

        public override void Append(PendingPrediction p, ArrayBufferWriter<byte> buffer)
        {
            var line = new JsonLine(buffer);
            var output = p.Output;
            var head = Head(p);
            line.Raw(Prefix);
            line.Number(p.Time);
            line.Raw(",\"request_id\":"u8);
            line.String(p.RequestId);
            line.Raw(head.Middle);
            line.Milliseconds(p.LatencyMs);
            line.Raw(",\"rows\":["u8);
            var classes = output.ClassLabels?.Count ?? 0;
            var anyMasked = p.Masked.Count > 0;
            for (var r = 0; r < output.Rows; r++)
            {
                line.Raw(r == 0 ? "{\"inputs\":{"u8 : ",{\"inputs\":{"u8);
                if (p.Input.Layout is { } layout)
                {
                    for (var f = 0; f < layout.Count; f++)
                    {
                        var name = layout.Names[f];
                        if (Field(line, f, name, anyMasked && p.Masked.Contains(name)))
                        {
                            Value(line, p.Input.KindAt(f), p.Input.NumberAt(f), p.Input.TextAt(f));
                        }
                    }
                }
                else
                {
                    var f = 0;
                    foreach (var (name, column) in p.Input.Fields)
                    {
                        if (Field(line, f++, name, anyMasked && p.Masked.Contains(name)))
                        {
                            Value(line, column.Kind, column.NumberOrNaN(r), column.TextOrNull(r));
                        }
                    }
                }

                line.Raw("}"u8);
                if (output.Labels is { } labels)
                {
                    line.Raw(",\"label\":"u8);
                    line.Raw(Cached(_quoted, labels[r], JsonLine.Quoted));
                    line.Raw(",\"probabilities\":["u8);
                    for (var c = 0; c < classes; c++)
                    {
                        if (c > 0)
                        {
                            line.Raw(","u8);
                        }

                        line.Number(output.Probabilities![(r * classes) + c]);
                    }

                    line.Raw("]"u8);
                }
                else if (output.Values is { } values)
                {
                    line.Raw(",\"value\":"u8);
                    line.Number(values[r]);
                }

                line.Raw("}"u8);
            }

            line.Raw("]"u8);
            line.Raw(head.Classes);
            line.Raw("}\n"u8);
        }

        /// <summary>Writes an input's name (after a comma but for the first); false when its value is masked, and so written too.</summary>
        private bool Field(JsonLine line, int index, string name, bool masked)
        {
            if (index > 0)
            {
                line.Raw(","u8);
            }

            line.Raw(FieldName(index, name));
            if (masked)
            {
                line.Raw(MaskValue);
            }

            return !masked;
        }

        /// <summary>An input's value: its number (NaN = null) when a number, its text (null = null) when text.</summary>
        private static void Value(JsonLine line, InputKind kind, double number, string? text)
        {
            switch (kind)
            {
                case InputKind.Number when !double.IsNaN(number):
                    line.Number(number);
                    break;
                case InputKind.Text when text is not null:
                    line.String(text);
                    break;
                default:
                    line.Raw("null"u8);
                    break;
            }
        }

        /// <summary>
        /// The name of a record's <paramref name="index"/>th input, escaped. A client sends the same fields in the same order
        /// each time (and the request parser hands out the same string for a name it has seen), so the name at each position
        /// is first compared by reference with the last record's.
        /// </summary>
        private byte[] FieldName(int index, string name)
        {
            if (index < _lastNames.Length)
            {
                if (ReferenceEquals(_lastNames[index], name))
                {
                    return _lastNameBytes[index]!;
                }

                var bytes = Cached(_names, name, JsonLine.Name);
                _lastNames[index] = name;
                _lastNameBytes[index] = bytes;
                return bytes;
            }

            return Cached(_names, name, JsonLine.Name);
        }

        /// <summary>
        /// The part of a record that is the same for every prediction of one endpoint, model version and role: written once
        /// into bytes, and found again by reference (the strings come from the deployment and the loaded model).
        /// </summary>
        private Heading Head(PendingPrediction p)
        {
            var o = p.Output;
            var last = _head;
            if (last is not null && ReferenceEquals(last.Endpoint, p.Endpoint) && ReferenceEquals(last.Project, p.Project)
                && ReferenceEquals(last.Model, o.Model) && last.Version == o.Version && ReferenceEquals(last.Role, o.Role)
                && ReferenceEquals(last.ClassLabels, o.ClassLabels))
            {
                return last;
            }

            var middle = new ArrayBufferWriter<byte>(256);
            var line = new JsonLine(middle);
            line.Raw(",\"endpoint\":"u8);
            line.String(p.Endpoint);
            line.Raw(",\"project\":"u8);
            line.String(p.Project);
            line.Raw(",\"model\":"u8);
            line.String(o.Model);
            line.Raw(",\"version\":"u8);
            line.Number(o.Version);
            line.Raw(",\"role\":"u8);
            line.String(o.Role);
            line.Raw(",\"latency_ms\":"u8);
            var classes = new ArrayBufferWriter<byte>(64);
            if (o.ClassLabels is { } labels)
            {
                var list = new JsonLine(classes);
                list.Raw(",\"classes\":["u8);
                for (var c = 0; c < labels.Count; c++)
                {
                    if (c > 0)
                    {
                        list.Raw(","u8);
                    }

                    list.String(labels[c]);
                }

                list.Raw("]"u8);
            }

            return _head = new Heading(p.Endpoint, p.Project, o.Model, o.Version, o.Role, o.ClassLabels, middle.WrittenSpan.ToArray(), classes.WrittenSpan.ToArray());
        }

        /// <summary>The bytes of a record's fixed part (<see cref="Head"/>) and the strings they were written from.</summary>
        private sealed record Heading(string Endpoint, string Project, string Model, int Version, string Role, IReadOnlyList<string>? ClassLabels, byte[] Middle, byte[] Classes);
    }

    /// <summary>
    /// A field name or a class label escaped once and kept: escaping them again for every record was a third of the
    /// writer's time. Each encoder (one thread) has its own; bounded, since callers choose field names.
    /// </summary>
    private static byte[] Cached(Dictionary<string, byte[]> cache, string text, Func<string, byte[]> encode)
    {
        if (cache.TryGetValue(text, out var known))
        {
            return known;
        }

        var encoded = encode(text);
        if (cache.Count < MaxEncoded)
        {
            cache[text] = encoded;
        }

        return encoded;
    }

    protected override void Write(ReadOnlySpan<byte> bytes)
    {
        if (_segment is null)
        {
            var time = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
            // The process id keeps replicas that share a home (a shared volume) from choosing the same name.
            var name = string.Create(CultureInfo.InvariantCulture, $"{time:D20}-{Environment.ProcessId:D7}-{++_sequence:D6}");
            _segmentPath = Path.Combine(_options.Folder, name + OpenExtension);

            // The folder may have been moved or deleted while serving (the failure that brought us here, if any, was
            // counted): it is made again, durably, as at start, rather than failing every write until an operator does.
            if (!Directory.Exists(_options.Folder))
            {
                DurableFile.CreateDirectory(_options.Folder);
            }

            // Unbuffered: the writer hands over a tick's records at once, so a buffer here would only copy them again.
            // FileShare.None holds an exclusive lock (flock) while the segment is open, which the OS drops when the process
            // dies: whoever can take it knows the segment was left by a crash (see CloseLeftovers), whatever its pid.
            _segment = new FileStream(_segmentPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
            _segmentOpened = Stopwatch.GetTimestamp();
            _writebackFrom = 0;
        }

        _segment.Write(bytes); // straight to the OS, so readers see whole lines; CloseSegment makes it durable
        var written = _segment.Position;
        if (written - _writebackFrom >= WritebackBytes)
        {
            StartWriteback(_writebackFrom, written - _writebackFrom);
            _writebackFrom = written;
        }
    }

    /// <summary>Starts writing a range of the segment to disk (a hint: the fsync at close makes it durable).</summary>
    private void StartWriteback(long offset, long count)
    {
        if (DurableFile.StartWriteback(_segment!.SafeFileHandle, offset, count) is { } result)
        {
            _options.WritebackStarted?.Invoke(offset, count, result);
        }
    }

    /// <summary>Closes the segment when it is full or old, or when a flush asks for whole segments.</summary>
    protected override void AfterDrain(bool flushRequested)
    {
        // NOTE: the position is where the next write goes (the segment is only appended to), kept by the stream: its
        // length would be asked of the OS on every tick.
        if (_segment is not null && (flushRequested || _segment.Position >= _options.MaxSegmentBytes
            || Stopwatch.GetElapsedTime(_segmentOpened) >= _options.MaxSegmentAge))
        {
            CloseSegment();
        }

        // A replica sharing the folder may have crashed since start: its leftovers are looked for once a segment age.
        if (Stopwatch.GetElapsedTime(_leftoversChecked) >= _options.MaxSegmentAge)
        {
            _leftoversChecked = Stopwatch.GetTimestamp();
            CloseLeftovers();
        }
    }

    /// <summary>A failed write: try a fresh segment next time.</summary>
    protected override void OnFailure() => TryAbandonSegment();

    /// <summary>The writer stops: the open segment is closed.</summary>
    protected override void Complete() => CloseSegment();

    /// <summary>Makes the open segment durable and gives it its closed name, so readers see only whole segments.</summary>
    private void CloseSegment()
    {
        if (_segment is null || _segmentPath is null)
        {
            return;
        }

        _segment.Flush(flushToDisk: true);
        _segment.Dispose();
        _segment = null;
        File.Move(_segmentPath, ClosedName(_segmentPath));
        DurableFile.FsyncDirectory(_options.Folder);
        _segmentPath = null;
        _cleaner.Signal(); // one more closed segment: the folder may be over its cap
    }

    /// <summary>Closes the segment if it can, else lets go of it (its lock too, so it is closed later as a leftover); never throws.</summary>
    private void TryAbandonSegment()
    {
        try
        {
            CloseSegment();
        }
#pragma warning disable CA1031 // called from the writer's failure path, which must not throw: the next write opens a new segment
        catch (Exception)
#pragma warning restore CA1031
        {
            try
            {
                _segment?.Dispose();
            }
#pragma warning disable CA1031 // the handle is let go either way
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        _segment = null;
        _segmentPath = null;
    }

    /// <summary>
    /// Closes the segments left open by a crash (this process's before it, or a replica's sharing the folder) as they are:
    /// a reader skips a torn last line. A segment counts as left when its writer's lock can be taken; a live writer's,
    /// this one's included, cannot. Never throws: a leftover it cannot close now is tried again on a later tick.
    /// </summary>
    private void CloseLeftovers()
    {
        var closed = false;
        try
        {
            foreach (var path in Directory.EnumerateFiles(_options.Folder, "*" + OpenExtension))
            {
                closed |= path != _segmentPath && TryCloseLeftover(path);
            }

            if (closed)
            {
                DurableFile.FsyncDirectory(_options.Folder);
                _cleaner.Signal(); // more closed segments: the folder may be over its cap
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The folder could not be listed or synced: the next look tries again.
        }
    }

    /// <summary>Closes one segment if its writer is gone; false when it is alive, or another process closed it first.</summary>
    private bool TryCloseLeftover(string path)
    {
        try
        {
            if (LocksDisabled)
            {
                if (File.GetLastWriteTimeUtc(path) >= DateTime.UtcNow - (5 * _options.MaxSegmentAge))
                {
                    return false;
                }
            }
            else
            {
                // The lock is let go before the rename, so no reader of the closed name ever finds it locked.
                using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
                file.Flush(flushToDisk: true); // what the dead writer handed the OS, made durable before the name says closed
            }

            File.Move(path, ClosedName(path), overwrite: false);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // locked by its live writer, or renamed by another process since the listing
        }
    }

    private static string ClosedName(string openPath) => openPath[..^OpenExtension.Length] + SegmentExtension;
}
