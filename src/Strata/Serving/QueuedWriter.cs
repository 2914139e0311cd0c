using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Strata.Serving.Metrics;

namespace Strata.Serving;

/// <summary>What a <see cref="QueuedWriter{T}"/> queues and how often it writes.</summary>
public sealed record QueuedWriterOptions
{
    /// <summary>Items waiting to be written; beyond it new ones are dropped and counted.</summary>
    public int Capacity { get; init; } = 16_384;

    /// <summary>How often the writer wakes to write what is queued.</summary>
    public TimeSpan WriteInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Test hook: waited for before the writer drains the queue (a writer that falls behind).</summary>
    public Func<Task>? BeforeWrite { get; init; }

    /// <summary>
    /// How much the writer's thread steps back for requests (a Linux nice value, 0 to 19): its bursts of encoding then
    /// wait for a free core instead of delaying the requests queued behind them.
    /// </summary>
    public int Niceness { get; init; } = 5;
}

/// <summary>The counters of a <see cref="QueuedWriter{T}"/>: items written, dropped because the queue was full, and write failures.</summary>
public sealed record QueuedWriterCounters(Counter.Child Written, Counter.Child Dropped, Counter.Child Failures);

/// <summary>
/// Writes records off the request path: a request only calls <see cref="TryWrite"/>, which queues the record in a
/// bounded queue and never blocks (when the queue is full the record is dropped and counted); one background thread
/// of lower scheduling priority encodes what is queued into a byte buffer and hands it to the sink. The prediction log
/// (segment files) and the server's access log (standard output) both write this way.
/// </summary>
/// <typeparam name="T">A queued record (a struct queues without allocating).</typeparam>
public abstract class QueuedWriter<T> : IAsyncDisposable
{
    private const int MaxBuffered = 256 * 1024;
    private readonly QueuedWriterOptions _options;
    private readonly QueuedWriterCounters _counters;
    // NOTE: a lock-free queue with a counted bound rather than a bounded channel: the channel takes a lock on every write,
    // and at tens of thousands of requests a second that lock (shared with the draining writer) was 1% of the server's CPU.
    // The count holds the records queued (claimed slots); disposing adds Closed to it, which refuses every later write
    // and still tells the writer how many accepted records are yet to come.
    private const int Closed = 1 << 30;
    private readonly ConcurrentQueue<T> _queue = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _count;
    private int _disposed;
    private bool _started;
    private int _flushRequests;
    private int _flushesDone;

