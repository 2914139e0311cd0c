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

    /// <summary>
    /// Removes the children whose label values (in <see cref="LabelNames"/> order) <paramref name="match"/> picks, and
    /// returns how many; <paramref name="match"/> runs under the lock that adds children, so none is added meanwhile.
    /// </summary>
    internal abstract int RemoveWhere(Func<IReadOnlyList<string>, bool> match);
}

/// <summary>What the children of every kind of metric share: their rendered labels, and whether they were removed.</summary>
public abstract class MetricChild
{
    private volatile bool _removed;

    private protected MetricChild(string labels) => RenderedLabels = labels;

    /// <summary>
    /// True once the label set was removed from its metric: the child still takes updates but is no longer exported,
    /// so a caller that keeps children (a cache) looks the label set up again.
    /// </summary>
    public bool IsRemoved => _removed;

    internal string RenderedLabels { get; }

    internal void MarkRemoved() => _removed = true;
}

/// <summary>A metric family with one child per label set; children are cached, so a hot path looks its child up once.</summary>
public abstract class Metric<TChild> : Metric
    where TChild : MetricChild
{
    private readonly ConcurrentDictionary<string[], TChild> _children = new(LabelValuesComparer.Instance);
    private readonly ConcurrentDictionary<string[], TChild>.AlternateLookup<ReadOnlySpan<string>> _lookup;
    // Taken to add or remove a child (not to find one), so the ordered copy and the dictionary change together.
    private readonly Lock _changing = new();
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

    /// <summary>
    /// Removes the child of these label values, so it is no longer exported (the series of an endpoint that was
    /// deleted); returns whether there was one. Whoever still holds the child may go on updating it, unseen (see
    /// <see cref="MetricChild.IsRemoved"/>); the next <c>Labels(…)</c> of the same values makes a new child, from zero.
    /// </summary>
    /// <exception cref="InvalidOperationException">The metric has no labels: its one child is always exported.</exception>
    public bool Remove(params ReadOnlySpan<string> values)
    {
        if (LabelNames.Count == 0)
        {
            throw new InvalidOperationException($"{Name} has no labels: its only child cannot be removed");
        }

        if (values.Length != LabelNames.Count)
        {
            throw new ArgumentException($"{Name} has {LabelNames.Count} labels, not {values.Length}", nameof(values));
        }

        lock (_changing)
        {
            if (!_lookup.TryRemove(values, out _, out var child))
            {
                return false;
            }

            Detach([child]);
            return true;
        }
    }

    internal override int RemoveWhere(Func<IReadOnlyList<string>, bool> match)
    {
        ArgumentNullException.ThrowIfNull(match);
        if (LabelNames.Count == 0)
        {
            return 0;
        }

        lock (_changing)
        {
            var removed = new List<TChild>();
            foreach (var (values, child) in _children)
            {
                if (match(values) && _children.TryRemove(values, out _))
                {
                    removed.Add(child);
                }
            }

            Detach(removed);
            return removed.Count;
        }
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

        lock (_changing)
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

    /// <summary>Marks removed children and takes them out of the writer's order; called under the lock.</summary>
    private void Detach(List<TChild> removed)
    {
        if (removed.Count == 0)
        {
            return;
        }

        foreach (var child in removed)
        {
            child.MarkRemoved();
        }

        // A scrape holding the previous array writes these children once more; the next one does not.
        _ordered = [.. _ordered.Where(c => !c.IsRemoved)];
    }

    private string Render(string[] values) =>
        string.Join(',', values.Select((v, i) => $"{LabelNames[i]}=\"{MetricNames.EscapeLabelValue(v)}\""));
}
