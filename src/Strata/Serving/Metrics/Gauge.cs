namespace Strata.Serving.Metrics;

/// <summary>A value that goes up and down (requests in flight, memory in use).</summary>
public sealed class Gauge : Metric<Gauge.Child>
{
    internal Gauge(string name, string help, string[] labelNames)
        : base(name, help, labelNames)
    {
    }

    /// <inheritdoc/>
    public override string Type => "gauge";

    /// <summary>Sets the gauge without labels.</summary>
    public void Set(double value) => Unlabelled.Set(value);

    /// <inheritdoc/>
    private protected override Child CreateChild(string labels) => new(labels);

    internal override void WriteSamples(TextWriter writer)
    {
        foreach (var child in Children)
        {
            PrometheusText.WriteSample(writer, Name, "", child.RenderedLabels, child.Value);
        }
    }

    /// <summary>The gauge for one label set.</summary>
    public sealed class Child : MetricChild
    {
        private long _bits;

        internal Child(string labels)
            : base(labels)
        {
        }

        /// <summary>The current value.</summary>
        public double Value => AtomicDouble.Read(ref _bits);

        /// <summary>Sets the value.</summary>
        public void Set(double value) => AtomicDouble.Write(ref _bits, value);

        /// <summary>Adds one.</summary>
        public void Inc() => AtomicDouble.Add(ref _bits, 1);

        /// <summary>Subtracts one.</summary>
        public void Dec() => AtomicDouble.Add(ref _bits, -1);

        /// <summary>Adds an amount (negative to subtract).</summary>
        public void Add(double amount) => AtomicDouble.Add(ref _bits, amount);
    }
}
