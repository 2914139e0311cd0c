using Strata.Learning;

namespace Strata.Serving;

/// <summary>One feature's TreeSHAP contribution to a row's margin.</summary>
public sealed record Contribution(string Feature, double Value);

/// <summary>
/// What a model answered for a request's rows: labels and class probabilities (classification) or values (regression),
/// with the model version that answered and, when asked, each row's top TreeSHAP contributions.
/// </summary>
public sealed class PredictionOutput
{
    internal PredictionOutput(LoadedModel model, int rows)
    {
        Model = model.Name;
        Version = model.Version;
        Task = model.Model.Task;
        ClassLabels = model.Model.ClassLabels;
        Outputs = model.Model.Signature.Outputs;
        Rows = rows;
    }

    /// <summary>The registered model's name.</summary>
    public string Model { get; }

    /// <summary>The version that answered.</summary>
    public int Version { get; }

    /// <summary>Which side answered: champion, challenger (or shadow in the log).</summary>
    public string Role { get; internal set; } = ServingRoles.Champion;

    /// <summary>What the model predicts.</summary>
    public LearningTask Task { get; }

    /// <summary>Class labels in index order (classification).</summary>
    public IReadOnlyList<string>? ClassLabels { get; }

    /// <summary>The outputs of the model that answered (not looked up again by version: a challenger may be another model with the same number).</summary>
    public IReadOnlyList<ModelOutput> Outputs { get; }

    /// <summary>Rows answered.</summary>
    public int Rows { get; }

    /// <summary>The predicted label per row (classification).</summary>
    public string[]? Labels { get; internal set; }

    /// <summary>Class probabilities, row-major: <c>[row * classes + c]</c> (classification).</summary>
    public double[]? Probabilities { get; internal set; }

    /// <summary>The predicted value per row (regression).</summary>
    public double[]? Values { get; internal set; }

    /// <summary>Per row, the top contributions by magnitude (when asked).</summary>
    public IReadOnlyList<IReadOnlyList<Contribution>>? Explanations { get; internal set; }

    /// <summary>The entity key the canary split hashed, if any (for the log).</summary>
    internal string? StickyValue { get; set; }
}

/// <summary>The roles a model plays on an endpoint.</summary>
public static class ServingRoles
{
    /// <summary>Serves the traffic the challenger does not take.</summary>
    public const string Champion = "champion";

    /// <summary>Serves its weight of traffic.</summary>
    public const string Challenger = "challenger";

    /// <summary>Sees a copy of each request; its answers are only logged.</summary>
    public const string Shadow = "shadow";
}

/// <summary>
/// A registry version loaded and verified (the artifact store checked its digest; the package reader checked every
/// index and length), with what prediction needs at hand: input positions by name and category codes.
/// </summary>
internal sealed class LoadedModel
{
    private readonly Dictionary<string, int>?[] _codes;
    private readonly Dictionary<string, int> _inputIndex;

    // Whether no two inputs share a name: then a request with as many fields as inputs found has no unknown field.
    private readonly bool _distinctInputs;

    // How this model reads the last field layout it was sent (see LayoutFit); most traffic to a model sends one layout.
    private LayoutFit? _lastFit;

