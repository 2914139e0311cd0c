using Strata.Pipelines;
using Strata.Stores;

namespace Strata.Tests.Pipelines;

public sealed class PipelineRunTests
{
    [Fact]
    public async Task A_pipeline_runs_end_to_end_records_lineage_and_a_second_run_is_fully_cached()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var spec = PipelineYaml.Parse(PipelineHarness.StandardYaml(), "demo.yaml");
        var events = new List<PipelineEvent>();

        var first = await h.RunAsync(spec, events: events);
        var second = await h.RunAsync(spec);

        Assert.Equal(PipelineState.Succeeded, first.State);
        var steps = await h.StepsAsync(first);
        Assert.All(steps, s => Assert.Equal(PipelineState.Succeeded, s.State));
        Assert.Equal(7, steps.Count);
        Assert.Contains(events, e => e.Kind == PipelineEventKind.Log && e.Step == "train");
        Assert.Equal(PipelineState.Succeeded, second.State);
        Assert.All(await h.StepsAsync(second), s => Assert.Equal(PipelineState.Cached, s.State));

        // Every step an execution in lineage, with its inputs and outputs; the model in lineage is the package's digest.
        var model = ArtifactDigest(steps, "train", "model");
        var found = await h.Home.Metadata.Lineage.FindArtifactsAsync(PipelineHarness.Project, "model", null, model);
        var upstream = await h.Home.Metadata.Lineage.GetUpstreamAsync(PipelineHarness.Project, found[0].Id);
        Assert.Contains(upstream.Executions, e => e.Properties["step"] == "train");
        Assert.Contains(upstream.Executions, e => e.Properties["step"] == "ingest");
        var version = await h.Home.Metadata.Registry.GetVersionAsync(PipelineHarness.Project, "demo-model", 1);
        Assert.Equal(model, version!.ArtifactDigest);
        Assert.Equal("true", version.Tags["blessed"]);
        Assert.Equal(1, (await h.Home.Metadata.Registry.GetAliasAsync(PipelineHarness.Project, "demo-model", "challenger"))!.Version);
        var pending = await h.Home.Metadata.Registry.ListPromotionsAsync(PipelineHarness.Project, "demo-model", ApprovalStatus.Pending);
        Assert.Equal("champion", Assert.Single(pending).Alias);
        Assert.Null(await h.Home.Metadata.Registry.GetAliasAsync(PipelineHarness.Project, "demo-model", "champion"));
    }

    [Fact]
    public async Task No_cache_executes_every_step_again_and_a_changed_parameter_reruns_only_its_step_and_what_follows()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var yaml = PipelineHarness.StandardYaml();
        await h.RunAsync(PipelineYaml.Parse(yaml));

        var forced = await h.RunAsync(PipelineYaml.Parse(yaml), noCache: true);
        var changed = await h.RunAsync(PipelineYaml.Parse(yaml.Replace("max_depth: 3", "max_depth: 2", StringComparison.Ordinal)));

        Assert.All(await h.StepsAsync(forced), s => Assert.Equal(PipelineState.Succeeded, s.State));
        var states = (await h.StepsAsync(changed)).ToDictionary(s => s.Step, s => s.State);
        Assert.Equal(PipelineState.Cached, states["ingest"]);
        Assert.Equal(PipelineState.Cached, states["split"]);
        Assert.Equal(PipelineState.Succeeded, states["train"]);
        Assert.Equal(PipelineState.Succeeded, states["register"]);
    }

    [Fact]
    public async Task A_step_that_throws_stops_the_run_naming_it_keeps_completed_steps_cached_and_registers_nothing()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var spec = PipelineYaml.Parse(PipelineHarness.StandardYaml().Replace("type: evaluate", "type: explode", StringComparison.Ordinal), "demo.yaml");

        var failed = await h.RunAsync(spec, extra: new ThrowingStep());
        var again = await h.RunAsync(spec, extra: new ThrowingStep());

        Assert.Equal(PipelineState.Failed, failed.State);
        Assert.Equal("step 'evaluate' failed: InvalidOperationException: the evaluator broke", failed.Error);
        var states = (await h.StepsAsync(failed)).ToDictionary(s => s.Step, s => s.State);
        Assert.Equal(PipelineState.Succeeded, states["train"]);
        Assert.Equal(PipelineState.Failed, states["evaluate"]);
        Assert.Equal(PipelineState.Skipped, states["register"]);
        Assert.Equal(PipelineState.Skipped, states["promote"]);
        Assert.Empty(await h.Home.Metadata.Registry.ListModelsAsync(PipelineHarness.Project));
        var retried = (await h.StepsAsync(again)).ToDictionary(s => s.Step, s => s.State);
        Assert.Equal(PipelineState.Cached, retried["ingest"]);
        Assert.Equal(PipelineState.Cached, retried["train"]);
        Assert.Equal(PipelineState.Failed, retried["evaluate"]);
    }

    [Fact]
    public async Task A_step_past_its_time_limit_fails_with_the_limit_named_even_when_it_ignores_cancellation()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var spec = new PipelineBuilder("slow")
            .Step("ingest", "ingest", s => s.Set("path", "data.csv"))
            .Step("sleep", "sleep", s => s.Input("data", "ingest.table").TimeLimit(TimeSpan.FromMilliseconds(200)))
            .Build();

        var run = await h.RunAsync(spec, extra: new SleepingStep());

        Assert.Equal(PipelineState.Failed, run.State);
        Assert.Equal("step 'sleep' failed: it ran out of its time limit of 200 ms", run.Error);
        Assert.Equal(PipelineState.Succeeded, (await h.StepsAsync(run)).Single(s => s.Step == "ingest").State);
    }

    [Fact]
    public async Task An_output_that_fails_its_declared_type_fails_the_step()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var spec = new PipelineBuilder("liar")
            .Step("ingest", "ingest", s => s.Set("path", "data.csv"))
            .Step("liar", "liar", s => s.Input("data", "ingest.table"))
            .Build();

        var run = await h.RunAsync(spec, extra: new WrongKindStep());

        Assert.Equal(PipelineState.Failed, run.State);
        Assert.Equal("step 'liar' failed: step 'liar' wrote a table to output 'model', which is declared a model", run.Error);
    }

    [Fact]
    public async Task A_failed_run_resumes_from_the_failed_step_without_executing_the_ones_before()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var flaky = new FlakyStep();
        var spec = new PipelineBuilder("flaky")
            .Step("ingest", "ingest", s => s.Set("path", "data.csv"))
            .Step("flaky", "flaky", s => s.Input("data", "ingest.table"))
            .Step("profile", "profile", s => s.Input("data", "flaky.data"))
            .Build();
        var failed = await h.RunAsync(spec, extra: flaky);
        Assert.Equal(PipelineState.Failed, failed.State);

        var resumed = await h.Executor(flaky).ResumeAsync(PipelineHarness.Project, failed.Id, new PipelineRunOptions());

        Assert.Equal(failed.Id, resumed.Id);
        Assert.Equal(PipelineState.Succeeded, resumed.State);
        Assert.Equal(2, flaky.Calls);
        var steps = (await h.StepsAsync(resumed)).ToDictionary(s => s.Step);
        Assert.Equal(failed.StartedAt, resumed.StartedAt);
        Assert.Equal(PipelineState.Succeeded, steps["profile"].State);
        Assert.True(steps["ingest"].EndedAt <= steps["flaky"].StartedAt);
    }

    [Fact]
    public async Task A_rerun_recomputes_from_recorded_inputs_and_reproduces_the_model_digest()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var first = await h.RunAsync(PipelineYaml.Parse(PipelineHarness.StandardYaml(tune: true)));
        Assert.Equal(PipelineState.Succeeded, first.State);

        // The data file changes afterwards: a rerun still reads what the first run read.
        await File.WriteAllTextAsync(Path.Combine(h.PipelineFolder, "data.csv"), PipelineHarness.DataCsv(50, seed: 99));
        var rerun = await h.Executor().RerunAsync(PipelineHarness.Project, first.Id, new PipelineRunOptions());

        Assert.Equal(PipelineState.Succeeded, rerun.State);
        Assert.Equal(first.Id, rerun.RerunOf);
        Assert.Equal("true", rerun.Properties[PipelineExecutor.ReproducedProperty]);
        Assert.Equal(rerun.Properties["digest.train.model"], rerun.Properties["rerun_digest.train.model"]);
        var steps = (await h.StepsAsync(rerun)).ToDictionary(s => s.Step, s => s.State);
        Assert.Equal(PipelineState.Succeeded, steps["train"]);
        Assert.Equal(PipelineState.Succeeded, steps["tune"]);
        Assert.Equal(PipelineState.Skipped, steps["register"]);
        Assert.Single(await h.Home.Metadata.Registry.ListVersionsAsync(PipelineHarness.Project, "demo-model"));
    }

    [Fact]
    public async Task An_unblessed_model_is_registered_but_not_promoted()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var run = await h.RunAsync(PipelineYaml.Parse(PipelineHarness.StandardYaml().Replace("auc >= 0.6", "auc >= 0.9999", StringComparison.Ordinal)));

        Assert.Equal(PipelineState.Succeeded, run.State);
        var version = await h.Home.Metadata.Registry.GetVersionAsync(PipelineHarness.Project, "demo-model", 1);
        Assert.Equal("false", version!.Tags["blessed"]);
        Assert.Empty(await h.Home.Metadata.Registry.ListAliasesAsync(PipelineHarness.Project, "demo-model"));
        Assert.Empty(await h.Home.Metadata.Registry.ListPromotionsAsync(PipelineHarness.Project, "demo-model", null));
    }

    [Fact]
    public async Task Auto_promotion_by_an_admin_moves_the_champion_and_the_next_evaluation_compares_with_it()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var yaml = PipelineHarness.StandardYaml().Replace("inputs: { version: register.version }", "inputs: { version: register.version }\n    parameters: { champion: auto }", StringComparison.Ordinal);
        await h.RunAsync(PipelineYaml.Parse(yaml));
        Assert.Equal(1, (await h.Home.Metadata.Registry.GetAliasAsync(PipelineHarness.Project, "demo-model", "champion"))!.Version);
        Assert.Equal(ApprovalStatus.Approved, Assert.Single(await h.Home.Metadata.Registry.ListPromotionsAsync(PipelineHarness.Project, "demo-model", null)).Status);

        var second = await h.RunAsync(PipelineYaml.Parse(yaml.Replace("max_depth: 3", "max_depth: 4", StringComparison.Ordinal)));

        var evaluation = (await h.StepsAsync(second)).Single(s => s.Step == "evaluate");
        var io = new ArtifactIo(h.Services);
        var json = await io.GetJsonAsync(ArtifactRef.Parse(evaluation.Outputs["evaluation"]), default);
        Assert.Equal("1", json["champion_version"]!.GetValue<string>());
        Assert.NotNull(json["champion"]!["slices"]!["a"]);
    }

    [Fact]
    public async Task Evaluate_scores_a_logistic_baseline_on_the_same_rows_and_bless_gates_on_beating_it()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var yaml = WithBaseline(PipelineHarness.StandardYaml(), "auc >= baseline.auc - 0.5");
        var unbeatable = WithBaseline(PipelineHarness.StandardYaml(), "auc >= baseline.auc + 1");

        var run = await h.RunAsync(PipelineYaml.Parse(yaml));
        var refused = await h.RunAsync(PipelineYaml.Parse(unbeatable));

        Assert.Equal(PipelineState.Succeeded, run.State);
        var io = new ArtifactIo(h.Services);
        var steps = await h.StepsAsync(run);
        var evaluation = await io.GetJsonAsync(ArtifactRef.Parse(steps.Single(s => s.Step == "evaluate").Outputs["evaluation"]), default);
        var baselineAuc = double.Parse(evaluation["baseline"]!["overall"]!["auc"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(baselineAuc, 0.5, 1);
        Assert.NotNull(evaluation["baseline"]!["slices"]!["a"]);
        var blessing = await io.GetJsonAsync(ArtifactRef.Parse(steps.Single(s => s.Step == "bless").Outputs["blessing"]), default);
        Assert.Equal("true", blessing["blessed"]!.GetValue<string>());
        Assert.Contains("baseline.auc", blessing["checks"]!.ToJsonString(), StringComparison.Ordinal);
        var refusedSteps = await h.StepsAsync(refused);
        var notBlessed = await io.GetJsonAsync(ArtifactRef.Parse(refusedSteps.Single(s => s.Step == "bless").Outputs["blessing"]), default);
        Assert.Equal("false", notBlessed["blessed"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_baseline_threshold_without_a_baseline_input_fails_naming_the_field()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var yaml = PipelineHarness.StandardYaml().Replace("\"auc >= 0.6\"", "\"auc >= baseline.auc\"", StringComparison.Ordinal);

        var run = await h.RunAsync(PipelineYaml.Parse(yaml));

        Assert.Equal(PipelineState.Failed, run.State);
        Assert.Contains("the evaluation has no baseline", run.Error, StringComparison.Ordinal);
    }

    /// <summary>The standard pipeline with a logistic regression trained beside the model and given to evaluate as its baseline.</summary>
    private static string WithBaseline(string yaml, string threshold) => yaml
        .Replace("""
              - name: evaluate
            """, """
              - name: baseline
                type: train
                inputs: { train: split.train }
                parameters: { label: y, features: [x1, x2, cat], learner: logistic }
              - name: evaluate
            """, StringComparison.Ordinal)
        .Replace("inputs: { model: train.model, data: split.test }", "inputs: { model: train.model, data: split.test, baseline: baseline.model }", StringComparison.Ordinal)
        .Replace("\"auc >= 0.6\"", $"\"auc >= 0.6\", \"{threshold}\"", StringComparison.Ordinal);

    [Fact]
    public async Task Ingest_refuses_a_path_that_leaves_the_pipeline_folder()
    {
        await using var h = await PipelineHarness.CreateAsync();
        await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(h.PipelineFolder)!, "secret.csv"), "a\n1\n");

        foreach (var path in new[] { "../secret.csv", "/etc/passwd", "sub/../../secret.csv" })
        {
            var run = await h.RunAsync(new PipelineBuilder("escape").Step("ingest", "ingest", s => s.Set("path", path)).Build());
            Assert.Equal(PipelineState.Failed, run.State);
            Assert.Contains("must be a relative path inside the pipeline's folder", run.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Validate_fails_the_run_on_anomalies_unless_they_are_allowed()
    {
        await using var h = await PipelineHarness.CreateAsync();
        await File.WriteAllTextAsync(Path.Combine(h.PipelineFolder, "schema.yaml"), """
            fields:
              - { name: x1, type: float64, constraints: { min: -1, max: 1 } }
              - { name: x2, type: float64 }
              - { name: cat, type: string }
              - { name: y, type: bool }
              - { name: ts, type: timestamp }
            """);
        PipelineSpec Spec(bool allow) => new PipelineBuilder("checked")
            .Step("ingest", "ingest", s => s.Set("path", "data.csv"))
            .Step("validate", "validate", s => s.Input("data", "ingest.table").Set("schema_file", "schema.yaml").Set("allow_anomalies", allow))
            .Build();

        var strict = await h.RunAsync(Spec(false));
        var lenient = await h.RunAsync(Spec(true));

        Assert.Equal(PipelineState.Failed, strict.State);
        Assert.Contains("step 'validate' failed: the data has", strict.Error + "", StringComparison.Ordinal);
        Assert.Contains("x1", strict.Error, StringComparison.Ordinal);
        Assert.Equal(PipelineState.Succeeded, lenient.State);
    }

    [Fact]
    public async Task An_edited_schema_file_is_validated_again_instead_of_taken_from_the_cache()
    {
        await using var h = await PipelineHarness.CreateAsync();
        var schema = Path.Combine(h.PipelineFolder, "schema.yaml");
        static string Schema(int bound) => $$"""
            fields:
              - { name: x1, type: float64, constraints: { min: -{{bound}}, max: {{bound}} } }
              - { name: x2, type: float64 }
              - { name: cat, type: string }
              - { name: y, type: bool }
              - { name: ts, type: timestamp }
            """;
        var spec = new PipelineBuilder("checked")
            .Step("ingest", "ingest", s => s.Set("path", "data.csv"))
            .Step("validate", "validate", s => s.Input("data", "ingest.table").Set("schema_file", "schema.yaml").Set("allow_anomalies", true))
            .Build();
        await File.WriteAllTextAsync(schema, Schema(3));

        var first = await h.StepsAsync(await h.RunAsync(spec));
        var same = await h.StepsAsync(await h.RunAsync(spec));
        await File.WriteAllTextAsync(schema, Schema(1));
        var edited = await h.StepsAsync(await h.RunAsync(spec));

        Assert.Equal(PipelineState.Cached, same.Single(s => s.Step == "validate").State);
        Assert.Equal(PipelineState.Cached, edited.Single(s => s.Step == "ingest").State);
        Assert.Equal(PipelineState.Succeeded, edited.Single(s => s.Step == "validate").State);
        Assert.NotEqual(ArtifactDigest(first, "validate", "report"), ArtifactDigest(edited, "validate", "report"));
    }

    private static string ArtifactDigest(IReadOnlyList<PipelineStepRun> steps, string step, string output) =>
        ArtifactRef.Parse(steps.Single(s => s.Step == step).Outputs[output]).Digest;

    private sealed class ThrowingStep : Strata.Pipelines.Steps.StepBase
    {
        public override string Type => "explode";

        public override IReadOnlyList<Port> Inputs => [new("model", ArtifactKind.Model), new("data", ArtifactKind.Table)];

        public override IReadOnlyList<Port> Outputs => [new("evaluation", ArtifactKind.Evaluation)];

        public override IReadOnlyList<string> Optional => ["label", "slice", "model_name"];

        public override Task RunAsync(StepContext context, CancellationToken cancellationToken) => throw new InvalidOperationException("the evaluator broke");
    }

    private sealed class SleepingStep : Strata.Pipelines.Steps.StepBase
    {
        public override string Type => "sleep";

        public override IReadOnlyList<Port> Inputs => [new("data", ArtifactKind.Table)];

        public override IReadOnlyList<Port> Outputs => [new("data", ArtifactKind.Table)];

        // Ignores its token on purpose: the executor must stop waiting anyway.
        public override Task RunAsync(StepContext context, CancellationToken cancellationToken) => Task.Delay(TimeSpan.FromSeconds(30), CancellationToken.None);
    }

    private sealed class WrongKindStep : Strata.Pipelines.Steps.StepBase
    {
        public override string Type => "liar";

        public override IReadOnlyList<Port> Inputs => [new("data", ArtifactKind.Table)];

        public override IReadOnlyList<Port> Outputs => [new("model", ArtifactKind.Model)];

        public override async Task RunAsync(StepContext context, CancellationToken cancellationToken) =>
            await context.WriteTableAsync("model", await context.TableAsync("data", cancellationToken), cancellationToken);
    }

    private sealed class FlakyStep : Strata.Pipelines.Steps.StepBase
    {
        public int Calls;

        public override string Type => "flaky";

        public override IReadOnlyList<Port> Inputs => [new("data", ArtifactKind.Table)];

        public override IReadOnlyList<Port> Outputs => [new("data", ArtifactKind.Table)];

        public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref Calls) == 1)
            {
                throw new IOException("the network blinked");
            }

            await context.WriteTableAsync("data", await context.TableAsync("data", cancellationToken), cancellationToken);
        }
    }
}
