using System.Buffers;
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

/// <summary>
/// The counters of a <see cref="QueuedWriter{T}"/>, each in records, so together they count every record offered: written,
/// dropped because the queue was full, and lost to a failure (one that could not be encoded, or whose write failed).
/// </summary>
public sealed record QueuedWriterCounters(Counter.Child Written, Counter.Child Dropped, Counter.Child Failures);

/// <summary>
/// Writes records off the request path. A request calls <see cref="TryWrite"/>, which encodes the record on the
/// request's own thread (its data is still in that core's cache) into that thread's buffer and never waits: beyond the
/// capacity the record is dropped and counted. One background thread of lower scheduling priority takes the threads'
/// buffers on a steady tick and hands the bytes to the sink. The prediction log (segment files) and the server's
/// access log (standard output) both write this way. Lines of different threads may reach the sink out of time order.
/// </summary>
/// <typeparam name="T">A record (a struct passes without allocating).</typeparam>
public abstract class QueuedWriter<T> : IAsyncDisposable
{
    private const int MaxBuffered = 256 * 1024;

    // A thread's scratch buffer larger than this (one huge record) is let go once used rather than kept for the next records.
    private const int MaxKeptBuffer = 1 << 20;

    // NOTE: queued bytes live in chunks of this size, under the 85,000 bytes from which the runtime puts an array in the
    // large object heap: a thread's buffer that grew by doubling (and was dropped once over a MiB, when the writer fell
    // behind) allocated 6 MB a second there at full load, and each such megabyte set off a full (gen-2) collection.
    internal const int ChunkBytes = 64 * 1024;

    // Chunks kept for reuse once written (4 MiB); beyond it a written chunk is left to the collector.
    private const int MaxPooledChunks = 64;

