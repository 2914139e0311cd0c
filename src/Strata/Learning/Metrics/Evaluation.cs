using System.Globalization;

namespace Strata.Learning.Metrics;

/// <summary>
/// Evaluates predictions against labels, over all rows and per slice (each distinct value of a slice column, null
/// being one more slice), with the metrics of <see cref="MetricSet"/>. What <c>strata evaluate --model M --data D
/// [--slice col]</c> prints is <see cref="EvaluationReport.ToText"/>.
/// </summary>
public static class Evaluation
{
    /// <summary>
    /// Scores a model on a table and evaluates it. Class labels are matched to the model's by text (bools as
    /// true/false, integers in invariant digits).
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="data">Rows with the model's input columns and the label (and slice and weight columns when named).</param>
    /// <param name="label">The label column.</param>
    /// <param name="slice">A column whose distinct values define the slices, or null for overall metrics only.</param>
    /// <param name="weight">A column of non-negative sample weights, or null.</param>
    /// <exception cref="StrataException">A missing column, a null label, a class the model does not know, a bad weight, or inputs that do not match the model.</exception>
    public static EvaluationReport Evaluate(Model model, Table data, string label, string? slice = null, string? weight = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(label);
        Require(data, label, "label");
        if (slice is not null)
        {
            Require(data, slice, "slice");
        }

        if (weight is not null)
        {
            Require(data, weight, "weight");
        }

        var labels = Labels(model, data[label], label);
        var weights = weight is null ? null : Weights(data[weight], weight);
        var margins = model.PredictMargins(data);
        var predictions = MetricSet.Predictions(model, margins);
        var groups = slice is null ? null : Groups(data[slice]);
        return Build(model.Task, model.ClassLabels, labels, predictions, weights, slice, groups);
    }

    /// <summary>
    /// Evaluates predictions given as arrays (see <see cref="MetricSet.Compute"/> for their layout), per slice when
    /// <paramref name="slices"/> gives each row's slice value (null is a slice of its own; slices are in ordinal order,
    /// null last).
    /// </summary>
    /// <exception cref="StrataException">A label out of range, a bad prediction or a negative weight.</exception>
    public static EvaluationReport Evaluate(
        LearningTask task,
        IReadOnlyList<string>? classLabels,
        ReadOnlySpan<double> labels,
        ReadOnlySpan<double> predictions,
        ReadOnlySpan<double> weights = default,
        IReadOnlyList<string?>? slices = null,
        string? sliceColumn = null)
    {
        if (task == LearningTask.MulticlassClassification && (classLabels is null || classLabels.Count < 2))
        {
            throw new ArgumentException("multiclass evaluation needs the class labels", nameof(classLabels));
        }

        if (slices is not null && slices.Count != labels.Length)
        {
            throw new ArgumentException($"slices has {slices.Count} values but there are {labels.Length} labels", nameof(slices));
        }

        List<(string? Value, int[] Rows)>? groups = null;
        if (slices is not null)
        {
            groups = slices.Select((s, i) => (s, i))
                .GroupBy(p => p.s ?? "\0null", StringComparer.Ordinal)
                .Select(g => (g.First().s, g.Select(p => p.i).ToArray()))
                .OrderBy(g => g.s is null ? 1 : 0)
                .ThenBy(g => g.s, StringComparer.Ordinal)
                .ToList();
        }

        return Build(task, classLabels, labels.ToArray(), predictions.ToArray(), weights.IsEmpty ? null : weights.ToArray(), sliceColumn ?? (slices is null ? null : "slice"), groups);
    }

    private static EvaluationReport Build(
        LearningTask task,
        IReadOnlyList<string>? classLabels,
        double[] labels,
        double[] predictions,
        double[]? weights,
        string? sliceColumn,
        List<(string? Value, int[] Rows)>? groups)
    {
        var width = task == LearningTask.MulticlassClassification ? classLabels!.Count : 1;
        var classCount = task == LearningTask.Regression ? 0 : task == LearningTask.BinaryClassification ? 2 : width;
        if (predictions.Length != labels.Length * width)
        {
            throw new ArgumentException($"expected {labels.Length * width} predictions, got {predictions.Length}", nameof(predictions));
        }

        var overall = MetricSet.Compute(task, classCount, labels, predictions, weights);
        var slices = new List<SliceMetrics>();
        foreach (var (value, rows) in groups ?? [])
        {
            var sliceLabels = new double[rows.Length];
            var slicePredictions = new double[rows.Length * width];
            var sliceWeights = weights is null ? null : new double[rows.Length];
            for (var i = 0; i < rows.Length; i++)
            {
                var r = rows[i];
                sliceLabels[i] = labels[r];
                Array.Copy(predictions, r * width, slicePredictions, i * width, width);
                if (sliceWeights is not null)
                {
                    sliceWeights[i] = weights![r];
                }
            }

            slices.Add(new SliceMetrics(value, MetricSet.Compute(task, classCount, sliceLabels, slicePredictions, sliceWeights)));
        }

        return new EvaluationReport(task, classLabels, sliceColumn, overall, slices);
    }

