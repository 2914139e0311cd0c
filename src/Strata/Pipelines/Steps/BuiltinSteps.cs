namespace Strata.Pipelines.Steps;

/// <summary>The built-in step types.</summary>
internal static class BuiltinSteps
{
    public static IEnumerable<IPipelineStep> All() =>
    [
        new IngestStep(), new ProfileStep(), new InferSchemaStep(), new ValidateStep(), new TrainingSetStep(), new SplitStep(),
        new TrainStep(), new TuneStep(), new EvaluateStep(), new BlessStep(), new RegisterStep(), new PromoteStep(),
    ];
}
