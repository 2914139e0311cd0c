namespace Strata.Serving;

/// <summary>
/// Bounded concurrency with a bounded queue: up to <c>maxConcurrency</c> requests run, up to <c>maxQueue</c> wait for
/// a slot, and any more are refused at once (503) instead of piling up latency for everyone.
/// </summary>
internal sealed class Admission(string endpoint, int maxConcurrency, int maxQueue) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(maxConcurrency, maxConcurrency);
    private int _waiting;
    private int _running;

    /// <summary>Requests waiting for a slot.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Requests holding a slot.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Takes a free slot without waiting; false when every slot is taken (then wait with <see cref="EnterAsync(CancellationToken)"/>).</summary>
    public bool TryEnter(out Lease lease)
    {
        if (!_slots.Wait(0, CancellationToken.None))
        {
            lease = default;
            return false;
        }

        Interlocked.Increment(ref _running);
        lease = new Lease(this);
        return true;
    }

    /// <summary>Takes a slot, waiting in the queue when there is room; dispose the lease to give it back.</summary>
    /// <exception cref="ServingRefusal">The queue is full.</exception>
    /// <exception cref="OperationCanceledException">The request's time ran out or it was abandoned while waiting.</exception>
    public ValueTask<Lease> EnterAsync(CancellationToken cancellationToken) => EnterAsync(RequestNaming.Rows, cancellationToken);

    /// <summary>Takes a slot as <see cref="EnterAsync(CancellationToken)"/> does; a refusal names the endpoint as <paramref name="naming"/> does.</summary>
    public async ValueTask<Lease> EnterAsync(RequestNaming naming, CancellationToken cancellationToken)
    {
        if (!_slots.Wait(0, CancellationToken.None))
        {
            if (Interlocked.Increment(ref _waiting) > maxQueue)
            {
                Interlocked.Decrement(ref _waiting);
                throw ServingRefusal.Overloaded(endpoint, maxConcurrency, maxQueue, naming);
            }

            try
            {
                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }

        Interlocked.Increment(ref _running);
        return new Lease(this);
    }

    public void Dispose() => _slots.Dispose();

    private void Exit()
    {
        Interlocked.Decrement(ref _running);
        _slots.Release();
    }

    /// <summary>A held slot.</summary>
    internal readonly struct Lease(Admission owner) : IDisposable
    {
        public void Dispose() => owner?.Exit();
    }
}

/// <summary>
/// Per-key token buckets: each key may send <c>rate</c> requests a second on average and <c>burst</c> at once. The
/// buckets of keys idle for a minute are forgotten, so a stream of new keys cannot grow the table without end.
/// </summary>
internal sealed class RateLimiter(double rate, double burst, TimeProvider clock)
{
    private const int MaxKeys = 100_000;
    // At least one token: a bucket smaller than one request would refuse every request forever (a stored burst of 0.5).
    private readonly double _burst = burst > 0 ? Math.Max(1, burst) : Math.Max(1, rate);

    /// <summary>The bucket's size, as it applies (for the refusal's message).</summary>
    public double Burst => _burst;
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Takes a token for a key; false with the seconds until the next one when there is none.</summary>
    public bool TryTake(string key, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        if (rate <= 0)
        {
            return true;
        }

        var now = clock.GetUtcNow().UtcTicks;
        lock (_lock)
        {
            if (!_buckets.TryGetValue(key, out var bucket))
            {
                if (_buckets.Count >= MaxKeys)
                {
                    Prune(now);
                }

                bucket = new Bucket { Tokens = _burst, Updated = now };
                _buckets[key] = bucket;
            }

            var elapsed = Math.Max(0, now - bucket.Updated) / (double)TimeSpan.TicksPerSecond;
            bucket.Tokens = Math.Min(_burst, bucket.Tokens + (elapsed * rate));
            bucket.Updated = now;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return true;
            }

            retryAfterSeconds = Math.Max(1, (int)Math.Ceiling((1 - bucket.Tokens) / rate));
            return false;
        }
    }

    private void Prune(long now)
    {
        foreach (var (key, bucket) in _buckets.ToList())
        {
            if (now - bucket.Updated > TimeSpan.TicksPerMinute)
            {
                _buckets.Remove(key);
            }
        }
    }

    private sealed class Bucket
    {
        public double Tokens { get; set; }

        public long Updated { get; set; }
    }
}
