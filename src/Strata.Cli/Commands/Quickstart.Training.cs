using System.Globalization;
using System.Text.Json.Nodes;
using Strata.Monitoring;
using Strata.Pipelines;
using Strata.Security;
using Strata.Stores;

namespace Strata.Cli.Commands;

// Stage 3: the training pipeline (tune, train, a logistic baseline, evaluate with slices, bless, register, promote), the
// first version approved as champion, and its reference profile stored for monitoring.
internal sealed partial class Quickstart
{
    private int _champion;

    private async Task TrainAsync(QuickstartStage stage, CancellationToken cancellationToken)
    {
        var folder = Folder("pipelines");
        File.Copy(Path.Combine(_options.Sample, "flights.schema.yaml"), Path.Combine(folder, "flights.schema.yaml"));
        File.Copy(Path.Combine(_options.Home, "data", "flights-jan-apr.arrow"), Path.Combine(folder, "flights-jan-apr.arrow"));
        var (trials, rounds) = _options.Tuning;
        var specPath = Path.Combine(folder, "flights-delay.yaml");
        await Artifacts.DurableFile.WriteAllTextAsync(specPath, QuickstartFiles.Pipeline("flights-delay", "flights-jan-apr.arrow", trials, rounds, "0.002"), cancellationToken).ConfigureAwait(false);
        var spec = await PipelineYaml.LoadAsync(specPath, cancellationToken).ConfigureAwait(false);

        var executor = new PipelineExecutor(new PipelineServices(Home.Metadata, Home.Artifacts, Path.Combine(Home.Path, "tmp", "pipelines"), _features));
        var run = await executor.RunAsync(spec, new PipelineRunOptions { Project = Project, Progress = new PipelineSteps(_progress) }, cancellationToken).ConfigureAwait(false);
        if (run.State != PipelineState.Succeeded)
        {
            throw new StrataException(StageFailed, $"the training pipeline {run.Id} {run.State.ToString().ToLowerInvariant()}: {run.Error}");
        }

        var steps = await Home.Metadata.Pipelines.ListStepsAsync(Project, run.Id, cancellationToken).ConfigureAwait(false);
        var evaluation = await StepJsonAsync(steps, "evaluate", "evaluation", cancellationToken).ConfigureAwait(false);
        var blessing = await StepJsonAsync(steps, "bless", "blessing", cancellationToken).ConfigureAwait(false);
        var auc = Metric(evaluation["candidate"]?["overall"], "auc");
        var baselineAuc = Metric(evaluation["baseline"]?["overall"], "auc");
        var slices = (evaluation["candidate"]?["slices"] as JsonObject)?.Count ?? 0;
        var blessed = blessing["blessed"]?.GetValue<string>() == "true";

        // The first blessed version waits as challenger for a deployer's approval; the quickstart approves it.
        var pending = await Registry.ListPromotionsAsync(Caller.Local, Project, ModelName, ApprovalStatus.Pending, cancellationToken).ConfigureAwait(false);
        var request = pending.FirstOrDefault(p => p.Alias == "champion")
            ?? throw new StrataException(StageFailed, $"the first model was not blessed, so there is no champion to approve: {blessing.ToJsonString()}");
        await Registry.ApprovePromotionAsync(Caller.Local, Project, request.Id, "first version (strata quickstart)", cancellationToken).ConfigureAwait(false);
        _champion = request.Version;
        _progress.Step($"approved {ModelName} version {_champion} as champion");

        // What monitoring compares served traffic with: the training set's monitored inputs, stored with the version.
        var training = _trainingSet ?? throw new InvalidOperationException("no training set");
        var reference = await ReferenceProfiles.BuildAsync(() => new[] { training }.ToAsyncEnumerable(), QuickstartFiles.MonitoredFeatures, cancellationToken).ConfigureAwait(false);
        await ReferenceProfiles.SaveAsync(Registry, Caller.Local, Project, ModelName, _champion, reference, cancellationToken).ConfigureAwait(false);

        var version = await Registry.GetVersionAsync(Caller.Local, Project, ModelName, _champion, cancellationToken).ConfigureAwait(false);
        stage.Figures["pipeline_run"] = run.Id;
        stage.Figures["steps"] = steps.Count;
        stage.Figures["trials"] = trials;
        stage.Figures["auc"] = auc;
        stage.Figures["baseline_auc"] = baselineAuc;
        stage.Figures["pr_auc"] = Metric(evaluation["candidate"]?["overall"], "pr_auc");
        stage.Figures["test_rows"] = (long?)Metric(evaluation["candidate"]?["overall"], "rows");
        stage.Figures["slices"] = slices;
        stage.Figures["blessed"] = blessed;
        stage.Figures["version"] = _champion;
        stage.Figures["learner"] = version.Learner;
        stage.Figures["champion"] = $"{ModelName}@champion = v{_champion}";
        stage.Headline = string.Create(CultureInfo.InvariantCulture,
            $"AUC {auc:0.0000} vs logistic baseline {baselineAuc:0.0000} over {slices} origin slices; blessed, v{_champion} approved as champion");
    }

    /// <summary>The JSON output of a pipeline step (an evaluation, a blessing).</summary>
    private async Task<JsonNode> StepJsonAsync(IReadOnlyList<PipelineStepRun> steps, string step, string output, CancellationToken cancellationToken)
    {
        var reference = steps.Single(s => s.Step == step).Outputs[output];
        var digest = reference[(reference.IndexOf(':', StringComparison.Ordinal) + 1)..];
        var stream = await Home.Artifacts.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return await JsonNode.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false) ?? new JsonObject();
        }
    }

    private static double? Metric(JsonNode? metrics, string name) =>
        metrics?[name]?.GetValue<string>() is { } text ? Math.Round(double.Parse(text, CultureInfo.InvariantCulture), 6) : null;

    /// <summary>Shows a pipeline's step starts and ends as progress lines.</summary>
    private sealed class PipelineSteps(IQuickstartProgress progress) : IProgress<PipelineEvent>
    {
        public void Report(PipelineEvent value)
        {
            if (value.Kind is PipelineEventKind.StepSucceeded or PipelineEventKind.StepCached or PipelineEventKind.StepFailed)
            {
                progress.Step($"pipeline step {value.Step}: {value.Message}");
            }
        }
    }
}
