namespace Strata.Learning.Linear;

/// <summary>
/// The <c>svm</c> learner: a binary linear support vector machine with the squared hinge loss, solved by L-BFGS (or
/// OWL-QN with L1). The model's <see cref="LinearModel.PredictScores"/> gives the SVM's decision value; its probability
/// output is Platt-scaled (see <see cref="LinearSvmOptions.Calibrate"/>), so the predicted label flips where the
/// calibrated probability crosses 0.5, which need not be exactly where the score crosses 0.
/// </summary>
public sealed class LinearSvmLearner : ILearner
{
    /// <summary>The learner's name in manifests and on the command line.</summary>
    public const string LearnerName = "svm";

    /// <summary>Creates the learner (default options when null).</summary>
    public LinearSvmLearner(LinearSvmOptions? options = null)
    {
        Options = options ?? new LinearSvmOptions();
    }

    /// <summary>The options.</summary>
    public LinearSvmOptions Options { get; }

    /// <inheritdoc />
    public string Name => LearnerName;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> Settings => Options.ToSettings();

    /// <inheritdoc />
    public ModelSignature GetOutputSchema(Schema schema, TrainingSpec spec) =>
        LinearSignatures.For(LearnerName, schema, spec, LinearSignatures.ClassificationTask(LearnerName, schema, spec, binaryOnly: true));

    /// <inheritdoc />
    public Task<Model> FitAsync(TrainingData train, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run<Model>(() => Fit(train, valid, progress, cancellationToken), cancellationToken);

    /// <summary>Trains on the calling thread (plus worker threads for the gradient).</summary>
    /// <exception cref="StrataException">A task other than binary classification, a class with no rows, bad options or data.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public LinearModel Fit(TrainingData train, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        LinearSignatures.RequireTask(LearnerName, train, LearningTask.BinaryClassification);
        return LinearTrainer.Fit(LearnerName, Options, LinearLoss.SquaredHinge, Options.Calibrate, train, valid, progress, cancellationToken);
    }
}
