using System.Buffers;
using System.Threading.Channels;
using Strata.Serving.Metrics;

namespace Strata.Serving;

/// <summary>What a <see cref="QueuedWriter{T}"/> queues and how often it writes.</summary>
public sealed record QueuedWriterOptions
{
    /// <summary>Items waiting to be written; beyond it new ones are dropped and counted.</summary>
    public int Capacity { get; init; } = 16_384;

    /// <summary>How often the writer wakes to write what is queued.</summary>
    public TimeSpan WriteInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Test hook: awaited before the writer drains the queue (a writer that falls behind).</summary>
    public Func<Task>? BeforeWrite { get; init; }
}

/// <summary>The counters of a <see cref="QueuedWriter{T}"/>: items written, dropped because the queue was full, and write failures.</summary>
public sealed record QueuedWriterCounters(Counter.Child Written, Counter.Child Dropped, Counter.Child Failures);

/// <summary>
/// Writes records off the request path: a request only calls <see cref="TryWrite"/>, which queues the record in a
/// bounded channel and never blocks (when the channel is full the record is dropped and counted); one background task
/// encodes what is queued into a byte buffer and hands it to the sink. The prediction log (segment files) and the
/// server's access log (standard output) both write this way.
/// </summary>
/// <typeparam name="T">A queued record (a struct queues without allocating).</typeparam>
public abstract class QueuedWriter<T> : IAsyncDisposable
{
    private const int MaxBuffered = 256 * 1024;
    private const int YieldEvery = 32;
    private readonly QueuedWriterOptions _options;
    private readonly QueuedWriterCounters _counters;
    private readonly Channel<T> _channel;
    private Task _writer = Task.CompletedTask;
    private int _flushRequests;
    private int _flushesDone;

    /// <summary>Creates the queue; the subclass calls <see cref="Start"/> once it is ready to write.</summary>
    protected QueuedWriter(QueuedWriterOptions options, QueuedWriterCounters counters)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _counters = counters;
        _channel = Channel.CreateBounded<T>(new BoundedChannelOptions(options.Capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once, which is how a full queue is noticed
        });
    }

    /// <summary>Records dropped so far because the queue was full.</summary>
    public double Dropped => _counters.Dropped.Value;

    /// <summary>Records written so far.</summary>
    public double Written => _counters.Written.Value;

    /// <summary>Records queued and not yet taken by the writer.</summary>
    public int Queued => _channel.Reader.Count;

    /// <summary>Where <see cref="Append"/> encodes records; the writer hands it to <see cref="WriteAsync"/> and clears it.</summary>
    protected ArrayBufferWriter<byte> Buffer { get; } = new(64 * 1024);

    /// <summary>Queues a record; never blocks. False (and counted) when the queue is full.</summary>
    public bool TryWrite(T record)
    {
        if (_channel.Writer.TryWrite(record))
        {
            return true;
        }

        _counters.Dropped.Inc();
        return false;
    }

    /// <summary>Writes what is queued, lets the sink finish (<see cref="Complete"/>) and stops.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Waits until everything queued so far is written and the sink has been told (<see cref="AfterDrain"/> with
    /// <c>flushRequested</c>) — tests and shutdown.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var wanted = Interlocked.Increment(ref _flushRequests);
        while (Volatile.Read(ref _flushesDone) < wanted && !_writer.IsCompleted)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts the background writer (from the subclass's constructor, once its own state is set).</summary>
    protected void Start() => _writer = Task.Run(WriteLoopAsync);

    /// <summary>Encodes one record into <see cref="Buffer"/>.</summary>
    protected abstract void Append(T record);

    /// <summary>Writes encoded records (whole records only) to the sink.</summary>
    protected abstract ValueTask WriteAsync(ReadOnlyMemory<byte> bytes);

    /// <summary>After each drain, once the buffer is written: a chance to roll a file, and to make it whole when a flush was asked for.</summary>
    protected virtual void AfterDrain(bool flushRequested)
    {
    }

    /// <summary>A write failed (it was counted and its buffered records dropped): e.g. abandon the open file.</summary>
    protected virtual void OnFailure()
    {
    }

    /// <summary>After the last write, when the writer stops.</summary>
    protected virtual void Complete()
    {
    }

    private async Task WriteLoopAsync()
    {
        // NOTE: the writer wakes on a steady tick, never per record: waking (and writing) for each of tens of thousands
        // of records a second cost more CPU than answering the requests. A tick's worth of records waits in the channel,
        // far below its capacity at any rate the server reaches.
        var reader = _channel.Reader;
        using var tick = new PeriodicTimer(_options.WriteInterval);
        while (true)
        {
            if (_options.BeforeWrite is { } hook)
            {
                await hook().ConfigureAwait(false);
            }

            // Read before draining: everything queued before a flush request is then written before it is answered.
            var flushes = Volatile.Read(ref _flushRequests);
            try
            {
                var sinceYield = 0;
                while (reader.TryRead(out var record))
                {
                    Append(record);
                    _counters.Written.Inc();
                    if (++sinceYield == YieldEvery)
                    {
                        // A tick's backlog of wide rows is milliseconds of CPU on one of few cores: let queued requests
                        // run in between rather than wait behind it (this was the enriched endpoint's p99).
                        sinceYield = 0;
                        await Task.Yield();
                    }

                    if (Buffer.WrittenCount >= MaxBuffered)
                    {
                        await FlushBufferAsync().ConfigureAwait(false);
                    }
                }

                await FlushBufferAsync().ConfigureAwait(false);
                AfterDrain(flushes > _flushesDone);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A full disk (or a closed output) must not stop serving: count it, drop the buffered records, go on.
                _counters.Failures.Inc();
                Buffer.Clear();
                OnFailure();
            }

            Volatile.Write(ref _flushesDone, flushes);
            if (reader.Completion.IsCompleted)
            {
                break;
            }

            await tick.WaitForNextTickAsync().ConfigureAwait(false);
        }

        try
        {
            await FlushBufferAsync().ConfigureAwait(false);
            Complete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _counters.Failures.Inc();
        }

        Volatile.Write(ref _flushesDone, int.MaxValue);
    }

    private async Task FlushBufferAsync()
    {
        if (Buffer.WrittenCount == 0)
        {
            return;
        }

        await WriteAsync(Buffer.WrittenMemory).ConfigureAwait(false);
        Buffer.Clear();
    }
}

/// <summary>Which requests a sampled log keeps.</summary>
public static class LogSampling
{
    /// <summary>Whether a request is sampled: decided by its id's hash, so every replica (and every log) decides alike.</summary>
    public static bool Sampled(string requestId, double rate)
    {
        ArgumentNullException.ThrowIfNull(requestId);
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
}
