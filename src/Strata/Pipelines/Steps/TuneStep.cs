using System.Globalization;
using System.Text.Json.Nodes;
using Strata.Learning;
using Strata.Learning.Metrics;
using Strata.Learning.Tuning;
using Strata.Stores;

namespace Strata.Pipelines.Steps;

/// <summary>
/// <c>tune</c>: searches learner options on train/valid tables (random, ASHA or TPE; a trial and a time budget; seeded)
/// → the best configuration. Every trial is a child run of the tuning's run in tracking.
/// </summary>
internal sealed class TuneStep : StepBase
{
    public override string Type => "tune";

    public override IReadOnlyList<Port> Inputs => [new("train", ArtifactKind.Table), new("valid", ArtifactKind.Table)];

    public override IReadOnlyList<Port> Outputs => [new("config", ArtifactKind.Config)];

    public override IReadOnlyList<string> Required => ["label", "space"];

    public override IReadOnlyList<string> Optional =>
        [.. LearnerParameters.Names.Where(n => n != "label"), "algorithm", "trials", "time_budget", "metric", "min_rounds", "max_rounds", "eta", "parallelism", "experiment"];

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var learnerName = context.String("learner") ?? "gbdt";
        var spec = LearnerParameters.Spec(context);
        var metric = context.String("metric") ?? MetricNames.RocAuc;
        var space = SearchSpace.Parse(context.Map("space"));
        var options = new TuningOptions
        {
            Algorithm = (context.String("algorithm") ?? "tpe") switch
            {
                "random" => TuningAlgorithm.Random,
                "asha" => TuningAlgorithm.Asha,
                "tpe" => TuningAlgorithm.Tpe,
                var other => throw context.Bad("parameters.algorithm", $"must be random, asha or tpe, not '{other}'"),
            },
            Trials = context.Int("trials", 20),
            TimeBudget = context.String("time_budget") is { } budget
                ? PipelineYaml.ParseDuration(budget) ?? throw context.Bad("parameters.time_budget", $"'{budget}' is not a duration")
                : null,
            Seed = (ulong)context.Int("seed", 0),
            Parallelism = context.Int("parallelism", 2),
            Maximize = LearnerParameters.HigherIsBetter(metric),
            MinResource = context.Int("min_rounds", 10),
            MaxResource = context.Int("max_rounds", 100),
            Eta = context.Int("eta", 3),
        };
        var trainTable = await context.TableAsync("train", cancellationToken).ConfigureAwait(false);
        var validTable = await context.TableAsync("valid", cancellationToken).ConfigureAwait(false);
        var train = TrainingData.FromTable(trainTable, spec);
        var valid = TrainingData.FromTable(validTable, spec, like: train);
        Learners.Create(learnerName, LearnerParameters.Settings(context, learnerName)).GetOutputSchema(trainTable.Schema, spec with { Task = train.Task });

