using System.Globalization;

namespace Strata.Learning;

/// <summary>Which columns to learn from and what to predict.</summary>
public sealed record TrainingSpec
{
    /// <summary>The label column.</summary>
    public required string Label { get; init; }

    /// <summary>Feature columns; null takes every column whose role is <see cref="FieldRole.Feature"/>, except the label and weight.</summary>
    public IReadOnlyList<string>? Features { get; init; }

    /// <summary>A column of non-negative sample weights, or null.</summary>
    public string? Weight { get; init; }

    /// <summary>The task; null infers it from the label (bool, or two values → binary; text → multiclass; numbers → regression).</summary>
    public LearningTask? Task { get; init; }

    /// <summary>Integer or bool columns to treat as categories (text columns always are).</summary>
    public IReadOnlyList<string>? Categorical { get; init; }
}

/// <summary>
/// Features, labels and weights ready for a learner. Class labels are encoded as 0..K-1 in sorted order (for binary, the
/// second is the positive class: false/true, 0/1, or the later text in ordinal order).
/// </summary>
public sealed class TrainingData
{
    private TrainingData(FeatureMatrix features, double[] labels, float[]? weights, LearningTask task, IReadOnlyList<string>? classLabels, string labelName)
    {
        Features = features;
        Labels = labels;
        Weights = weights;
        Task = task;
        ClassLabels = classLabels;
        LabelName = labelName;
    }

    /// <summary>The features.</summary>
    public FeatureMatrix Features { get; }

    /// <summary>One label per row: the class index for classification, the value for regression.</summary>
    public double[] Labels { get; }

    /// <summary>Sample weights, or null for all ones.</summary>
    public float[]? Weights { get; }

    /// <summary>What is learned.</summary>
    public LearningTask Task { get; }

    /// <summary>Class labels in index order (classification), else null.</summary>
    public IReadOnlyList<string>? ClassLabels { get; }

    /// <summary>The label column's name.</summary>
    public string LabelName { get; }

    /// <summary>
    /// SHA-256 of what the learner sees (input names, types and categories, feature values, labels, weights): models
    /// carry it, so lineage can tell whether two models learned from the same data.
    /// </summary>
    public string Fingerprint => _fingerprint ??= ComputeFingerprint();

    private string? _fingerprint;

    private string ComputeFingerprint()
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        void Text(string s) => hash.AppendData(System.Text.Encoding.UTF8.GetBytes(s + "\n"));
        Text($"{Task.Name()} {LabelName} rows={Rows}");
        foreach (var input in Features.Inputs)
        {
            Text($"{input.Name} {input.Type.Name()} {input.Kind} {string.Join("\u001f", input.Categories ?? [])}");
        }

        for (var f = 0; f < Features.Count; f++)
        {
            hash.AppendData(Features.Inputs[f].Kind == FeatureKind.Numeric
                ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(Features.Numeric(f))
                : System.Runtime.InteropServices.MemoryMarshal.AsBytes(Features.Codes(f)));
        }

        hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Labels.AsSpan()));
        if (Weights is not null)
        {
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Weights.AsSpan()));
        }

        Text(string.Join("\u001f", ClassLabels ?? []));
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Rows.</summary>
    public int Rows => Labels.Length;

    /// <summary>
    /// Prepares a table for training. <paramref name="like"/> (the training data, when preparing a validation set) fixes
    /// the inputs, categories, task and classes, so both sets are encoded the same way.
    /// </summary>
    /// <exception cref="StrataException">A missing column, a null/NaN/infinite label, negative weights, zero rows, or a class unknown to <paramref name="like"/>.</exception>
    public static TrainingData FromTable(Table table, TrainingSpec spec, TrainingData? like = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(spec);
        if (!table.Schema.Contains(spec.Label))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"no label column '{spec.Label}' (columns: {string.Join(", ", table.Schema.Names)})");
        }

        if (table.RowCount == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "there are no rows to learn from");
        }

        var inputs = like?.Features.Inputs ?? FeatureMatrix.InferInputs(table, FeatureNames(table, spec), spec.Categorical);
        var label = table[spec.Label];
        var task = like?.Task ?? spec.Task ?? InferTask(label);
        var (labels, classes) = EncodeLabels(label, spec.Label, task, like?.ClassLabels);
        var weights = spec.Weight is null ? null : ReadWeights(table, spec.Weight);
        return new TrainingData(FeatureMatrix.FromTable(table, inputs), labels, weights, task, classes, spec.Label);
    }

    /// <summary>The feature columns a spec selects.</summary>
    public static IReadOnlyList<string> FeatureNames(Table table, TrainingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Features is { } given)
        {
            var missing = given.Where(f => !table.Schema.Contains(f)).ToArray();
            if (missing.Length > 0)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"feature column(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} are not in the data");
            }

            if (given.Contains(spec.Label))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"the label '{spec.Label}' cannot also be a feature");
            }

            return given;
        }

        var features = table.Schema
            .Where(f => f.Role == FieldRole.Feature && f.Name != spec.Label && f.Name != spec.Weight)
            .Select(f => f.Name)
            .ToList();
        if (features.Count == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "no feature columns: every column is the label, the weight, or has a non-feature role");
        }

        return features;
    }

    private static LearningTask InferTask(Column label) => label.Type switch
    {
        DataType.Bool => LearningTask.BinaryClassification,
        DataType.String => DistinctCount(label) == 2 ? LearningTask.BinaryClassification : LearningTask.MulticlassClassification,
        DataType.Int32 or DataType.Int64 when IsZeroOne(label) => LearningTask.BinaryClassification,
        _ => LearningTask.Regression,
    };

    private static int DistinctCount(Column column)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < column.Length && seen.Count < 3; i++)
        {
            if (!column.IsNull(i))
            {
                seen.Add(Text(column, i));
            }
        }

        return seen.Count;
    }

    private static bool IsZeroOne(Column column)
    {
        for (var i = 0; i < column.Length; i++)
        {
            if (!column.IsNull(i) && column.GetValue(i) is var v && Convert.ToInt64(v, CultureInfo.InvariantCulture) is not (0 or 1))
            {
                return false;
            }
        }

        return true;
    }

    private static (double[] Labels, IReadOnlyList<string>? Classes) EncodeLabels(Column column, string name, LearningTask task, IReadOnlyList<string>? knownClasses)
    {
        var labels = new double[column.Length];
        for (var i = 0; i < column.Length; i++)
        {
            if (column.IsNull(i))
            {
                throw new StrataException(ErrorCodes.DataNull, $"label '{name}' is null at row {i + 1}; drop or fill those rows first");
            }
        }

        if (task == LearningTask.Regression)
        {
            if (column.Type is DataType.String or DataType.Bool or DataType.Timestamp)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"label '{name}' is {column.Type.Name()}; regression needs numbers");
            }

            for (var i = 0; i < labels.Length; i++)
            {
                var value = Convert.ToDouble(column.GetValue(i), CultureInfo.InvariantCulture);
                if (!double.IsFinite(value))
                {
                    throw new StrataException(ErrorCodes.ArgumentInvalid, $"label '{name}' is {value.ToString(CultureInfo.InvariantCulture)} at row {i + 1}; labels must be finite");
                }

                labels[i] = value;
            }

            return (labels, null);
        }

        if (column.Type is DataType.Float32 or DataType.Float64)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"label '{name}' holds floating-point numbers; classification needs text, bool or integer classes");
        }

        var classes = knownClasses ?? Classes(column);
        if (task == LearningTask.BinaryClassification && classes.Count != 2)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"binary classification needs exactly 2 classes in '{name}', found {classes.Count}: {string.Join(", ", classes.Take(10))}");
        }

        if (task == LearningTask.MulticlassClassification && classes.Count < 2)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"classification needs at least 2 classes in '{name}', found {classes.Count}");
        }

        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        for (var i = 0; i < labels.Length; i++)
        {
            var text = Text(column, i);
            if (!index.TryGetValue(text, out var code))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"label '{name}' has class '{text}' at row {i + 1}, which the training data does not have ({string.Join(", ", classes.Take(10))})");
            }

            labels[i] = code;
        }

        return (labels, classes);
    }

    /// <summary>Classes in sorted order: false before true, numbers numerically, text ordinally.</summary>
    private static List<string> Classes(Column column)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < column.Length; i++)
        {
            seen.Add(Text(column, i));
        }

        return column.Type is DataType.Int32 or DataType.Int64
            ? seen.OrderBy(s => long.Parse(s, CultureInfo.InvariantCulture)).ToList()
            : seen.Order(StringComparer.Ordinal).ToList();
    }

    private static string Text(Column column, int row) => column switch
    {
        StringColumn s => s[row]!,
        Column<bool> b => b[row] ? "true" : "false",
        _ => Convert.ToString(column.GetValue(row), CultureInfo.InvariantCulture)!,
    };

    private static float[] ReadWeights(Table table, string name)
    {
        if (!table.Schema.Contains(name))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"no weight column '{name}'");
        }

        var column = table[name];
        var weights = new float[column.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            var w = column.IsNull(i) ? double.NaN : Convert.ToDouble(column.GetValue(i), CultureInfo.InvariantCulture);
            if (!(w >= 0) || double.IsInfinity(w))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"weight '{name}' is {(column.IsNull(i) ? "null" : w.ToString(CultureInfo.InvariantCulture))} at row {i + 1}; weights must be finite and non-negative");
            }

            weights[i] = (float)w;
        }

        return weights;
    }
}