    private static void Require(Table data, string column, string role)
    {
        if (!data.Schema.Contains(column))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"no {role} column '{column}' (columns: {string.Join(", ", data.Schema.Names)})");
        }
    }

    private static double[] Labels(Model model, Column column, string name)
    {
        var labels = new double[column.Length];
        for (var i = 0; i < labels.Length; i++)
        {
            if (column.IsNull(i))
            {
                throw new StrataException(ErrorCodes.DataNull, $"label '{name}' is null at row {i + 1}; drop or fill those rows before evaluating");
            }
        }

        if (model.Task == LearningTask.Regression)
        {
            if (!column.Type.IsNumeric())
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"label '{name}' is {column.Type.Name()}; a regression model is evaluated against numbers");
            }

            for (var i = 0; i < labels.Length; i++)
            {
                labels[i] = Convert.ToDouble(column.GetValue(i), CultureInfo.InvariantCulture);
            }

            return labels;
        }

        var classes = model.ClassLabels!;
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var c = 0; c < classes.Count; c++)
        {
            index[classes[c]] = c;
        }

        for (var i = 0; i < labels.Length; i++)
        {
            var text = Text(column, i)!;
            labels[i] = index.TryGetValue(text, out var code)
                ? code
                : throw new StrataException(ErrorCodes.ArgumentInvalid, $"label '{name}' has class '{text}' at row {i + 1}, which the model does not know ({string.Join(", ", classes.Take(10))})");
        }

        return labels;
    }

    private static double[] Weights(Column column, string name)
    {
        if (!column.Type.IsNumeric())
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"weight '{name}' is {column.Type.Name()}; weights are numbers");
        }

        var weights = new double[column.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            var w = column.IsNull(i) ? double.NaN : Convert.ToDouble(column.GetValue(i), CultureInfo.InvariantCulture);
            if (!(w >= 0) || double.IsInfinity(w))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"weight '{name}' is {(column.IsNull(i) ? "null" : w.ToString(CultureInfo.InvariantCulture))} at row {i + 1}; weights must be finite and non-negative");
            }

            weights[i] = w;
        }

        return weights;
    }

    /// <summary>Rows per distinct value, numbers in numeric order, text and bools in ordinal order, null last.</summary>
    private static List<(string? Value, int[] Rows)> Groups(Column column)
    {
        var rows = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new Dictionary<string, double>(StringComparer.Ordinal);
        var nulls = new List<int>();
        for (var i = 0; i < column.Length; i++)
        {
            var text = Text(column, i);
            if (text is null)
            {
                nulls.Add(i);
                continue;
            }

            if (!rows.TryGetValue(text, out var list))
            {
                rows[text] = list = [];
                if (column.Type.IsOrdered())
                {
                    order[text] = Convert.ToDouble(column.Type == DataType.Timestamp ? ((Column<long>)column)[i] : column.GetValue(i), CultureInfo.InvariantCulture);
                }
            }

            list.Add(i);
        }

        var keys = column.Type.IsOrdered()
            ? rows.Keys.OrderBy(k => order[k]).ThenBy(k => k, StringComparer.Ordinal)
            : rows.Keys.Order(StringComparer.Ordinal);
        var groups = keys.Select(k => ((string?)k, rows[k].ToArray())).ToList();
        if (nulls.Count > 0)
        {
            groups.Add((null, nulls.ToArray()));
        }

        return groups;
    }

    private static string? Text(Column column, int row) => column.IsNull(row) ? null : column switch
    {
        StringColumn s => s[row]!,
        Column<bool> b => b[row] ? "true" : "false",
        Column<long> t when column.Type == DataType.Timestamp => Timestamp.ToDateTime(t[row]).ToString("O", CultureInfo.InvariantCulture),
        _ => Convert.ToString(column.GetValue(row), CultureInfo.InvariantCulture),
    };
}

/// <summary>The metrics of one slice: its value (null for rows where the slice column is null) and the metrics.</summary>
public sealed record SliceMetrics(string? Value, MetricSet Metrics);
