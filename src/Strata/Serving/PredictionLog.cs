using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
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

    /// <summary>How often the writer wakes to write what is queued.</summary>
    public TimeSpan WriteInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Test hook: awaited before the writer drains the queue (a writer that falls behind).</summary>
    internal Func<Task>? BeforeWrite { get; init; }
}

/// <summary>One prediction waiting to be written: the request's inputs, the answer and how long it took.</summary>
internal sealed record PendingPrediction(
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
/// request id) goes through a bounded channel to one writer task that appends JSON lines to rolling segment files.
/// A request only ever calls <see cref="TryWrite"/>, which never blocks: when the channel is full the prediction is
/// dropped and counted. The format is in docs/serving.md; <see cref="PredictionLogReader"/> reads it back.
/// </summary>
internal sealed class PredictionLog : IAsyncDisposable
{
    /// <summary>The extension of a closed segment.</summary>
    public const string SegmentExtension = ".jsonl";

    /// <summary>The extension of the segment being written (readers skip it; start-up closes one left by a crash).</summary>
    public const string OpenExtension = ".jsonl.open";

    /// <summary>The format version written in every line's <c>v</c>.</summary>
    public const int FormatVersion = 1;

    /// <summary>What a masked value reads as.</summary>
    public const string Mask = "***";

    private readonly PredictionLogOptions _options;
    private readonly Channel<PendingPrediction> _channel;
    private readonly Counter.Child _written;
    private readonly Counter.Child _dropped;
    private readonly Counter.Child _failures;
    private readonly Task _writer;
    private const int MaxBuffered = 256 * 1024;
    private const int YieldEvery = 32;
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _json;
    private const int MaxEncoded = 4096;
    private readonly Dictionary<string, JsonEncodedText> _encoded = new(StringComparer.Ordinal);
    private FileStream? _segment;
    private string? _segmentPath;
    private long _segmentOpened;
    private long _sequence;
    private int _rollRequests;
    private int _rollsDone;

    public PredictionLog(PredictionLogOptions options, MetricRegistry metrics)
    {
        _options = options;
        _json = new Utf8JsonWriter(_buffer);
        Directory.CreateDirectory(options.Folder);
        CloseLeftovers();
        _channel = Channel.CreateBounded<PendingPrediction>(new BoundedChannelOptions(options.Capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once, which is how a full log is noticed
        });
        _written = metrics.CreateCounter("strata_serving_predictions_logged_total", "Predictions written to the prediction log.").Unlabelled;
        _dropped = metrics.CreateCounter("strata_serving_predictions_log_dropped_total", "Predictions not logged because the log's queue was full.").Unlabelled;
        _failures = metrics.CreateCounter("strata_serving_prediction_log_failures_total", "Prediction log writes that failed (disk full, permissions).").Unlabelled;
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Predictions dropped so far because the queue was full.</summary>
    public double Dropped => _dropped.Value;

    /// <summary>Predictions written so far.</summary>
    public double Written => _written.Value;

    /// <summary>Queues a prediction; never blocks. False (and counted) when the queue is full.</summary>
    public bool TryWrite(PendingPrediction prediction)
    {
        if (_channel.Writer.TryWrite(prediction))
        {
            return true;
        }

        _dropped.Inc();
        return false;
    }

    /// <summary>Whether a request is sampled: decided by its id's hash, so every replica decides alike.</summary>
    public static bool Sampled(string requestId, double rate)
    {
        if (rate >= 1)
        {
            return true;
        }

        if (rate <= 0)
        {
            return false;
        }

        var hash = 2166136261u;
        foreach (var c in requestId)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash / (double)uint.MaxValue < rate;
    }

    /// <summary>Writes what is queued, closes the open segment and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        await _json.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Waits until everything queued so far is written and the open segment is closed (tests, shutdown).</summary>
    internal async Task FlushAsync(CancellationToken cancellationToken)
    {
        var wanted = Interlocked.Increment(ref _rollRequests);
        while (Volatile.Read(ref _rollsDone) < wanted && !_writer.IsCompleted)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteLoopAsync()
    {
        // NOTE: the writer wakes on a steady tick, never per prediction: waking (and writing) for each of tens of
        // thousands of predictions a second cost more CPU than answering them. A tick's worth of predictions waits in
        // the channel, far below its capacity at any rate the server reaches.
        var reader = _channel.Reader;
        using var tick = new PeriodicTimer(_options.WriteInterval);
        while (true)
        {
            if (_options.BeforeWrite is { } hook)
            {
                await hook().ConfigureAwait(false);
            }

            // Read before draining: everything queued before a flush request is then written before it is answered.
            var rolls = Volatile.Read(ref _rollRequests);
            try
            {
                var sinceYield = 0;
                while (reader.TryRead(out var prediction))
                {
                    Append(prediction);
                    _written.Inc();
                    if (++sinceYield == YieldEvery)
                    {
                        // A tick's backlog of wide rows is milliseconds of CPU on one of few cores: let queued requests
                        // run in between rather than wait behind it (this was the enriched endpoint's p99).
                        sinceYield = 0;
                        await Task.Yield();
                    }

                    if (_buffer.WrittenCount >= MaxBuffered)
                    {
                        await FlushBufferAsync().ConfigureAwait(false);
                    }
                }

                await FlushBufferAsync().ConfigureAwait(false);
                if (_segment is not null && (rolls > _rollsDone || _segment.Length >= _options.MaxSegmentBytes
                    || Stopwatch.GetElapsedTime(_segmentOpened) >= _options.MaxSegmentAge))
                {
                    CloseSegment();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A full disk must not stop serving: count it, drop the buffered lines, try a fresh segment next time.
                _failures.Inc();
                _buffer.Clear();
                TryAbandonSegment();
            }

            Volatile.Write(ref _rollsDone, rolls);
            if (reader.Completion.IsCompleted)
            {
                break;
            }

            await tick.WaitForNextTickAsync().ConfigureAwait(false);
        }

        try
        {
            await FlushBufferAsync().ConfigureAwait(false);
            CloseSegment();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _failures.Inc();
        }

        Volatile.Write(ref _rollsDone, int.MaxValue);
    }

    private void Append(PendingPrediction p)
    {
        var json = _json;
        var output = p.Output;
        json.Reset(_buffer);
        json.WriteStartObject();
        json.WriteNumber(Names.V, FormatVersion);
        json.WriteNumber(Names.Time, p.Time);
        json.WriteString(Names.RequestId, p.RequestId);
        json.WriteString(Names.Endpoint, Encoded(p.Endpoint));
        json.WriteString(Names.Project, Encoded(p.Project));
        json.WriteString(Names.Model, Encoded(output.Model));
        json.WriteNumber(Names.Version, output.Version);
        json.WriteString(Names.Role, Encoded(output.Role));
        json.WriteNumber(Names.LatencyMs, Math.Round(p.LatencyMs, 4));
        json.WriteStartArray(Names.Rows);
        var classes = output.ClassLabels?.Count ?? 0;
        for (var r = 0; r < output.Rows; r++)
        {
            json.WriteStartObject();
            json.WriteStartObject(Names.Inputs);
            var anyMasked = p.Masked.Count > 0;
            foreach (var (name, column) in p.Input.Fields)
            {
                var field = Encoded(name);
                if (anyMasked && p.Masked.Contains(name))
                {
                    json.WriteString(field, Names.Mask);
                    continue;
                }

                switch (column.Kind)
                {
                    case InputKind.Number when !double.IsNaN(column.Numbers![r]):
                        WriteNumber(json, field, column.Numbers[r]);
                        break;
                    case InputKind.Text when column.Texts![r] is { } text:
                        json.WriteString(field, text);
                        break;
                    default:
                        json.WriteNull(field);
                        break;
                }
            }

            json.WriteEndObject();
            if (output.Labels is { } labels)
            {
                json.WriteString(Names.Label, Encoded(labels[r]));
                json.WriteStartArray(Names.Probabilities);
                for (var c = 0; c < classes; c++)
                {
                    json.WriteNumberValue(output.Probabilities![(r * classes) + c]);
                }

                json.WriteEndArray();
            }
            else if (output.Values is { } values)
            {
                json.WriteNumber(Names.Value, values[r]);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (output.ClassLabels is { } labelNames)
        {
            json.WriteStartArray(Names.Classes);
            foreach (var label in labelNames)
            {
                json.WriteStringValue(Encoded(label));
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
        json.Flush();

        _buffer.Write("\n"u8);
    }

    /// <summary>
    /// Writes a number as <see cref="Utf8JsonWriter.WriteNumber(JsonEncodedText, double)"/> does, whole numbers through
    /// the integer formatter: most inputs are codes and counts, and the shortest round-trip search was the writer's
    /// largest cost. Same text either way ("258", never "258.0"); -0 and values from 1e15 up keep the double's form.
    /// </summary>
    internal static void WriteNumber(Utf8JsonWriter json, JsonEncodedText field, double value)
    {
        if (Math.Abs(value) < 1e15 && value == Math.Truncate(value) && !(value == 0 && double.IsNegative(value)))
        {
            json.WriteNumber(field, (long)value);
        }
        else
        {
            json.WriteNumber(field, value);
        }
    }

    /// <summary>
    /// A field name or a repeated value (endpoint, model, class label) escaped once and kept: escaping and transcoding
    /// them again for every record was a third of the writer's time. Only the writer task calls it; bounded, since
    /// callers choose field names.
    /// </summary>
    private JsonEncodedText Encoded(string text)
    {
        if (_encoded.TryGetValue(text, out var known))
        {
            return known;
        }

        var encoded = JsonEncodedText.Encode(text);
        if (_encoded.Count < MaxEncoded)
        {
            _encoded[text] = encoded;
        }

        return encoded;
    }

    /// <summary>The log's own property names, escaped once.</summary>
    private static class Names
    {
        public static readonly JsonEncodedText V = JsonEncodedText.Encode("v");
        public static readonly JsonEncodedText Time = JsonEncodedText.Encode("time");
        public static readonly JsonEncodedText RequestId = JsonEncodedText.Encode("request_id");
        public static readonly JsonEncodedText Endpoint = JsonEncodedText.Encode("endpoint");
        public static readonly JsonEncodedText Project = JsonEncodedText.Encode("project");
        public static readonly JsonEncodedText Model = JsonEncodedText.Encode("model");
        public static readonly JsonEncodedText Version = JsonEncodedText.Encode("version");
        public static readonly JsonEncodedText Role = JsonEncodedText.Encode("role");
        public static readonly JsonEncodedText LatencyMs = JsonEncodedText.Encode("latency_ms");
        public static readonly JsonEncodedText Rows = JsonEncodedText.Encode("rows");
        public static readonly JsonEncodedText Inputs = JsonEncodedText.Encode("inputs");
        public static readonly JsonEncodedText Label = JsonEncodedText.Encode("label");
        public static readonly JsonEncodedText Probabilities = JsonEncodedText.Encode("probabilities");
        public static readonly JsonEncodedText Value = JsonEncodedText.Encode("value");
        public static readonly JsonEncodedText Classes = JsonEncodedText.Encode("classes");
        public static readonly JsonEncodedText Mask = JsonEncodedText.Encode(PredictionLog.Mask);
    }

    private async Task FlushBufferAsync()
    {
        if (_buffer.WrittenCount == 0)
        {
            return;
        }

        if (_segment is null)
        {
            var time = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
            // The process id keeps replicas that share a home (a shared volume) from choosing the same name.
            var name = string.Create(CultureInfo.InvariantCulture, $"{time:D20}-{Environment.ProcessId:D7}-{++_sequence:D6}");
            _segmentPath = Path.Combine(_options.Folder, name + OpenExtension);
            _segment = new FileStream(_segmentPath, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            _segmentOpened = Stopwatch.GetTimestamp();
        }

        await _segment.WriteAsync(_buffer.WrittenMemory).ConfigureAwait(false);
        await _segment.FlushAsync().ConfigureAwait(false);
        _buffer.Clear();
    }

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
    }

    private void TryAbandonSegment()
    {
        try
        {
            CloseSegment();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _segment?.Dispose();
            _segment = null;
            _segmentPath = null;
        }
    }

    /// <summary>
    /// A segment left open by a crash is closed as it is (a reader skips a torn last line). Only segments untouched for
    /// five times the segment age count as left: a replica sharing the folder closes its own within that age.
    /// </summary>
    private void CloseLeftovers()
    {
        var abandoned = DateTime.UtcNow - (5 * _options.MaxSegmentAge);
        foreach (var path in Directory.EnumerateFiles(_options.Folder, "*" + OpenExtension))
        {
            if (File.GetLastWriteTimeUtc(path) < abandoned)
            {
                File.Move(path, ClosedName(path), overwrite: false);
            }
        }
    }

    private static string ClosedName(string openPath) => openPath[..^OpenExtension.Length] + SegmentExtension;
}
