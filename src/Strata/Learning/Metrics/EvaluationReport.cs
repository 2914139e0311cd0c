using System.Globalization;
using System.Text;

namespace Strata.Learning.Metrics;

/// <summary>Overall and per-slice metrics of one evaluation.</summary>
public sealed class EvaluationReport
{
    /// <summary>The label shown for the overall row in <see cref="ToTable"/> and <see cref="ToText"/>.</summary>
    public const string OverallName = "(all)";

    /// <summary>The label shown for the slice of null values.</summary>
    public const string NullName = "(null)";

    internal EvaluationReport(LearningTask task, IReadOnlyList<string>? classLabels, string? sliceColumn, MetricSet overall, IReadOnlyList<SliceMetrics> slices)
    {
        Task = task;
        ClassLabels = classLabels;
        SliceColumn = sliceColumn;
        Overall = overall;
        Slices = slices;
    }

    /// <summary>The task.</summary>
    public LearningTask Task { get; }

    /// <summary>Class labels in index order (classification), else null.</summary>
    public IReadOnlyList<string>? ClassLabels { get; }

    /// <summary>The slice column, or null.</summary>
    public string? SliceColumn { get; }

    /// <summary>Metrics over all rows.</summary>
    public MetricSet Overall { get; }

    /// <summary>Metrics per slice value (empty without a slice column).</summary>
    public IReadOnlyList<SliceMetrics> Slices { get; }

    /// <summary>
    /// One row for the whole data (<see cref="OverallName"/>) and one per slice: <c>slice</c> (text), <c>rows</c>,
    /// <c>weight</c>, then one float64 column per metric.
    /// </summary>
    public Table ToTable()
    {
        var names = MetricSet.NamesFor(Task);
        var all = new List<(string Name, MetricSet Metrics)> { (OverallName, Overall) };
        all.AddRange(Slices.Select(s => (s.Value ?? NullName, s.Metrics)));
        var columns = new List<(string, Column)>
        {
            ("slice", Columns.String([.. all.Select(a => a.Name)])),
            ("rows", Columns.Create<long>(DataType.Int64, all.Select(a => (long)a.Metrics.Rows).ToArray())),
            ("weight", Columns.Create<double>(DataType.Float64, all.Select(a => a.Metrics.TotalWeight).ToArray())),
        };
        foreach (var name in names)
        {
            columns.Add((name, Columns.Create<double>(DataType.Float64, all.Select(a => a.Metrics[name]).ToArray())));
        }

        return Table.From([.. columns]);
    }

    /// <summary>An aligned text table (numbers to 6 significant digits, undefined metrics as NaN), then the overall confusion matrix for classifiers.</summary>
    public string ToText()
    {
        var names = MetricSet.NamesFor(Task);
        var header = new List<string> { SliceColumn ?? "slice", "rows" };
        header.AddRange(names);
        var lines = new List<string[]> { header.ToArray() };
        lines.Add(Row(OverallName, Overall, names));
        lines.AddRange(Slices.Select(s => Row(s.Value ?? NullName, s.Metrics, names)));
        var widths = new int[header.Count];
        foreach (var line in lines)
        {
            for (var c = 0; c < line.Length; c++)
            {
                widths[c] = Math.Max(widths[c], line[c].Length);
            }
        }

        var text = new StringBuilder();
        foreach (var line in lines)
        {
            for (var c = 0; c < line.Length; c++)
            {
                text.Append(c == 0 ? line[c].PadRight(widths[c]) : "  " + line[c].PadLeft(widths[c]));
            }

            text.Append('\n');
        }

        if (Overall.Confusion is { } confusion)
        {
            text.Append('\n').Append("confusion matrix (all rows):\n").Append(confusion.ToText(ClassLabels));
        }

        return text.ToString();
    }

    private static string[] Row(string name, MetricSet metrics, IReadOnlyList<string> names)
    {
        var row = new List<string> { name, metrics.Rows.ToString(CultureInfo.InvariantCulture) };
        row.AddRange(names.Select(n => metrics[n].ToString("G6", CultureInfo.InvariantCulture)));
        return [.. row];
    }
}
