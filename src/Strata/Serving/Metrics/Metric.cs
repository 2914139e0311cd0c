using System.Collections.Concurrent;

namespace Strata.Serving.Metrics;

/// <summary>A metric family (one name, help text and type) as the text writer sees it, whatever its kind.</summary>
public abstract class Metric
{
    private protected Metric(string name, string help, string[] labelNames)
    {
        if (!MetricNames.IsValidMetricName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", nameof(name));
        }

        foreach (var label in labelNames)
        {
            if (!MetricNames.IsValidLabelName(label))
            {
                throw new ArgumentException($"'{label}' is not a valid label name of {name} ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", nameof(labelNames));
            }
        }

        if (labelNames.Distinct(StringComparer.Ordinal).Count() != labelNames.Length)
        {
            throw new ArgumentException($"{name} names a label twice", nameof(labelNames));
        }

        Name = name;
        Help = help;
        LabelNames = labelNames;
    }

    /// <summary>The metric name.</summary>
    public string Name { get; }

    /// <summary>The help text (unescaped).</summary>
    public string Help { get; }

    /// <summary>The label names, in the order <c>Labels(…)</c> takes their values.</summary>
    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>The <c># TYPE</c> word: counter, gauge or histogram.</summary>
    public abstract string Type { get; }

    /// <summary>Called once the registry has accepted the metric.</summary>
    internal abstract void Registered();

    /// <summary>Writes the samples (not the HELP and TYPE lines) in the text format.</summary>
    internal abstract void WriteSamples(TextWriter writer);
}

/// <summary>A metric family with one child per label set; children are cached, so a hot path looks its child up once.</summary>
public abstract class Metric<TChild> : Metric
    where TChild : class
{
    private readonly ConcurrentDictionary<string[], TChild> _children = new(LabelValuesComparer.Instance);
    private readonly ConcurrentDictionary<string[], TChild>.AlternateLookup<ReadOnlySpan<string>> _lookup;
    private readonly Lock _adding = new();
    private TChild? _unlabelled;
    private volatile TChild[] _ordered = [];

    private protected Metric(string name, string help, string[] labelNames)
        : base(name, help, labelNames)
    {
        _lookup = _children.GetAlternateLookup<ReadOnlySpan<string>>();
    }

    /// <summary>The only child of a metric without labels.</summary>
    public TChild Unlabelled => _unlabelled ?? throw new InvalidOperationException($"{Name} has labels ({string.Join(", ", LabelNames)}): use Labels(…)");

    /// <summary>The child for these label values (in <see cref="Metric.LabelNames"/> order); finding an existing one allocates nothing.</summary>
    public TChild Labels(params ReadOnlySpan<string> values)
    {
        if (values.Length != LabelNames.Count)
        {
            throw new ArgumentException($"{Name} has {LabelNames.Count} labels, not {values.Length}", nameof(values));
        }

        return _lookup.TryGetValue(values, out var child) ? child : Add(values.ToArray());
    }

    /// <summary>The children in the order they were first used (the writer's order, so output is stable).</summary>
    internal TChild[] Children => _ordered;

    internal override void Registered()
    {
        // A metric without labels is exposed (as zero) before its first use. Not in the constructor: a derived
        // metric's fields (a histogram's bounds) are not set yet there.
        if (LabelNames.Count == 0)
        {
            _unlabelled = Labels();
        }
    }

    /// <summary>Makes the child for a label set; <paramref name="labels"/> is its rendered <c>name="value",…</c> text.</summary>
    private protected abstract TChild CreateChild(string labels);

    private TChild Add(string[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(values[i], LabelNames[i]);
        }

        lock (_adding)
        {
            if (_children.TryGetValue(values, out var existing))
            {
                return existing;
            }

            var child = CreateChild(Render(values));
            _children[values] = child;
            _ordered = [.. _ordered, child];
            return child;
        }
    }

    private string Render(string[] values) =>
        string.Join(',', values.Select((v, i) => $"{LabelNames[i]}=\"{MetricNames.EscapeLabelValue(v)}\""));
}
