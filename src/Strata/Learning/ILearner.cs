namespace Strata.Learning;

/// <summary>How far training has come: the round (or iteration) and, with a validation set, its metric.</summary>
public readonly record struct TrainingProgress(int Round, int Rounds, string? Metric = null, double? TrainValue = null, double? ValidValue = null);

/// <summary>
/// A learner: states the model's signature before training (so a pipeline is checked before compute is spent), then
/// fits. Each learner takes its own <c>Options</c> record and produces its own model type.
/// </summary>
public interface ILearner
{
    /// <summary>The name used in manifests and on the command line (gbdt, logistic, linear, svm).</summary>
    string Name { get; }

    /// <summary>The options as name → value text, as stored in a model's manifest and set with <c>--set key=value</c>.</summary>
    IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>The signature a model trained on data of <paramref name="schema"/> with <paramref name="spec"/> will have.</summary>
    /// <exception cref="StrataException">The spec does not fit the schema or the learner (missing label, a task the learner cannot do).</exception>
    ModelSignature GetOutputSchema(Schema schema, TrainingSpec spec);

    /// <summary>Trains a model; <paramref name="valid"/> enables early stopping and validation metrics where the learner has them.</summary>
    Task<Model> FitAsync(TrainingData train, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default);
}
