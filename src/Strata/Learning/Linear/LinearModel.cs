using System.Globalization;

namespace Strata.Learning.Linear;

/// <summary>
/// A linear model in original feature units: <c>score = intercept + Σ weight·x</c> per output, then
/// <c>margin = slope·score + offset</c> (the identity except for a Platt-calibrated SVM), then the model's transform.
/// Numeric inputs contribute one term each; a missing value (NaN) is replaced by the training mean stored in
/// <see cref="ImputeValues"/>. Categorical inputs contribute one term per training category (one-hot); a missing or
/// unseen category contributes nothing (all zeros). Standardisation used in training is folded into the weights, so
/// prediction needs no scaler.
/// </summary>
public sealed class LinearModel : Model
{
    /// <summary>The parameter kind of linear models in a package.</summary>
    public const string Kind = "linear";

    /// <summary>The settings key under which training warnings (non-convergence, constant features) are kept, one per line.</summary>
    public const string WarningsKey = "warnings";

    private readonly double[] _intercepts;
    private readonly double[] _weights;
    private readonly double[] _impute;
    private readonly int[] _termStart;
    private readonly string[] _termNames;

    /// <summary>Creates a linear model; every array is checked against the signature and kept (not copied).</summary>
    /// <param name="learner">The learner that made it (logistic, linear, svm).</param>
    /// <param name="task">What it predicts.</param>
    /// <param name="signature">Inputs (categorical ones with their categories) and outputs.</param>
    /// <param name="classLabels">Class labels in index order (classification), else null.</param>
    /// <param name="transform">How margins become outputs.</param>
    /// <param name="settings">The learner's settings as text.</param>
    /// <param name="intercepts">One intercept per output.</param>
    /// <param name="weights">One weight per term and output, term-major: <c>weights[term * outputs + k]</c>.</param>
    /// <param name="imputeValues">Per input, the value a missing numeric value is replaced by (0 for categorical inputs).</param>
    /// <param name="calibrationSlope">Margin = slope · score + offset.</param>
    /// <param name="calibrationOffset">Margin = slope · score + offset.</param>
    /// <exception cref="StrataException">An array's length does not match the signature, or a value is not finite.</exception>
    public LinearModel(
        string learner,
        LearningTask task,
        ModelSignature signature,
        IReadOnlyList<string>? classLabels,
        OutputTransform transform,
        IReadOnlyDictionary<string, string> settings,
        double[] intercepts,
        double[] weights,
        double[] imputeValues,
        double calibrationSlope = 1,
        double calibrationOffset = 0)
        : base(learner, task, signature, classLabels, transform, settings)
    {
        ArgumentNullException.ThrowIfNull(intercepts);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(imputeValues);
        var inputs = signature.Inputs;
        _termStart = new int[inputs.Count + 1];
        var names = new List<string>();
        for (var f = 0; f < inputs.Count; f++)
        {
            _termStart[f] = names.Count;
            if (inputs[f].Kind == FeatureKind.Numeric)
            {
                names.Add(inputs[f].Name);
            }
            else
            {
                names.AddRange((inputs[f].Categories ?? []).Select(c => inputs[f].Name + "=" + c));
            }
        }

        _termStart[inputs.Count] = names.Count;
        _termNames = [.. names];
        var k = OutputCount;
        Require(intercepts.Length == k, $"intercepts has {intercepts.Length} elements, expected {k} (one per output)");
        Require(weights.LongLength == (long)_termNames.Length * k, $"weights has {weights.LongLength} elements, expected {(long)_termNames.Length * k} ({_termNames.Length} terms × {k} outputs)");
        Require(imputeValues.Length == inputs.Count, $"impute has {imputeValues.Length} elements, expected {inputs.Count} (one per input)");
        Require(AllFinite(intercepts) && AllFinite(weights) && AllFinite(imputeValues), "a weight, intercept or impute value is not finite");
        Require(double.IsFinite(calibrationSlope) && double.IsFinite(calibrationOffset), "the calibration is not finite");
        _intercepts = intercepts;
        _weights = weights;
        _impute = imputeValues;
        CalibrationSlope = calibrationSlope;
        CalibrationOffset = calibrationOffset;
    }

    /// <summary>One intercept per output (in original units).</summary>
    public ReadOnlySpan<double> Intercepts => _intercepts;

    /// <summary>Weights in original units, term-major: <c>Weights[term * OutputCount + k]</c>.</summary>
    public ReadOnlySpan<double> Weights => _weights;

    /// <summary>Per input, the training mean a missing numeric value is replaced by (0 for categorical inputs).</summary>
    public ReadOnlySpan<double> ImputeValues => _impute;

    /// <summary>Margin = <see cref="CalibrationSlope"/> · score + <see cref="CalibrationOffset"/> (1 and 0 unless Platt-calibrated).</summary>
    public double CalibrationSlope { get; }

    /// <summary>See <see cref="CalibrationSlope"/>.</summary>
    public double CalibrationOffset { get; }

    /// <summary>Term names in weight order: a numeric input's name, or <c>input=category</c> for each category of a categorical input.</summary>
    public IReadOnlyList<string> TermNames => _termNames;

    /// <summary>Training warnings (did not converge, constant features), empty when there were none.</summary>
    public IReadOnlyList<string> Warnings =>
        Settings.TryGetValue(WarningsKey, out var text) && text.Length > 0 ? text.Split('\n') : [];