    /// <summary>Creates the queue; the subclass calls <see cref="Start"/> once it is ready to write.</summary>
    protected QueuedWriter(QueuedWriterOptions options, QueuedWriterCounters counters)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Capacity);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Capacity, Closed / 2);
        _counters = counters;
    }

    /// <summary>Records dropped so far because the queue was full.</summary>
    public double Dropped => _counters.Dropped.Value;

    /// <summary>Records written so far.</summary>
    public double Written => _counters.Written.Value;

    /// <summary>Records queued and not yet taken by the writer.</summary>
    public int Queued => Volatile.Read(ref _count) % Closed;

    /// <summary>Where <see cref="Append"/> encodes records; the writer hands it to <see cref="Write"/> and clears it.</summary>
    protected ArrayBufferWriter<byte> Buffer { get; } = new(64 * 1024);

    /// <summary>Queues a record; never blocks. False (and counted) when the queue is full, or the writer is disposed.</summary>
    public bool TryWrite(T record)
    {
        // The slot is claimed before the record is queued, so the queue never holds more than the capacity.
        if (Interlocked.Increment(ref _count) <= _options.Capacity)
        {
            _queue.Enqueue(record);
            return true;
        }

        Interlocked.Decrement(ref _count);
        _counters.Dropped.Inc();
        return false;
    }

    /// <summary>Writes what is queued, lets the sink finish (<see cref="Complete"/>) and stops.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Interlocked.Add(ref _count, Closed);
        }

        if (_started)
        {
            await _stopped.Task.ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Waits until everything queued so far is written and the sink has been told (<see cref="AfterDrain"/> with
    /// <c>flushRequested</c>) — tests and shutdown.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var wanted = Interlocked.Increment(ref _flushRequests);
        while (Volatile.Read(ref _flushesDone) < wanted && !_stopped.Task.IsCompleted)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts the background writer (from the subclass's constructor, once its own state is set).</summary>
    protected void Start()
    {
        _started = true;
        new Thread(WriteLoop) { IsBackground = true, Name = "Strata " + GetType().Name }.Start();
    }

    /// <summary>Encodes one record into <see cref="Buffer"/>.</summary>
    protected abstract void Append(T record);

    /// <summary>Writes encoded records (whole records only) to the sink, synchronously: the writer has its own thread.</summary>
    protected abstract void Write(ReadOnlySpan<byte> bytes);

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

    private void WriteLoop()
    {
        // NOTE: a thread Linux starts inherits its creator's nice value, and the thread pool starts workers on the
        // thread that queues work when none is idle: so this thread queues no work while it runs (synchronous writes,
        // a sleep between drains), and no pool worker is born at its lower priority.
        try
        {
            WriterThread.LowerPriority(_options.Niceness);
            Drain();
            _stopped.TrySetResult();
        }
#pragma warning disable CA1031 // a fault in the writer's own thread would end the process: it ends the writer instead, and disposing reports it
        catch (Exception e)
#pragma warning restore CA1031
        {
            _stopped.TrySetException(e);
        }
    }

    private void Drain()
    {
        // NOTE: the writer wakes on a steady tick, never per record: waking (and writing) for each of tens of thousands
        // of records a second cost more CPU than answering the requests. A tick's worth of records waits in the queue,
        // far below its capacity at any rate the server reaches. Its own thread (rather than a timer and the thread pool)
        // spares a wake-up of the timer thread and of a pool thread per tick, and can run at a lower priority.
        while (true)
        {
            if (_options.BeforeWrite is { } hook)
            {
                hook().GetAwaiter().GetResult(); // a test hook; waiting blocks only this writer's own thread
            }

            // Read before draining: everything queued before a flush request is then written before it is answered.
            var flushes = Volatile.Read(ref _flushRequests);
            var closed = Volatile.Read(ref _count) >= Closed / 2;
            try
            {
                while (_queue.TryDequeue(out var record))
                {
                    Interlocked.Decrement(ref _count);
                    Append(record);
                    _counters.Written.Inc();
                    if (Buffer.WrittenCount >= MaxBuffered)
                    {
                        FlushBuffer();
                    }
                }

                FlushBuffer();
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
            if (closed && Volatile.Read(ref _count) == Closed)
            {
                break; // disposed, and every record accepted before it is written
            }

            Thread.Sleep(closed ? TimeSpan.FromMilliseconds(1) : _options.WriteInterval);
        }

        try
        {
            FlushBuffer();
            Complete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _counters.Failures.Inc();
        }

        Volatile.Write(ref _flushesDone, int.MaxValue);
    }

    private void FlushBuffer()
    {
        if (Buffer.WrittenCount == 0)
        {
            return;
        }

        Write(Buffer.WrittenSpan);
        Buffer.Clear();
    }
}

/// <summary>The writer threads' scheduling priority (P/Invoke cannot live in the generic writer).</summary>
internal static partial class WriterThread
{
    /// <summary>Sets the calling thread's nice value (on Linux a thread's own); elsewhere, or when refused, nothing changes.</summary>
    public static void LowerPriority(int niceness)
    {
        if (niceness > 0 && OperatingSystem.IsLinux())
        {
            _ = SetPriority(0, 0, Math.Min(niceness, 19)); // PRIO_PROCESS of "0", which Linux applies to this thread alone
        }
    }

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);
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
