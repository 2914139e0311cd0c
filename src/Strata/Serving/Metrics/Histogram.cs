using System.Globalization;

namespace Strata.Serving.Metrics;

/// <summary>Counts observations (latencies, sizes) in fixed buckets, so quantiles can be estimated across servers.</summary>
public sealed class Histogram : Metric<Histogram.Child>
{
    /// <summary>Request latency buckets in seconds, 10 µs to 10 s: a one-row prediction takes tens of microseconds in process.</summary>
    public static readonly IReadOnlyList<double> LatencyBuckets =
        [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly double[] _bounds;
    private readonly string[] _le;

    internal Histogram(string name, string help, IReadOnlyList<double> buckets, string[] labelNames)
        : base(name, help, Check(name, buckets, labelNames))
    {
        // +Inf is implicit: every histogram has it, so a caller's +Inf is dropped rather than doubled.
        _bounds = buckets.Where(b => !double.IsPositiveInfinity(b)).ToArray();
        _le = [.. _bounds.Select(Bound), "+Inf"];
    }

    /// <inheritdoc/>
    public override string Type => "histogram";

    /// <summary>The upper bounds of the buckets, without +Inf.</summary>
    public IReadOnlyList<double> Buckets => _bounds;

    /// <summary>Records an observation in the histogram without labels.</summary>
    public void Observe(double value) => Unlabelled.Observe(value);

    /// <inheritdoc/>
    private protected override Child CreateChild(string labels) => new(labels, _bounds);

    internal override void WriteSamples(TextWriter writer)
    {
        Span<long> counts = stackalloc long[_le.Length];
        foreach (var child in Children)
        {
            child.CopyCounts(counts);
            long cumulative = 0;
            for (var i = 0; i < counts.Length; i++)
            {
                cumulative += counts[i];
                PrometheusText.WriteBucket(writer, Name, child.RenderedLabels, _le[i], cumulative);
            }

            PrometheusText.WriteSample(writer, Name, "_sum", child.RenderedLabels, child.Sum);

            // The count is the +Inf bucket, not a separate field, so a scrape during an observation stays consistent.
            PrometheusText.WriteSample(writer, Name, "_count", child.RenderedLabels, cumulative);
        }
    }

    // A bound as a plain decimal (0.00001, not the round-trip format's 1E-05), as dashboards and other clients write it.
    private static string Bound(double bound) =>
        Math.Abs(bound) is > 1e-20 and < 1e20 ? ((decimal)bound).ToString(CultureInfo.InvariantCulture) : PrometheusText.Format(bound);

    private static string[] Check(string name, IReadOnlyList<double> buckets, string[] labelNames)
    {
        if (labelNames.Contains("le", StringComparer.Ordinal))
        {
            throw new ArgumentException($"{name}: a histogram cannot have a label named le (it names the bucket)", nameof(labelNames));
        }

        for (var i = 0; i < buckets.Count; i++)
        {
            if (double.IsNaN(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
            {
                throw new ArgumentException($"{name}: bucket bounds must increase strictly ({buckets[i].ToString(CultureInfo.InvariantCulture)} at {i})", nameof(buckets));
            }
        }

        return labelNames;
    }

    /// <summary>The histogram for one label set.</summary>
    public sealed class Child : MetricChild
    {
        private readonly double[] _bounds;
        private readonly long[] _counts;
        private long _sumBits;

        internal Child(string labels, double[] bounds)
            : base(labels)
        {
            _bounds = bounds;
            _counts = new long[bounds.Length + 1];
        }

        /// <summary>The sum of all observations.</summary>
        public double Sum => AtomicDouble.Read(ref _sumBits);

        /// <summary>How many observations there were.</summary>
        public long Count
        {
            get
            {
                long count = 0;
                for (var i = 0; i < _counts.Length; i++)
                {
                    count += Volatile.Read(ref _counts[i]);
                }

                return count;
            }
        }

        /// <summary>Records one observation.</summary>
        public void Observe(double value)
        {
            // NOTE: a bucket holds observations <= its bound; BinarySearch returns the complement of the first larger
            // bound when there is no exact match, which is also where +Inf (index = length) falls for big values.
            var index = Array.BinarySearch(_bounds, value);
            if (index < 0)
            {
                index = ~index;
            }

            if (double.IsNaN(value))
            {
                index = _bounds.Length;
            }

            Interlocked.Increment(ref _counts[index]);
            AtomicDouble.Add(ref _sumBits, value);
        }

        internal void CopyCounts(Span<long> counts)
        {
            for (var i = 0; i < _counts.Length; i++)
            {
                counts[i] = Volatile.Read(ref _counts[i]);
            }
        }
    }
}