        var tracking = await TrialTracking.StartAsync(context, learnerName, options, cancellationToken).ConfigureAwait(false);
        var result = await Tuner.RunAsync(
            space,
            options,
            async (trial, ct) =>
            {
                var settings = LearnerParameters.Settings(context, learnerName, trial.Settings);
                settings[Tuner.ResourceSetting] = trial.Resource.ToString(CultureInfo.InvariantCulture);
                var model = await Learners.Create(learnerName, settings).FitAsync(train, valid, cancellationToken: ct).ConfigureAwait(false);
                var report = Evaluation.Evaluate(model, validTable, spec.Label);
                return report.Overall.Values.TryGetValue(metric, out var score) ? score
                    : throw context.Bad("parameters.metric", $"'{metric}' is not a metric of this task (metrics: {string.Join(", ", report.Overall.Values.Keys)})");
            },
            async (trial, ct) =>
            {
                context.Log($"trial {trial.Number} @ {trial.Resource} rounds: {metric} {trial.Score:0.#####}");
                await tracking.RecordAsync(trial, metric, ct).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
        await tracking.EndAsync(result, metric, cancellationToken).ConfigureAwait(false);

        var best = LearnerParameters.Settings(context, learnerName, result.BestSettings);
        context.Log($"best: trial {result.BestTrial}, {metric} {result.BestScore:0.#####} ({result.Trials.Select(t => t.Number).Distinct().Count()} trials)");
        await context.WriteJsonAsync("config", ArtifactKind.Config, new JsonObject
        {
            ["learner"] = learnerName,
            ["metric"] = metric,
            ["score"] = result.BestScore.ToString("R", CultureInfo.InvariantCulture),
            ["trial"] = result.BestTrial.ToString(CultureInfo.InvariantCulture),
            ["trials"] = result.Trials.Select(t => t.Number).Distinct().Count().ToString(CultureInfo.InvariantCulture),
            ["settings"] = new JsonObject(best.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => KeyValuePair.Create(s.Key, (JsonNode?)JsonValue.Create(s.Value)))),
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The tuning as a run, each trial a child run (its parameters, its metric per resource, stopped early or not).</summary>
    private sealed class TrialTracking
    {
        private readonly StepContext _context;
        private readonly string _experiment;
        private readonly string _parent;
        private readonly Dictionary<int, string> _children = [];

        private TrialTracking(StepContext context, string experiment, string parent)
        {
            _context = context;
            _experiment = experiment;
            _parent = parent;
        }

        public static async Task<TrialTracking> StartAsync(StepContext context, string learner, TuningOptions options, CancellationToken cancellationToken)
        {
            var registry = context.Services.Registry;
            var experiment = context.String("experiment") ?? context.Pipeline.Name;
            if (await context.Services.Metadata.Tracking.GetExperimentAsync(context.Project, experiment, cancellationToken).ConfigureAwait(false) is null)
            {
                try
                {
                    await registry.CreateExperimentAsync(context.Caller, context.Project, experiment, null, cancellationToken).ConfigureAwait(false);
                }
                catch (StrataException e) when (e.Code == ErrorCodes.Conflict)
                {
                    // Another tuning made it first.
                }
            }

            var parent = await registry.CreateRunAsync(context.Caller, context.Project, experiment, new RunSpec
            {
                Name = $"tune {context.Step.Name} ({context.Pipeline.Name})",
                Params = new Dictionary<string, string>
                {
                    ["learner"] = learner, ["algorithm"] = options.Algorithm.ToString().ToLowerInvariant(),
                    ["trials"] = options.Trials.ToString(CultureInfo.InvariantCulture), ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
                },
                Tags = new Dictionary<string, string> { ["pipeline"] = context.Pipeline.Name, ["pipeline_run"] = context.RunId, ["step"] = context.Step.Name },
            }, cancellationToken).ConfigureAwait(false);
            return new TrialTracking(context, experiment, parent.Id);
        }

        public async Task RecordAsync(TrialResult trial, string metric, CancellationToken cancellationToken)
        {
            // The tuner reports trials one at a time, so no two calls overlap.
            var registry = _context.Services.Registry;
            if (!_children.TryGetValue(trial.Number, out var child))
            {
                child = (await registry.CreateRunAsync(_context.Caller, _context.Project, _experiment, new RunSpec
                {
                    Name = $"trial {trial.Number}",
                    Params = trial.Settings.Where(s => Names.IsValid(s.Key, NameKind.Key)).ToDictionary(s => s.Key, s => s.Value),
                    Tags = new Dictionary<string, string> { ["trial"] = trial.Number.ToString(CultureInfo.InvariantCulture) },
                    ParentRunId = _parent,
                }, cancellationToken).ConfigureAwait(false)).Id;
                _children[trial.Number] = child;
            }

            if (double.IsFinite(trial.Score))
            {
                await registry.LogBatchAsync(_context.Caller, _context.Project, child, [new MetricPoint(metric, trial.Score, trial.Resource, 0)], null, null, cancellationToken).ConfigureAwait(false);
            }
        }

        public async Task EndAsync(TuningResult result, string metric, CancellationToken cancellationToken)
        {
            var registry = _context.Services.Registry;
            foreach (var (number, child) in _children.OrderBy(c => c.Key))
            {
                var stopped = result.Trials.Where(t => t.Number == number).MaxBy(t => t.Resource)?.StoppedEarly ?? false;
                await registry.LogBatchAsync(_context.Caller, _context.Project, child, null, null,
                    new Dictionary<string, string> { ["stopped_early"] = stopped ? "true" : "false", ["best"] = number == result.BestTrial ? "true" : "false" }, cancellationToken).ConfigureAwait(false);
                await registry.EndRunAsync(_context.Caller, _context.Project, child, RunStatus.Finished, cancellationToken).ConfigureAwait(false);
            }

            if (double.IsFinite(result.BestScore))
            {
                await registry.LogBatchAsync(_context.Caller, _context.Project, _parent, [new MetricPoint($"best.{metric}", result.BestScore, 0, 0)], null,
                    new Dictionary<string, string> { ["best_trial"] = result.BestTrial.ToString(CultureInfo.InvariantCulture) }, cancellationToken).ConfigureAwait(false);
            }

            await registry.EndRunAsync(_context.Caller, _context.Project, _parent, RunStatus.Finished, cancellationToken).ConfigureAwait(false);
        }
    }
}
