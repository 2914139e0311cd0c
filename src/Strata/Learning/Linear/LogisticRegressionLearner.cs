namespace Strata.Learning.Linear;

/// <summary>
/// The <c>logistic</c> learner: binary logistic regression (one weight vector, sigmoid) or multinomial logistic
/// regression (a weight vector per class, softmax), with L2, L1 or elastic-net penalties (see
/// <see cref="LinearSolverOptions"/>). Categorical inputs are one-hot encoded, missing numbers are imputed with the
/// training mean, and the weights are stored in original units.
/// </summary>
/// <remarks>
/// Before training, <see cref="GetOutputSchema"/> cannot know the classes of a text or integer label: with no explicit
/// task it assumes multiclass unless the label is bool, and states only the <c>label</c> output until the classes are
/// known. Integer labels with more than two values need the task set to multiclass (otherwise they read as regression).
/// </remarks>
public sealed class LogisticRegressionLearner : ILearner
{
    /// <summary>The learner's name in manifests and on the command line.</summary>
    public const string LearnerName = "logistic";

    /// <summary>Creates the learner (default options when null).</summary>
    public LogisticRegressionLearner(LogisticRegressionOptions? options = null)
    {
        Options = options ?? new LogisticRegressionOptions();
    }

    /// <summary>The options.</summary>
    public LogisticRegressionOptions Options { get; }

    /// <inheritdoc />
    public string Name => LearnerName;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> Settings => Options.ToSettings();

    /// <inheritdoc />
    public ModelSignature GetOutputSchema(Schema schema, TrainingSpec spec) =>
        LinearSignatures.For(LearnerName, schema, spec, LinearSignatures.ClassificationTask(LearnerName, schema, spec, binaryOnly: false));

    /// <inheritdoc />
    public Task<Model> FitAsync(TrainingData train, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run<Model>(() => Fit(train, valid, progress, cancellationToken), cancellationToken);

    /// <summary>Trains on the calling thread (plus worker threads for the gradient).</summary>
    /// <exception cref="StrataException">A task other than classification, a class with no rows, bad options or data.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public LinearModel Fit(TrainingData train, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        LinearSignatures.RequireTask(LearnerName, train, LearningTask.BinaryClassification, LearningTask.MulticlassClassification);
        var loss = train.Task == LearningTask.BinaryClassification ? LinearLoss.Logistic : LinearLoss.Multinomial;
        return LinearTrainer.Fit(LearnerName, Options, loss, calibrate: false, train, valid, progress, cancellationToken);
    }
}
