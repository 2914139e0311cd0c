namespace Strata.Serving.Metrics;

/// <summary>
/// The metrics of one server, in registration order. A registry per server rather than a static one, so tests that
/// start several servers in one process do not add up each other's counts.
/// </summary>
public sealed class MetricRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Metric> _byName = new(StringComparer.Ordinal);
    private volatile Metric[] _metrics = [];
    private volatile Action[] _beforeCollect = [];

    /// <summary>The metrics, in the order they were created.</summary>
    public IReadOnlyList<Metric> Metrics => _metrics;

    /// <summary>Creates a counter (by convention its name ends in <c>_total</c>).</summary>
    public Counter CreateCounter(string name, string help, params string[] labelNames) => Add(new Counter(name, help, labelNames));

    /// <summary>Creates a gauge.</summary>
    public Gauge CreateGauge(string name, string help, params string[] labelNames) => Add(new Gauge(name, help, labelNames));

    /// <summary>Creates a histogram with fixed bucket upper bounds (strictly increasing; +Inf is always added).</summary>
    public Histogram CreateHistogram(string name, string help, IReadOnlyList<double> buckets, params string[] labelNames) =>
        Add(new Histogram(name, help, buckets, labelNames));

    /// <summary>Runs <paramref name="update"/> before each scrape: for values read from elsewhere (process memory, GC counts).</summary>
    public void OnCollect(Action update)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_lock)
        {
            _beforeCollect = [.. _beforeCollect, update];
        }
    }

    internal void BeforeCollect()
    {
        foreach (var update in _beforeCollect)
        {
            update();
        }
    }

    private T Add<T>(T metric)
        where T : Metric
    {
        lock (_lock)
        {
            // Histograms also own name_bucket, name_sum and name_count; a clash there is rare enough to leave to review.
            if (!_byName.TryAdd(metric.Name, metric))
            {
                throw new ArgumentException($"a metric named {metric.Name} already exists", nameof(metric));
            }

            metric.Registered();
            _metrics = [.. _metrics, metric];
            return metric;
        }
    }
}
