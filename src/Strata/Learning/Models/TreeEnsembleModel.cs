namespace Strata.Learning;

/// <summary>A model made of trees: gradient-boosted trees trained by Strata or imported from XGBoost.</summary>
/// <remarks>
/// Predictions go through a <see cref="CompiledTreeEnsemble"/> built on first use (once, whichever thread asks first);
/// <see cref="TreeEnsemble.PredictRow"/> stays the reference it must match. The ensemble's arrays must not change after
/// the model has predicted.
/// </remarks>
public sealed class TreeEnsembleModel : Model
{
    private readonly Lazy<CompiledTreeEnsemble> _compiled;

    /// <summary>Creates a tree model.</summary>
    public TreeEnsembleModel(
        string learner,
        LearningTask task,
        ModelSignature signature,
        IReadOnlyList<string>? classLabels,
        OutputTransform transform,
        IReadOnlyDictionary<string, string> settings,
        TreeEnsemble ensemble)
        : base(learner, task, signature, classLabels, transform, settings)
    {
        ArgumentNullException.ThrowIfNull(ensemble);
        if (ensemble.FeatureCount != signature.Inputs.Count)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"the trees read {ensemble.FeatureCount} features but the signature has {signature.Inputs.Count} inputs");
        }

        if (ensemble.OutputCount != OutputCount)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"the trees have {ensemble.OutputCount} outputs but a {task.Name()} model has {OutputCount}");
        }

        Ensemble = ensemble;
        _compiled = new Lazy<CompiledTreeEnsemble>(() => CompiledTreeEnsemble.Compile(ensemble), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The parameter kind of tree models in a package.</summary>
    public const string Kind = "tree_ensemble";

    /// <summary>The trees.</summary>
    public TreeEnsemble Ensemble { get; }

    /// <summary>The trees laid out for prediction (compiled on first use).</summary>
    public CompiledTreeEnsemble Compiled => _compiled.Value;

    /// <inheritdoc />
    public override ModelParameters ToParameters() => new ModelParameters(Kind)
        .Add("feature_count", Ensemble.FeatureCount)
        .Add("base_margins", Ensemble.BaseMargins)
        .Add("tree_starts", Ensemble.TreeStarts)
        .Add("tree_outputs", Ensemble.TreeOutputs)
        .Add("split_feature", Ensemble.SplitFeature)
        .Add("threshold", Ensemble.Threshold)
        .Add("left_child", Ensemble.LeftChild)
        .Add("right_child", Ensemble.RightChild)
        .Add("flags", Ensemble.Flags)
        .Add("leaf_value", Ensemble.LeafValue)
        .Add("cover", Ensemble.Cover)
        .Add("gain", Ensemble.Gain)
        .Add("category_start", Ensemble.CategoryStart)
        .Add("category_length", Ensemble.CategoryLength)
        .Add("category_bits", Ensemble.CategoryBits);

    /// <summary>Rebuilds a tree model from a package; the ensemble validates every index and child pointer.</summary>
    public static TreeEnsembleModel FromParameters(ModelHeader header, ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(parameters);
        var featureCount = parameters.Int64("feature_count");
        if (featureCount is < 0 or > int.MaxValue)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"model parameters ({Kind}): feature count {featureCount} is out of range");
        }

        var splitFeature = parameters.Array<int>("split_feature");
        var nodes = splitFeature.LongLength;
        var treeOutputs = parameters.Array<int>("tree_outputs");
        var ensemble = new TreeEnsemble(
            (int)featureCount,
            parameters.Array<double>("base_margins"),
            parameters.Array<int>("tree_starts", treeOutputs.LongLength + 1),
            treeOutputs,
            splitFeature,
            parameters.Array<float>("threshold", nodes),
            parameters.Array<int>("left_child", nodes),
            parameters.Array<int>("right_child", nodes),
            parameters.Array<byte>("flags", nodes),
            parameters.Array<double>("leaf_value", nodes),
            parameters.Array<double>("cover", nodes),
            parameters.Array<double>("gain", nodes),
            parameters.Array<int>("category_start", nodes),
            parameters.Array<int>("category_length", nodes),
            parameters.Array<uint>("category_bits"));
        return new TreeEnsembleModel(header.Learner, header.Task, header.Signature, header.ClassLabels, header.Transform, header.Settings, ensemble)
        {
            Metrics = header.Metrics,
            TrainingDataFingerprint = header.TrainingDataFingerprint,
            LabelName = header.Label,
        };
    }

    /// <inheritdoc />
    public override void PredictMargins(FeatureMatrix features, Span<double> margins)
    {
        ArgumentNullException.ThrowIfNull(features);
        Compiled.PredictMargins(features, margins);
    }

    /// <summary>One row's margins (<see cref="Model.OutputCount"/> of them), allocating nothing; NaN marks a missing value.</summary>
    public void PredictMargins(ReadOnlySpan<float> row, Span<double> margins) => Compiled.PredictMargins(row, margins);
}