    /// <summary>The weight of a term (see <see cref="TermNames"/>) for an output.</summary>
    /// <exception cref="KeyNotFoundException">No such term.</exception>
    public double Weight(string term, int output = 0)
    {
        var index = Array.IndexOf(_termNames, term);
        if (index < 0)
        {
            throw new KeyNotFoundException($"no term '{term}' (terms: {string.Join(", ", _termNames.Take(20))})");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(output);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(output, OutputCount);
        return _weights[(index * OutputCount) + output];
    }

    /// <inheritdoc />
    public override void PredictMargins(FeatureMatrix features, Span<double> margins)
    {
        PredictScores(features, margins);
        if (CalibrationSlope != 1 || CalibrationOffset != 0)
        {
            for (var i = 0; i < margins.Length; i++)
            {
                margins[i] = (CalibrationSlope * margins[i]) + CalibrationOffset;
            }
        }
    }

    /// <summary>Raw linear scores (before calibration), row-major like <see cref="Model.PredictMargins(FeatureMatrix, Span{double})"/>.</summary>
    public void PredictScores(FeatureMatrix features, Span<double> scores)
    {
        ArgumentNullException.ThrowIfNull(features);
        var k = OutputCount;
        var rows = features.Rows;
        if (features.Count != Signature.Inputs.Count)
        {
            throw new ArgumentException($"the model reads {Signature.Inputs.Count} features, the matrix has {features.Count}", nameof(features));
        }

        if (scores.Length != rows * k)
        {
            throw new ArgumentException($"expected {rows * k} scores, got {scores.Length}", nameof(scores));
        }

        for (var r = 0; r < rows; r++)
        {
            _intercepts.CopyTo(scores.Slice(r * k, k));
        }

        // Column by column, so each feature's values are read once, in order.
        for (var f = 0; f < features.Count; f++)
        {
            var start = _termStart[f];
            if (features.Inputs[f].Kind == FeatureKind.Numeric)
            {
                var values = features.Numeric(f);
                var w = _weights.AsSpan(start * k, k);
                var impute = _impute[f];
                for (var r = 0; r < rows; r++)
                {
                    var x = float.IsNaN(values[r]) ? impute : values[r];
                    var row = scores.Slice(r * k, k);
                    for (var c = 0; c < k; c++)
                    {
                        row[c] += w[c] * x;
                    }
                }
            }
            else
            {
                var codes = features.Codes(f);
                var categories = _termStart[f + 1] - start;
                for (var r = 0; r < rows; r++)
                {
                    // NOTE: a missing or unseen category (-1, or a code beyond training's) is all zeros in one-hot form.
                    var code = codes[r];
                    if ((uint)code < (uint)categories)
                    {
                        var w = _weights.AsSpan((start + code) * k, k);
                        var row = scores.Slice(r * k, k);
                        for (var c = 0; c < k; c++)
                        {
                            row[c] += w[c];
                        }
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    public override ModelParameters ToParameters() => new ModelParameters(Kind)
        .Add("term_count", _termNames.Length)
        .Add("intercepts", _intercepts)
        .Add("weights", _weights)
        .Add("impute", _impute)
        .Add("calibration", new[] { CalibrationSlope, CalibrationOffset });

    /// <summary>Rebuilds a linear model from a package, checking every array's length against the header's signature.</summary>
    /// <exception cref="StrataException">A missing or mistyped array, a length that does not match, or a value that is not finite.</exception>
    public static LinearModel FromParameters(ModelHeader header, ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Kind != Kind)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"model parameters of kind '{parameters.Kind}' are not a linear model");
        }

        var terms = header.Signature.Inputs.Sum(i => i.Kind == FeatureKind.Numeric ? 1L : i.Categories?.Count ?? 0);
        if (parameters.Int64("term_count") != terms)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"model parameters ({Kind}): term count {parameters.Int64("term_count")} does not match the signature's {terms}");
        }

        var outputs = header.Task == LearningTask.MulticlassClassification ? header.ClassLabels?.Count ?? 0 : 1;
        var calibration = parameters.Array<double>("calibration", 2);
        return new LinearModel(
            header.Learner,
            header.Task,
            header.Signature,
            header.ClassLabels,
            header.Transform,
            header.Settings,
            parameters.Array<double>("intercepts", outputs),
            parameters.Array<double>("weights", terms * outputs),
            parameters.Array<double>("impute", header.Signature.Inputs.Count),
            calibration[0],
            calibration[1])
        {
            Metrics = header.Metrics,
            TrainingDataFingerprint = header.TrainingDataFingerprint,
            LabelName = header.Label,
        };
    }

    /// <summary>A readable listing of the coefficients, one line per term (for logs and the CLI).</summary>
    public string Describe()
    {
        var k = OutputCount;
        var lines = new List<string>();
        for (var c = 0; c < k; c++)
        {
            var prefix = k > 1 ? $"[{ClassLabels![c]}] " : "";
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}(intercept) {_intercepts[c]:R}"));
            for (var t = 0; t < _termNames.Length; t++)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}{_termNames[t]} {_weights[(t * k) + c]:R}"));
            }
        }

        return string.Join('\n', lines);
    }

    private static bool AllFinite(double[] values)
    {
        foreach (var v in values)
        {
            if (!double.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    private static void Require(bool ok, string problem)
    {
        if (!ok)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"linear model: {problem}");
        }
    }
}
