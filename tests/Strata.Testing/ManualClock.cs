namespace Strata.Testing;

/// <summary>A clock tests move by hand; each read advances it by a step so consecutive writes get distinct times.</summary>
public sealed class ManualClock(DateTimeOffset start, TimeSpan step) : TimeProvider
{
    private readonly Lock _lock = new();
    private DateTimeOffset _now = start;

    public ManualClock()
        : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromSeconds(1))
    {
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            var now = _now;
            _now += step;
            return now;
        }
    }

    /// <summary>The time the next read will return, without advancing.</summary>
    public DateTimeOffset Peek()
    {
        lock (_lock)
        {
            return _now;
        }
    }

    public void Advance(TimeSpan by)
    {
        lock (_lock)
        {
            _now += by;
        }
    }
}
