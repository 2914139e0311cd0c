namespace Strata.Serving.Metrics;

/// <summary>A value that only goes up (requests served, rows read); Prometheus derives rates from it.</summary>
public sealed class Counter : Metric<Counter.Child>
{
    internal Counter(string name, string help, string[] labelNames)
        : base(name, help, labelNames)
    {
    }

    /// <inheritdoc/>
    public override string Type => "counter";

    /// <summary>Adds one to the counter without labels.</summary>
    public void Inc() => Unlabelled.Inc();

    /// <inheritdoc/>
    private protected override Child CreateChild(string labels) => new(labels);

    internal override void WriteSamples(TextWriter writer)
    {
        foreach (var child in Children)
        {
            PrometheusText.WriteSample(writer, Name, "", child.RenderedLabels, child.Value);
        }
    }

    /// <summary>The counter for one label set.</summary>
    public sealed class Child : MetricChild
    {
        private long _bits;

        internal Child(string labels)
            : base(labels)
        {
        }

        /// <summary>The current value.</summary>
        public double Value => AtomicDouble.Read(ref _bits);

        /// <summary>Adds one.</summary>
        public void Inc() => AtomicDouble.Add(ref _bits, 1);

        /// <summary>Adds a non-negative amount.</summary>
        public void Inc(double amount)
        {
            if (!(amount >= 0))
            {
                throw new ArgumentOutOfRangeException(nameof(amount), amount, "a counter only goes up");
            }

            AtomicDouble.Add(ref _bits, amount);
        }

        /// <summary>Raises the value to a total counted elsewhere (the runtime's GC counts); never lowers it.</summary>
        public void IncTo(double total) => AtomicDouble.Max(ref _bits, total);
    }
}
