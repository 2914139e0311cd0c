using System.Globalization;
using Strata.Learning.Metrics;

namespace Strata.Learning.Linear;

/// <summary>What the three linear learners share: checks, standardisation, the solver, folding and the model's record.</summary>
internal static class LinearTrainer
{
    private const int MaxListedTerms = 20;

    public static LinearModel Fit(
        string learner,
        LinearSolverOptions options,
        LinearLoss loss,
        bool calibrate,
        TrainingData train,
        TrainingData? valid,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(train);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        if (train.Rows == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: there are no rows to learn from");
        }

        var task = train.Task;
        var k = loss == LinearLoss.Multinomial ? train.ClassLabels!.Count : 1;
        var rowWeights = RowWeights(train);
        var totalWeight = 0.0;
        foreach (var w in rowWeights)
        {
            totalWeight += w;
        }

        if (!(totalWeight > 0))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: every sample weight is zero; nothing to learn from");
        }

        CheckLabels(learner, train, loss, rowWeights);
        if (valid is not null)
        {
            CheckValidation(learner, train, valid);
        }

        var design = LinearDesign.Create(train.Features, rowWeights, options.Standardize);
        var rowFactor = new double[train.Rows];
        for (var i = 0; i < rowFactor.Length; i++)
        {
            rowFactor[i] = rowWeights[i] / totalWeight;
        }

        // Regression fits a standardised label, so the tolerance means the same whatever the label's units; the L1
        // strength shrinks by the label's scale to describe the same problem (L2 is invariant).
        var (labelShift, labelScale) = loss == LinearLoss.Squared ? LabelMoments(train.Labels, rowFactor) : (0.0, 1.0);
        var labels = train.Labels;
        if (loss == LinearLoss.Squared)
        {
            labels = new double[train.Rows];
            for (var i = 0; i < labels.Length; i++)
            {
                labels[i] = (train.Labels[i] - labelShift) / labelScale;
            }
        }

        var objective = new LinearObjective(design, labels, rowFactor, loss, k, options.L2, options.Threads, cancellationToken);
        var theta = new double[objective.Dimension];
        InitialIntercepts(loss, k, train.Labels, rowFactor, theta.AsSpan(objective.PenalizedCount));
        var result = QuasiNewton.Minimize(
            objective,
            theta,
            objective.PenalizedCount,
            options.L1 / labelScale,
            options.History,
            options.MaxIterations,
            options.Tolerance,
            progress is null ? null : (iteration, value) => progress.Report(new TrainingProgress(iteration, options.MaxIterations, "objective", value)),
            cancellationToken);

        var (intercepts, weights) = design.Fold(theta, k, labelScale, labelShift);
        var transform = loss switch
        {
            LinearLoss.Logistic or LinearLoss.SquaredHinge => OutputTransform.Sigmoid,
            LinearLoss.Multinomial => OutputTransform.Softmax,
            _ => OutputTransform.Identity,
        };
        var signature = new ModelSignature(train.Features.Inputs, ModelSignature.OutputsFor(task, train.ClassLabels));
        var warnings = Warnings(result, options, design);
        if (loss is LinearLoss.Logistic or LinearLoss.Multinomial && options.L2 == 0 && options.L1 == 0 && Separated(objective.Margins(theta), train.Labels, rowWeights, k))
        {
            warnings.Add("the classes are linearly separable in the training data and there is no penalty, so the weights grow until the gradient falls under the tolerance (set l2 > 0 for a finite optimum)");
        }
        var settings = new SortedDictionary<string, string>((IDictionary<string, string>)options.ToSettings(), StringComparer.Ordinal);
        if (warnings.Count > 0)
        {
            settings[LinearModel.WarningsKey] = string.Join('\n', warnings);
        }

        LinearModel Build(double slope, double offset, IReadOnlyDictionary<string, double>? metrics) =>
            new(learner, task, signature, train.ClassLabels, transform, settings, intercepts, weights, design.Impute, slope, offset)
            {
                Metrics = metrics ?? new Dictionary<string, double>(),
                LabelName = train.LabelName,
                TrainingDataFingerprint = train.Fingerprint,
            };

        var model = Build(1, 0, null);
        if (loss == LinearLoss.SquaredHinge && calibrate)
        {
            var data = valid ?? train;
            var scores = new double[data.Rows];
            model.PredictScores(data.Features, scores);
            var (a, b) = PlattScaling.Fit(scores, data.Labels, RowWeights(data));
            model = Build(-a, -b, null);
        }

        var record = new SortedDictionary<string, double>(StringComparer.Ordinal)
        {
            ["train.objective"] = result.Objective,
            ["train.iterations"] = result.Iterations,
            ["train.converged"] = result.Converged ? 1 : 0,
            ["train.gradient_norm"] = result.GradientNorm,
        };
        AddQuality(record, "train.", model, train);
        if (valid is not null)
        {
            AddQuality(record, "valid.", model, valid);
        }

