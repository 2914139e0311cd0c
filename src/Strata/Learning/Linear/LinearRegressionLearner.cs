namespace Strata.Learning.Linear;

/// <summary>
/// The <c>linear</c> learner: least-squares regression, ordinary by default, ridge, lasso or elastic net with
/// penalties (see <see cref="LinearSolverOptions"/>). Categorical inputs are one-hot encoded, missing numbers are
/// imputed with the training mean, and the weights are stored in original units. Without a penalty and with
/// collinear terms the solution is not unique; the solver, started from zero, settles on the one of smallest norm
/// in the standardised space.
/// </summary>
public sealed class LinearRegressionLearner : ILearner
{
    /// <summary>The learner's name in manifests and on the command line.</summary>
    public const string LearnerName = "linear";

    /// <summary>Creates the learner (default options when null).</summary>
    public LinearRegressionLearner(LinearRegressionOptions? options = null)
    {
        Options = options ?? new LinearRegressionOptions();
    }

    /// <summary>The options.</summary>
    public LinearRegressionOptions Options { get; }

    /// <inheritdoc />
    public string Name => LearnerName;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> Settings => Options.ToSettings();

    /// <inheritdoc />
    public ModelSignature GetOutputSchema(Schema schema, TrainingSpec spec) =>
        LinearSignatures.For(LearnerName, schema, spec, LinearSignatures.RegressionTask(LearnerName, schema, spec));

    /// <inheritdoc />
    public Task<Model> FitAsync(TrainingData train, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run<Model>(() => Fit(train, valid, progress, cancellationToken), cancellationToken);

    /// <summary>Trains on the calling thread (plus worker threads for the gradient).</summary>
    /// <exception cref="StrataException">A task other than regression, bad options or data.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public LinearModel Fit(TrainingData train, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        LinearSignatures.RequireTask(LearnerName, train, LearningTask.Regression);
        return LinearTrainer.Fit(LearnerName, Options, LinearLoss.Squared, calibrate: false, train, valid, progress, cancellationToken);
    }
}