    // The count holds the records accepted and not yet taken by the writer; disposing adds Closed to it, which refuses
    // every later write and still tells the writer how many accepted records are yet to come.
    private const int Closed = 1 << 30;
    private readonly QueuedWriterOptions _options;
    private readonly QueuedWriterCounters _counters;
    private readonly ThreadLocal<Shard> _shards;
    private readonly List<Shard> _all = [];
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
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Capacity);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Capacity, Closed / 2);
        _options = options;
        _counters = counters;
        _shards = new ThreadLocal<Shard>(NewShard);
    }

    /// <summary>Records dropped so far because the queue was full.</summary>
    public double Dropped => _counters.Dropped.Value;

    /// <summary>Records written so far.</summary>
    public double Written => _counters.Written.Value;

    /// <summary>Records accepted and not yet taken by the writer.</summary>
    public int Queued => Volatile.Read(ref _count) % Closed;

    /// <summary>Where the writer gathers the threads' records before it hands them to <see cref="Write"/>; never grows.</summary>
    private readonly byte[] _gather = new byte[MaxBuffered];
    private int _gathered;
    private int _gatheredRecords;

    // Records of the current drain handed to the sink.
    private int _written;

    // Written chunks, for the requests' threads to fill again (at most MaxPooledChunks of them).
    private readonly System.Collections.Concurrent.ConcurrentQueue<byte[]> _pool = new();
    private int _pooled;

    /// <summary>
    /// Encodes a record on the calling thread and queues its bytes; never waits. False (and counted) when the queue is
    /// full, or the writer is disposed; false (and counted as a failure) when the record cannot be encoded.
    /// </summary>
    public bool TryWrite(T record)
    {
        // The slot is claimed before the record is queued, so the queue never holds more than the capacity.
        if (Interlocked.Increment(ref _count) > _options.Capacity)
        {
            Interlocked.Decrement(ref _count);
            _counters.Dropped.Inc();
            return false;
        }

        var shard = _shards.Value!;
        var scratch = shard.Scratch;
        scratch.ResetWrittenCount();
        var encoded = false;
        try
        {
            shard.Encoder.Append(record, scratch);
            encoded = true;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            _counters.Failures.Inc();
            return false;
        }
        finally
        {
            if (!encoded)
            {
                Interlocked.Decrement(ref _count); // any failure gives the slot back, or disposing would wait for it forever
            }
        }

        // NOTE: the writer holds this lock only to swap the buffer for an empty one, so a request never waits on a write.
        lock (shard)
        {
            var bytes = scratch.WrittenSpan;
            var chunks = CollectionsMarshal.AsSpan(shard.Chunks);
            if (chunks.Length == 0 || chunks[^1].Bytes.Length - chunks[^1].Length < bytes.Length)
            {
                shard.Chunks.Add(new Chunk(bytes.Length <= ChunkBytes ? Rent() : new byte[bytes.Length]));
                chunks = CollectionsMarshal.AsSpan(shard.Chunks);
            }

            ref var last = ref chunks[^1];
            bytes.CopyTo(last.Bytes.AsSpan(last.Length));
            last.Length += bytes.Length;
            last.Records++;
            shard.Records++;
        }

        if (scratch.Capacity > MaxKeptBuffer)
        {
            shard.Scratch = new ArrayBufferWriter<byte>(1024);
        }

        return true;
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

        if (Volatile.Read(ref _count) == Closed)
        {
            _shards.Dispose(); // no accepted record is still on its way in, and every later one is refused
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

    /// <summary>A new encoder, for one thread: it may keep state between that thread's records (and needs no locks).</summary>
    protected abstract RecordEncoder CreateEncoder();

    /// <summary>Writes encoded records (whole records only) to the sink, synchronously: the writer has its own thread.</summary>
    protected abstract void Write(ReadOnlySpan<byte> bytes);

    /// <summary>After each drain, once the buffer is written: a chance to roll a file, and to make it whole when a flush was asked for.</summary>
    protected virtual void AfterDrain(bool flushRequested)
    {
    }

    /// <summary>A write failed (its records were counted and dropped): e.g. abandon the open file. Must not throw.</summary>
    protected virtual void OnFailure()
    {
    }

    /// <summary>After the last write, when the writer stops.</summary>
    protected virtual void Complete()
    {
    }

    /// <summary>Encodes records into bytes; one per writing thread, so it is never called from two threads at once.</summary>
    protected abstract class RecordEncoder
    {
        /// <summary>Encodes one record (a whole line) into <paramref name="buffer"/>.</summary>
        public abstract void Append(T record, ArrayBufferWriter<byte> buffer);
    }

    private Shard NewShard()
    {
        var shard = new Shard(CreateEncoder(), Thread.CurrentThread);
        lock (_all)
        {
            _all.Add(shard);
        }

        return shard;
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
        // of records a second cost more CPU than answering the requests. A tick's worth of records waits in the threads'
        // buffers, far below the capacity at any rate the server reaches. Its own thread (rather than a timer and the
        // thread pool) spares a wake-up of the timer thread and of a pool thread per tick, and can run at a lower priority.
        var shards = new List<Shard>();
        while (true)
        {
            if (_options.BeforeWrite is { } hook)
            {
                hook().GetAwaiter().GetResult(); // a test hook; waiting blocks only this writer's own thread
            }

            // Read before draining: everything queued before a flush request is then written before it is answered.
            var flushes = Volatile.Read(ref _flushRequests);
            var closed = Volatile.Read(ref _count) >= Closed / 2;
            shards.Clear();
            lock (_all)
            {
                shards.AddRange(_all);
            }

            // Records taken from the threads, and those of them the sink has accepted: a record counts as written only
            // once its bytes are handed over, and every other one taken as a failure.
            var taken = 0;
            _written = 0;
            try
            {
                foreach (var shard in shards)
                {
                    Take(shard, ref taken);
                }

                FlushGathered();
                AfterDrain(flushes > _flushesDone);
            }
#pragma warning disable CA1031 // a full disk, a folder gone or a closed output must not end the writer (nor serving): any failure drops this tick's unwritten records
            catch (Exception)
#pragma warning restore CA1031
            {
                _gathered = 0;
                _gatheredRecords = 0;
                OnFailure();
            }
            finally
            {
                var written = _written;
                _counters.Written.Inc(written);
                if (taken > written)
                {
                    _counters.Failures.Inc(taken - written);
                }

                Interlocked.Add(ref _count, -taken);
            }

            Forget(shards);
            Volatile.Write(ref _flushesDone, flushes);
            if (closed && Volatile.Read(ref _count) == Closed)
            {
                break; // disposed, and every record accepted before it is written
            }

            Thread.Sleep(closed ? TimeSpan.FromMilliseconds(1) : _options.WriteInterval);
        }

        // Every record was handed to the sink in the loop; what is left is to finish (close the file), which may fail
        // alone: the sink then lets go of what it holds.
        try
        {
            Complete();
        }
#pragma warning disable CA1031 // the writer ends either way; disposing must not fail for a file that could not be closed
        catch (Exception)
#pragma warning restore CA1031
        {
            OnFailure();
        }

        Volatile.Write(ref _flushesDone, int.MaxValue);
    }

    /// <summary>
    /// Takes a thread's records, swapping its chunks for none, and gathers them for the sink (writing whenever the
    /// gathering buffer is full); the chunks go back to the pool, written or not. Adds the records taken to
    /// <paramref name="taken"/> before any is written, so a failed write counts them all.
    /// </summary>
    private void Take(Shard shard, ref int taken)
    {
        List<Chunk> full;
        lock (shard)
        {
            if (shard.Records == 0)
            {
                return;
            }

            full = shard.Chunks;
            taken += shard.Records;
            shard.Chunks = shard.Spare ?? [];
            shard.Spare = null;
            shard.Records = 0;
        }

        try
        {
            foreach (var chunk in full)
            {
                Gather(chunk);
            }
        }
        finally
        {
            foreach (var chunk in full)
            {
                Return(chunk.Bytes);
            }

            full.Clear();
            lock (shard)
            {
                shard.Spare = full;
            }
        }
    }

    /// <summary>Copies a chunk's records into the gathering buffer, writing what it holds first when they do not fit.</summary>
    private void Gather(Chunk chunk)
    {
        if (_gathered + chunk.Length > _gather.Length)
        {
            FlushGathered();
        }

        if (chunk.Length > _gather.Length)
        {
            Write(chunk.Bytes.AsSpan(0, chunk.Length)); // one record larger than the buffer, on its own
            _written += chunk.Records;
            return;
        }

        chunk.Bytes.AsSpan(0, chunk.Length).CopyTo(_gather.AsSpan(_gathered));
        _gathered += chunk.Length;
        _gatheredRecords += chunk.Records;
    }

    private byte[] Rent()
    {
        if (_pool.TryDequeue(out var chunk))
        {
            Interlocked.Decrement(ref _pooled);
            return chunk;
        }

        return new byte[ChunkBytes];
    }

    private void Return(byte[] chunk)
    {
        if (chunk.Length != ChunkBytes)
        {
            return; // a record's own array, larger than a chunk
        }

        if (Interlocked.Increment(ref _pooled) <= MaxPooledChunks)
        {
            _pool.Enqueue(chunk);
        }
        else
        {
            Interlocked.Decrement(ref _pooled);
        }
    }

    /// <summary>Drops the buffers of threads that have ended (the thread pool retires idle threads) once they are written.</summary>
    private void Forget(List<Shard> shards)
    {
        foreach (var shard in shards)
        {
            if (!shard.Owner.IsAlive && Volatile.Read(ref shard.Records) == 0)
            {
                lock (_all)
                {
                    _all.Remove(shard);
                }
            }
        }
    }

    private void FlushGathered()
    {
        if (_gathered == 0)
        {
            return;
        }

        Write(_gather.AsSpan(0, _gathered));
        _written += _gatheredRecords;
        _gathered = 0;
        _gatheredRecords = 0;
    }

    /// <summary>One thread's encoder and buffers: the records it queued since the writer last took them.</summary>
    private sealed class Shard(RecordEncoder encoder, Thread owner)
    {
        public readonly RecordEncoder Encoder = encoder;
        public readonly Thread Owner = owner;
        public ArrayBufferWriter<byte> Scratch = new(1024);
        public List<Chunk> Chunks = [];
        public List<Chunk>? Spare;
        public int Records;
    }

    /// <summary>Whole records in a pooled chunk (or, for one record larger than a chunk, an array of its own).</summary>
    private struct Chunk(byte[] bytes)
    {
        public readonly byte[] Bytes = bytes;
        public int Length;
        public int Records;
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