        return Build(model.CalibrationSlope, model.CalibrationOffset, record);
    }

    private static double[] RowWeights(TrainingData data)
    {
        var weights = new double[data.Rows];
        if (data.Weights is { } given)
        {
            for (var i = 0; i < weights.Length; i++)
            {
                weights[i] = given[i];
            }
        }
        else
        {
            Array.Fill(weights, 1.0);
        }

        return weights;
    }

    private static void CheckLabels(string learner, TrainingData train, LinearLoss loss, double[] rowWeights)
    {
        var labels = train.Labels;
        if (loss == LinearLoss.Squared)
        {
            for (var i = 0; i < labels.Length; i++)
            {
                if (!double.IsFinite(labels[i]))
                {
                    throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: label '{train.LabelName}' is {labels[i].ToString(CultureInfo.InvariantCulture)} at row {i + 1}; labels must be finite");
                }
            }

            return;
        }

        var classes = train.ClassLabels!;
        var classWeight = new double[classes.Count];
        for (var i = 0; i < labels.Length; i++)
        {
            var label = labels[i];
            if (!(label >= 0 && label < classes.Count && label == Math.Floor(label)))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: label '{train.LabelName}' is {label.ToString(CultureInfo.InvariantCulture)} at row {i + 1}; expected a class index in 0..{classes.Count - 1}");
            }

            classWeight[(int)label] += rowWeights[i];
        }

        for (var c = 0; c < classes.Count; c++)
        {
            if (!(classWeight[c] > 0))
            {
                throw new StrataException(
                    ErrorCodes.ArgumentInvalid,
                    $"{learner}: class '{classes[c]}' of '{train.LabelName}' has no rows (or only zero weights) in the training data; a linear classifier cannot learn a class it never sees (its intercept would run to −∞)");
            }
        }
    }

    private static void CheckValidation(string learner, TrainingData train, TrainingData valid)
    {
        if (valid.Task != train.Task || !valid.Features.Inputs.SequenceEqual(train.Features.Inputs)
            || !(valid.ClassLabels ?? []).SequenceEqual(train.ClassLabels ?? [], StringComparer.Ordinal))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: the validation data is not encoded like the training data; prepare it with TrainingData.FromTable(table, spec, like: train)");
        }
    }

    private static (double Shift, double Scale) LabelMoments(double[] labels, double[] rowFactor)
    {
        var mean = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            mean += rowFactor[i] * labels[i];
        }

        var variance = 0.0;
        for (var i = 0; i < labels.Length; i++)
        {
            var d = labels[i] - mean;
            variance += rowFactor[i] * d * d;
        }

        return (mean, variance > 0 ? Math.Sqrt(variance) : 1.0);
    }

    /// <summary>Starts the intercepts at the (weighted) class log-odds; they sum to zero for multinomial, as from zero.</summary>
    private static void InitialIntercepts(LinearLoss loss, int k, double[] labels, double[] rowFactor, Span<double> intercepts)
    {
        if (loss is LinearLoss.Squared or LinearLoss.SquaredHinge)
        {
            return;
        }

        var classes = loss == LinearLoss.Logistic ? 2 : k;
        var share = new double[classes];
        for (var i = 0; i < labels.Length; i++)
        {
            share[(int)labels[i]] += rowFactor[i];
        }

        if (loss == LinearLoss.Logistic)
        {
            intercepts[0] = Math.Log(share[1] / share[0]);
            return;
        }

        var mean = 0.0;
        for (var c = 0; c < k; c++)
        {
            mean += Math.Log(share[c]) / k;
        }

        for (var c = 0; c < k; c++)
        {
            intercepts[c] = Math.Log(share[c]) - mean;
        }
    }

    private static List<string> Warnings(SolverResult result, LinearSolverOptions options, LinearDesign design)
    {
        var warnings = new List<string>();
        if (!result.Converged)
        {
            warnings.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"did not converge: {result.Problem} after {result.Iterations} iterations, largest gradient {result.GradientNorm:G4} > tolerance {options.Tolerance:G4}"));
        }

        var constant = design.ConstantTerms().ToList();
        if (constant.Count > 0)
        {
            var listed = string.Join(", ", constant.Take(MaxListedTerms));
            var more = constant.Count > MaxListedTerms ? $" and {constant.Count - MaxListedTerms} more" : "";
            warnings.Add($"constant in the training data, so kept at weight 0: {listed}{more}");
        }

        return warnings;
    }

    /// <summary>True when every row with weight is on the right side of the decision boundary.</summary>
    private static bool Separated(double[] margins, double[] labels, double[] rowWeights, int k)
    {
        for (var i = 0; i < labels.Length; i++)
        {
            if (rowWeights[i] == 0)
            {
                continue;
            }

            if (k == 1)
            {
                if ((labels[i] > 0.5) != (margins[i] > 0))
                {
                    return false;
                }

                continue;
            }

            var label = (int)labels[i];
            for (var c = 0; c < k; c++)
            {
                if (c != label && margins[(i * k) + c] >= margins[(i * k) + label])
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static void AddQuality(SortedDictionary<string, double> record, string prefix, LinearModel model, TrainingData data)
    {
        var margins = new double[data.Rows * model.OutputCount];
        model.PredictMargins(data.Features, margins);
        var weights = data.Weights is null ? null : RowWeights(data);
        var set = MetricSet.FromMargins(model, data.Labels, margins, weights);
        foreach (var name in QualityMetrics(model.Task))
        {
            if (set.Values.TryGetValue(name, out var value))
            {
                record[prefix + name] = value;
            }
        }
    }

    private static string[] QualityMetrics(LearningTask task) => task switch
    {
        LearningTask.BinaryClassification => [MetricNames.LogLoss, MetricNames.RocAuc, MetricNames.Accuracy],
        LearningTask.MulticlassClassification => [MetricNames.LogLoss, MetricNames.Accuracy],
        _ => [MetricNames.Rmse, MetricNames.R2],
    };
}
