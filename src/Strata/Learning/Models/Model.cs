namespace Strata.Learning;

/// <summary>
/// A trained model: what it reads and writes (<see cref="Signature"/>), what it predicts, how margins become outputs,
/// and the learner and settings that made it. Subclasses hold the learned parameters (trees, weights) and compute raw
/// margins; this class turns them into probabilities, labels or values.
/// </summary>
public abstract class Model
{
    private protected Model(string learner, LearningTask task, ModelSignature signature, IReadOnlyList<string>? classLabels, OutputTransform transform, IReadOnlyDictionary<string, string> settings)
    {
        ArgumentException.ThrowIfNullOrEmpty(learner);
        ArgumentNullException.ThrowIfNull(signature);
        if (task != LearningTask.Regression && (classLabels is null || classLabels.Count < 2))
        {
            throw new ArgumentException("a classifier needs at least two class labels", nameof(classLabels));
        }

        Learner = learner;
        Task = task;
        Signature = signature;
        ClassLabels = classLabels;
        Transform = transform;
        Settings = settings;
    }

    /// <summary>The learner that made it (gbdt, logistic, linear, svm, xgboost for imports).</summary>
    public string Learner { get; }

    /// <summary>What it predicts.</summary>
    public LearningTask Task { get; }

    /// <summary>Inputs and outputs.</summary>
    public ModelSignature Signature { get; }

    /// <summary>Class labels in index order (classification), else null.</summary>
    public IReadOnlyList<string>? ClassLabels { get; }

    /// <summary>How margins become outputs.</summary>
    public OutputTransform Transform { get; }

    /// <summary>The learner's settings, as text.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>Metrics recorded when the model was made (e.g. validation AUC), by name.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>A digest of the training data (its schema and values), for lineage; null when unknown.</summary>
    public string? TrainingDataFingerprint { get; init; }

    /// <summary>The label column the model learned (so evaluation finds it without being told); null when unknown (imports).</summary>
    public string? LabelName { get; init; }

    /// <summary>Margins per row: 1 for binary and regression, one per class for multiclass.</summary>
    public int OutputCount => Task == LearningTask.MulticlassClassification ? ClassLabels!.Count : 1;

    /// <summary>Raw margins for every row, row-major: <c>margins[row * OutputCount + k]</c>.</summary>
    public abstract void PredictMargins(FeatureMatrix features, Span<double> margins);

    /// <summary>The learned parameters, for a model package (see <see cref="ModelKinds"/> for the way back).</summary>
    public abstract ModelParameters ToParameters();

    /// <summary>Margins of a table's rows (the table must have the model's input columns).</summary>
    public double[] PredictMargins(Table input)
    {
        var features = FeatureMatrix.FromTable(input, Signature.Inputs);
        var margins = new double[checked(features.Rows * OutputCount)];
        PredictMargins(features, margins);
        return margins;
    }

    /// <summary>Predictions for a table's rows, one column per <see cref="ModelSignature.Outputs"/> entry.</summary>
    public Table Predict(Table input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var margins = PredictMargins(input);
        return Outputs(margins, input.RowCount);
    }

    /// <summary>Turns margins into the output table (probabilities and labels, or values).</summary>
    public Table Outputs(ReadOnlySpan<double> margins, int rows)
    {
        var k = OutputCount;
        if (margins.Length != rows * k)
        {
            throw new ArgumentException($"expected {rows * k} margins, got {margins.Length}", nameof(margins));
        }

        switch (Task)
        {
            case LearningTask.BinaryClassification:
            {
                var probability = new double[rows];
                var label = new StringColumnBuilder(rows);
                for (var r = 0; r < rows; r++)
                {
                    probability[r] = Apply(Transform, margins[r]);
                    label.Append(ClassLabels![probability[r] >= 0.5 ? 1 : 0]);
                }

                return Table.From(("probability", Columns.Create<double>(DataType.Float64, probability)), ("label", label.Build()));
            }

            case LearningTask.MulticlassClassification:
            {
                var probabilities = new double[k][];
                for (var c = 0; c < k; c++)
                {
                    probabilities[c] = new double[rows];
                }

                var label = new StringColumnBuilder(rows);
                Span<double> row = stackalloc double[Math.Min(k, 256)];
                var buffer = k <= 256 ? row[..k] : new double[k];
                for (var r = 0; r < rows; r++)
                {
                    Probabilities(margins.Slice(r * k, k), buffer);
                    var best = 0;
                    for (var c = 0; c < k; c++)
                    {
                        probabilities[c][r] = buffer[c];
                        if (buffer[c] > buffer[best])
                        {
                            best = c;
                        }
                    }

                    label.Append(ClassLabels![best]);
                }

                var columns = new List<(string, Column)>();
                for (var c = 0; c < k; c++)
                {
                    columns.Add(($"probability_{ClassLabels![c]}", Columns.Create<double>(DataType.Float64, probabilities[c])));
                }

                columns.Add(("label", label.Build()));
                return Table.From([.. columns]);
            }

            default:
            {
                var values = new double[rows];
                for (var r = 0; r < rows; r++)
                {
                    values[r] = Apply(Transform, margins[r]);
                }

                return Table.From(("prediction", Columns.Create<double>(DataType.Float64, values)));
            }
        }
    }

    /// <summary>Class probabilities from one row's margins (softmax for multiclass, sigmoid pair for binary).</summary>
    public void Probabilities(ReadOnlySpan<double> margins, Span<double> probabilities)
    {
        if (Transform == OutputTransform.Softmax)
        {
            var max = double.NegativeInfinity;
            foreach (var m in margins)
            {
                max = Math.Max(max, m);
            }

            var sum = 0.0;
            for (var i = 0; i < margins.Length; i++)
            {
                probabilities[i] = Math.Exp(margins[i] - max);
                sum += probabilities[i];
            }

            for (var i = 0; i < margins.Length; i++)
            {
                probabilities[i] /= sum;
            }
        }
        else
        {
            for (var i = 0; i < margins.Length; i++)
            {
                probabilities[i] = Apply(Transform, margins[i]);
            }
        }
    }

    /// <summary>The output of one margin under a transform (softmax needs all of a row's margins; see <see cref="Probabilities"/>).</summary>
    public static double Apply(OutputTransform transform, double margin) => transform switch
    {
        OutputTransform.Sigmoid => 1.0 / (1.0 + Math.Exp(-margin)),
        OutputTransform.Exp => Math.Exp(margin),
        _ => margin,
    };
}