    public LoadedModel(string project, string name, int version, string digest, Model model)
    {
        Project = project;
        Name = name;
        Version = version;
        Digest = digest;
        Model = model;
        Tree = model as TreeEnsembleModel;
        var inputs = model.Signature.Inputs;
        _inputIndex = new Dictionary<string, int>(inputs.Count, StringComparer.Ordinal);
        for (var i = 0; i < inputs.Count; i++)
        {
            _inputIndex.TryAdd(inputs[i].Name, i);
        }

        _distinctInputs = _inputIndex.Count == inputs.Count;
        _codes = new Dictionary<string, int>?[inputs.Count];
        for (var i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Kind == FeatureKind.Categorical)
            {
                var codes = new Dictionary<string, int>(StringComparer.Ordinal);
                var categories = inputs[i].Categories ?? [];
                for (var c = 0; c < categories.Count; c++)
                {
                    codes.TryAdd(categories[c], c);
                }

                _codes[i] = codes;
            }
        }
    }

    public string Project { get; }

    public string Name { get; }

    public int Version { get; }

    public string Digest { get; }

    public Model Model { get; }

    public TreeEnsembleModel? Tree { get; }

    public IReadOnlyList<ModelInput> Inputs => Model.Signature.Inputs;

    /// <summary>
    /// Checks the request's fields against the signature: every input present (or filled in) with a usable kind.
    /// Returns the problems, one per field, each worded as <paramref name="naming"/> words it (default: the native API's
    /// rows of fields); an empty list means the input fits.
    /// </summary>
    public IReadOnlyList<string> Check(PredictionInput input, ISet<string> allowedExtra, RequestNaming? naming = null)
    {
        naming ??= RequestNaming.Rows;
        if (input.Layout is { } layout && Fit(layout) is { } positions)
        {
            return CheckKinds(input, positions, naming) ?? (IReadOnlyList<string>)[];
        }

        List<string>? problems = null;
        var found = 0;
        foreach (var model in Inputs)
        {
            if (!input.Fields.TryGetValue(model.Name, out var column))
            {
                (problems ??= []).Add(naming.Missing(model, service: null));
                continue;
            }

            found++;
            if ((KindProblem(model, column.Kind, naming) ?? RangeProblem(model, column, input.Rows, naming)) is { } problem)
            {
                (problems ??= []).Add(problem);
            }
        }

        if (found == input.Fields.Count && _distinctInputs)
        {
            return problems ?? (IReadOnlyList<string>)[]; // as many fields as (distinct) inputs found: none is unknown
        }

        foreach (var name in input.Fields.Keys)
        {
            if (!_inputIndex.ContainsKey(name) && !allowedExtra.Contains(name))
            {
                (problems ??= []).Add(naming.Unknown(name, Name, Version));
            }
        }

        return problems ?? (IReadOnlyList<string>)[];
    }

    /// <summary>
    /// Why this model cannot read field <paramref name="name"/> when it holds values of <paramref name="type"/> (as a
    /// feature service gives them), or null when it can or reads no such field: text only goes to a categorical input,
    /// and numbers (integers, floats, booleans, timestamps) only to a numeric one.
    /// </summary>
    public string? TypeProblem(string name, DataType type, string source)
    {
        foreach (var input in Inputs)
        {
            if (input.Name == name && (input.Kind == FeatureKind.Categorical) != (type == DataType.String))
            {
                return $"field '{name}' is {type.Name()} in {source}; {Name} version {Version} needs {Describe(input)}";
            }
        }

        return null;
    }

    /// <summary>Checks the kinds of a one-row input whose layout holds every input and nothing else, at the positions given; null when all fit.</summary>
    private List<string>? CheckKinds(PredictionInput input, int[] positions, RequestNaming naming)
    {
        List<string>? problems = null;
        for (var i = 0; i < positions.Length; i++)
        {
            // A field that is not a number holds NaN here, which RangeProblem passes.
            if ((KindProblem(Inputs[i], input.KindAt(positions[i]), naming) ?? RangeProblem(Inputs[i], input.NumberAt(positions[i]), 0, naming)) is { } problem)
            {
                (problems ??= []).Add(problem);
            }
        }

        return problems;
    }

    /// <summary>
    /// A number the model's float32 features cannot hold: it would reach the trees as an infinity, which XGBoost and
    /// scikit-learn refuse too. The first such row of a field is named.
    /// </summary>
    private static string? RangeProblem(ModelInput model, InputColumn column, int rows, RequestNaming naming)
    {
        if (column.Kind != InputKind.Number || model.Kind == FeatureKind.Categorical)
        {
            return null;
        }

        for (var r = 0; r < rows; r++)
        {
            if (RangeProblem(model, column.NumberAt(r), r, naming) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    private static string? RangeProblem(ModelInput model, double number, int row, RequestNaming naming) =>
        model.Kind == FeatureKind.Categorical || !FeatureMatrix.BeyondFloat32(number) ? null : naming.Beyond(model.Name, row, number, FeatureMatrix.BeyondFloat32Why(naming.Type(DataType.Float32)));

    /// <summary>The problem with a field of this kind for the input, or null when the input can read it (null reads as missing).</summary>
    private static string? KindProblem(ModelInput model, InputKind kind, RequestNaming naming) =>
        kind == InputKind.Null || (model.Kind == FeatureKind.Categorical ? kind == InputKind.Text : kind == InputKind.Number)
            ? null
            : naming.WrongKind(model, kind);

    /// <summary>
    /// The layout position of each input's field, when <paramref name="layout"/> holds every input and no other field;
    /// null otherwise (the input is then read by name, which names what is missing or unknown). Remembered for the last
    /// layout, which the next request most likely sends again.
    /// </summary>
    private int[]? Fit(FieldLayout layout)
    {
        var fit = Volatile.Read(ref _lastFit);
        if (fit is null || !ReferenceEquals(fit.Layout, layout))
        {
            fit = new LayoutFit(layout, Positions(layout));
            Volatile.Write(ref _lastFit, fit);
        }

        return fit.Positions;
    }

    private int[]? Positions(FieldLayout layout)
    {
        if (!_distinctInputs || layout.Count != Inputs.Count)
        {
            return null;
        }

        // The layout's names are distinct, as are the inputs': as many names, each an input, is each input once.
        var positions = new int[Inputs.Count];
        for (var j = 0; j < layout.Count; j++)
        {
            if (!_inputIndex.TryGetValue(layout.Names[j], out var i))
            {
                return null;
            }

            positions[i] = j;
        }

        return positions;
    }

    // The most inputs (and outputs) a one-row prediction keeps on the stack: at most 1 KB of features and 2 KB of margins.
    private const int MaxStackRow = 256;

    /// <summary>A layout, and where each input is in it (null when the layout does not hold exactly the inputs).</summary>
    private sealed record LayoutFit(FieldLayout Layout, int[]? Positions);

    /// <summary>
    /// Predicts every row of a checked input (see <see cref="Check"/>). <paramref name="cancellationToken"/> is checked
    /// between the rows of an explanation, the one part long enough to outlive a request's time (TreeSHAP of many rows).
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled while explaining.</exception>
    public PredictionOutput Predict(PredictionInput input, int explain, CancellationToken cancellationToken = default)
    {
        var rows = input.Rows;
        if (rows == 1 && explain == 0 && Tree is { } tree && Inputs.Count <= MaxStackRow && Model.OutputCount <= MaxStackRow)
        {
            // NOTE: the usual request, one row: its features and margins live on the stack, not in two arrays per request
            // (fewer gen-0 collections, whose pauses make the latency tail at high load).
            Span<float> row = stackalloc float[Inputs.Count];
            Span<double> margin = stackalloc double[Model.OutputCount];
            Fill(input, row);
            tree.PredictMargins(row, margin);
            return Outputs(margin, 1);
        }

        var features = new float[rows * Inputs.Count];
        Fill(input, features);
        var output = Outputs(Margins(features, rows), rows);
        if (explain > 0 && Tree is not null)
        {
            output.Explanations = Explain(features, rows, output, explain, cancellationToken);
        }

        return output;
    }

    /// <summary>
    /// Predicts several checked inputs in one call (request batching). Rows are predicted independently, so each
    /// input's output is exactly what <see cref="Predict"/> gives it alone.
    /// </summary>
    public PredictionOutput[] PredictBatch(IReadOnlyList<PredictionInput> inputs)
    {
        var n = Inputs.Count;
        var total = 0;
        foreach (var input in inputs)
        {
            total += input.Rows;
        }

        var features = new float[total * n];
        var offset = 0;
        foreach (var input in inputs)
        {
            Fill(input, features.AsSpan(offset * n, input.Rows * n));
            offset += input.Rows;
        }

        var margins = Margins(features, total);
        var k = Model.OutputCount;
        var outputs = new PredictionOutput[inputs.Count];
        offset = 0;
        for (var i = 0; i < inputs.Count; i++)
        {
            var rows = inputs[i].Rows;
            outputs[i] = Outputs(margins.AsSpan(offset * k, rows * k), rows);
            offset += rows;
        }

        return outputs;
    }

    /// <summary>Writes a checked input's rows, row-major, in signature order.</summary>
    private void Fill(PredictionInput input, Span<float> features)
    {
        var rows = input.Rows;
        var n = Inputs.Count;
        if (input.Layout is { } layout && Fit(layout) is { } positions)
        {
            for (var i = 0; i < n; i++)
            {
                features[i] = Value(i, input.NumberAt(positions[i]), input.TextAt(positions[i]));
            }

            return;
        }

        for (var i = 0; i < n; i++)
        {
            var column = input.Fields[Inputs[i].Name];
            for (var r = 0; r < rows; r++)
            {
                features[(r * n) + i] = Value(i, column.NumberOrNaN(r), column.TextOrNull(r));
            }
        }
    }

    private double[] Margins(float[] features, int rows)
    {
        var n = Inputs.Count;
        var k = Model.OutputCount;
        var margins = new double[rows * k];
        if (Tree is { } tree)
        {
            for (var r = 0; r < rows; r++)
            {
                tree.PredictMargins(features.AsSpan(r * n, n), margins.AsSpan(r * k, k));
            }
        }
        else
        {
            Model.PredictMargins(ToMatrix(features, rows), margins);
        }

        return margins;
    }

    /// <summary>An input's feature value from a field's number (NaN unless a number) and text (null unless text).</summary>
    private float Value(int input, double number, string? text)
    {
        if (_codes[input] is { } codes)
        {
            // NOTE: an unseen category reads as missing, as FeatureMatrix does for tables (code -1 → NaN).
            return text is not null && codes.TryGetValue(text, out var code) ? code : float.NaN;
        }

        return (float)number;
    }

    private PredictionOutput Outputs(ReadOnlySpan<double> margins, int rows)
    {
        var output = new PredictionOutput(this, rows);
        var k = Model.OutputCount;
        switch (Model.Task)
        {
            case LearningTask.BinaryClassification:
            {
                var labels = new string[rows];
                var probabilities = new double[rows * 2];
                for (var r = 0; r < rows; r++)
                {
                    var p = Learning.Model.Apply(Model.Transform, margins[r]);
                    probabilities[2 * r] = 1 - p;
                    probabilities[(2 * r) + 1] = p;
                    labels[r] = Model.ClassLabels![p >= 0.5 ? 1 : 0];
                }

                output.Labels = labels;
                output.Probabilities = probabilities;
                break;
            }

            case LearningTask.MulticlassClassification:
            {
                var labels = new string[rows];
                var probabilities = new double[rows * k];
                for (var r = 0; r < rows; r++)
                {
                    var row = probabilities.AsSpan(r * k, k);
                    Model.Probabilities(margins.Slice(r * k, k), row);
                    var best = 0;
                    for (var c = 1; c < k; c++)
                    {
                        best = row[c] > row[best] ? c : best;
                    }

                    labels[r] = Model.ClassLabels![best];
                }

                output.Labels = labels;
                output.Probabilities = probabilities;
                break;
            }

            default:
            {
                var values = new double[rows];
                for (var r = 0; r < rows; r++)
                {
                    values[r] = Learning.Model.Apply(Model.Transform, margins[r]);
                }

                output.Values = values;
                break;
            }
        }

        return output;
    }

    private List<IReadOnlyList<Contribution>> Explain(float[] features, int rows, PredictionOutput output, int top, CancellationToken cancellationToken)
    {
        var n = Inputs.Count;
        var explanations = new List<IReadOnlyList<Contribution>>(rows);
        for (var r = 0; r < rows; r++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var contributions = Learning.TreeShap.Contributions(Tree!, features.AsSpan(r * n, n));

            // Binary and regression explain their one margin; multiclass explains the predicted class's.
            var explained = 0;
            if (Model.Task == LearningTask.MulticlassClassification)
            {
                explained = Model.ClassLabels!.ToList().IndexOf(output.Labels![r]);
            }

            explanations.Add(Enumerable.Range(0, n)
                .Select(f => new Contribution(contributions.Features[f], contributions[explained, f]))
                .OrderByDescending(c => Math.Abs(c.Value))
                .ThenBy(c => c.Feature, StringComparer.Ordinal)
                .Take(top)
                .ToList());
        }

        return explanations;
    }

    private FeatureMatrix ToMatrix(float[] features, int rows)
    {
        var n = Inputs.Count;
        var columns = new List<(string, Column)>(n);
        for (var i = 0; i < n; i++)
        {
            if (_codes[i] is not null)
            {
                var categories = Inputs[i].Categories ?? [];
                var texts = new string?[rows];
                for (var r = 0; r < rows; r++)
                {
                    var code = features[(r * n) + i];
                    texts[r] = float.IsNaN(code) ? null : categories[(int)code];
                }

                columns.Add((Inputs[i].Name, Columns.String(texts)));
            }
            else
            {
                var values = new float[rows];
                for (var r = 0; r < rows; r++)
                {
                    values[r] = features[(r * n) + i];
                }

                columns.Add((Inputs[i].Name, Columns.Create<float>(DataType.Float32, values)));
            }
        }

        return FeatureMatrix.FromTable(Table.From([.. columns]), Inputs);
    }

    /// <summary>What an input reads, in the native API's words (<c>a number, float32</c>).</summary>
    internal static string Describe(ModelInput input) =>
        input.Kind == FeatureKind.Categorical ? $"text, {input.Type.Name()}" : $"a number, {input.Type.Name()}";

    /// <summary>What a field holds, in the native API's words (<c>text</c>).</summary>
    internal static string KindName(InputKind kind) => kind switch
    {
        InputKind.Number => "a number",
        InputKind.Text => "text",
        InputKind.Mixed => "of mixed or unsupported kinds (nested values, or numbers with text or booleans)",
        _ => "null",
    };
}
