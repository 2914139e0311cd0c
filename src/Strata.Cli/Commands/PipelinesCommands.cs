using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Strata.Features;
using Strata.Pipelines;
using Strata.Postgres;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>`strata pipelines run | validate | runs | show | resume | rerun`: declarative training pipelines on the local home.</summary>
internal static class PipelinesCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var project = RegistryCli.ProjectOption();
        var postgres = new Option<string?>("--postgres") { Description = "Keep metadata (and feature data) in PostgreSQL instead of the home's SQLite file", Recursive = true };
        var command = new Command("pipelines", "Reproducible training pipelines: a YAML DAG of steps (ingest … promote) with step caching, tuning, an evaluation gate and promotion behind approval.")
        {
            project, postgres,
        };
        project.Recursive = true;
        command.Add(Run(globals, project, postgres));
        command.Add(Validate(globals));
        command.Add(Runs(globals, project, postgres));
        command.Add(Show(globals, project, postgres));
        command.Add(Resume(globals, project, postgres));
        command.Add(Rerun(globals, project, postgres));
        return command;
    }

    private static Command Run(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var file = new Argument<string>("FILE") { Description = "The pipeline spec (YAML); ingest paths are relative to its folder" };
        var noCache = new Option<bool>("--no-cache") { Description = "Execute every step even when an earlier execution has the same cache key" };
        var command = new Command("run", "Run a pipeline: validated first, independent steps in parallel, unchanged steps taken from the cache (shown as cached).") { file, noCache };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var spec = await PipelineYaml.LoadAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            var name = parse.GetValue(project) ?? spec.Project ?? Environment.GetEnvironmentVariable("STRATA_PROJECT") ?? "default";
            await using var session = await Session.OpenAsync(parse, context, postgres, ct).ConfigureAwait(false);
            session.Executor.Validate(spec);
            await session.EnsureProjectAsync(name, ct).ConfigureAwait(false);
            var run = await session.Executor.RunAsync(spec, session.Options(name, parse.GetValue(noCache)), ct).ConfigureAwait(false);
            return await ReportAsync(context, session, run, ct).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Validate(GlobalOptions globals)
    {
        var file = new Argument<string>("FILE") { Description = "The pipeline spec (YAML)" };
        var command = new Command("validate", "Check a pipeline spec without running it: step types, inputs and their types, parameters, cycles.") { file };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var spec = await PipelineYaml.LoadAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            var scratch = Path.Combine(Path.GetTempPath(), "strata-validate");
            await using var home = await StrataHome.OpenAsync(context.Home, cancellationToken: ct).ConfigureAwait(false);
            new PipelineExecutor(new PipelineServices(home.Metadata, home.Artifacts, scratch)).Validate(spec);
            context.Out.MarkupLineInterpolated($"[green]valid:[/] pipeline [bold]{spec.Name}[/], {spec.Steps.Count} steps");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Runs(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var pipeline = new Option<string?>("--pipeline") { Description = "Only runs of this pipeline" };
        var limit = new Option<int>("--limit") { Description = "How many runs (newest first)", DefaultValueFactory = _ => 20 };
        var command = new Command("runs", "List pipeline runs, newest first.") { pipeline, limit };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var session = await Session.OpenAsync(parse, context, postgres, ct).ConfigureAwait(false);
            var name = RegistryCli.Project(parse, project);
            var runs = await session.Home.Metadata.Pipelines.ListRunsAsync(name, parse.GetValue(pipeline), parse.GetValue(limit), ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(runs.Select(Summary));
                return ExitCodes.Ok;
            }

            var view = new Spectre.Console.Table().Border(TableBorder.Rounded).AddColumn("run").AddColumn("pipeline").AddColumn("state").AddColumn("started")
                .AddColumn(new TableColumn("seconds").RightAligned()).AddColumn("executed / cached").AddColumn("rerun of");
            foreach (var run in runs)
            {
                view.AddRow(run.Id, Markup.Escape(run.Pipeline), State(run.State), Timestamp.Format(run.StartedAt), Markup.Escape(run.Properties.GetValueOrDefault("seconds", "")),
                    $"{run.Properties.GetValueOrDefault("steps_executed", "?")} / {run.Properties.GetValueOrDefault("steps_cached", "?")}", run.RerunOf ?? "");
            }

            context.Out.Write(view);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Show(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var id = new Argument<string>("RUN_ID") { Description = "The run" };
        var command = new Command("show", "Show a pipeline run: each step's state (executed, cached, failed, skipped), time, outputs and error.") { id };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var session = await Session.OpenAsync(parse, context, postgres, ct).ConfigureAwait(false);
            var name = RegistryCli.Project(parse, project);
            var runId = Names.Check("run", parse.GetValue(id));
            var run = await session.Home.Metadata.Pipelines.GetRunAsync(name, runId, ct).ConfigureAwait(false)
                ?? throw new StrataException(ErrorCodes.NotFound, $"no pipeline run '{runId}' in project '{name}'");
            await ShowAsync(context, session, run, ct).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Resume(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var id = new Argument<string>("RUN_ID") { Description = "The failed run" };
        var noCache = new Option<bool>("--no-cache") { Description = "Execute the remaining steps even when the cache has them" };
        var command = new Command("resume", "Resume a failed run from its failed step: the steps that succeeded keep their outputs.") { id, noCache };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var session = await Session.OpenAsync(parse, context, postgres, ct).ConfigureAwait(false);
            var name = RegistryCli.Project(parse, project);
            var run = await session.Executor.ResumeAsync(name, parse.GetValue(id)!, session.Options(name, parse.GetValue(noCache)), ct).ConfigureAwait(false);
            return await ReportAsync(context, session, run, ct).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Rerun(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var id = new Argument<string>("RUN_ID") { Description = "The run to reproduce" };
        var command = new Command(
            "rerun",
            "Recompute a run from its recorded inputs (ingest and training-set outputs as recorded; every other step executed again, without the cache; " +
            "register and promote not repeated) and check that every model package comes out bit-identical. Exit code 1 when one does not.")
        { id };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var session = await Session.OpenAsync(parse, context, postgres, ct).ConfigureAwait(false);
            var name = RegistryCli.Project(parse, project);
            var run = await session.Executor.RerunAsync(name, parse.GetValue(id)!, session.Options(name, noCache: true), ct).ConfigureAwait(false);
            var code = await ReportAsync(context, session, run, ct).ConfigureAwait(false);
            var reproduced = run.Properties.GetValueOrDefault(PipelineExecutor.ReproducedProperty) == "true";
            if (!context.Json)
            {
                foreach (var (key, digest) in run.Properties.Where(p => p.Key.StartsWith("digest.", StringComparison.Ordinal)).OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    var again = run.Properties.GetValueOrDefault("rerun_" + key, "");
                    context.Out.MarkupLine(Markup.Escape($"{key["digest.".Length..]}: recorded {digest}, rerun {again} ") + (digest == again ? "[green](identical)[/]" : "[red](different)[/]"));
                }

                context.Out.MarkupLine(reproduced ? "[green]reproduced:[/] every model package is bit-identical." : "[red]not reproduced:[/] a model package differs.");
            }

            return code != ExitCodes.Ok ? code : reproduced ? ExitCodes.Ok : ExitCodes.InternalError;
        });
        return command;
    }

    private static async Task<int> ReportAsync(CliContext context, Session session, PipelineRun run, CancellationToken ct)
    {
        await ShowAsync(context, session, run, ct).ConfigureAwait(false);
        return run.State == PipelineState.Succeeded ? ExitCodes.Ok : ExitCodes.InternalError;
    }

    private static async Task ShowAsync(CliContext context, Session session, PipelineRun run, CancellationToken ct)
    {
        var steps = await session.Home.Metadata.Pipelines.ListStepsAsync(run.Project, run.Id, ct).ConfigureAwait(false);
        if (context.Json)
        {
            context.WriteRegistryJson(new
            {
                run = Summary(run),
                steps = steps.Select(s => new
                {
                    step = s.Step, type = s.Type, state = s.State.ToString().ToLowerInvariant(), cache_key = s.CacheKey, seconds = Seconds(s), inputs = s.Inputs, outputs = s.Outputs,
                    error = s.Error, execution = s.ExecutionId,
                }),
            });
            return;
        }

        var view = new Spectre.Console.Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"pipeline {run.Pipeline} · run {run.Id} · {run.State.ToString().ToLowerInvariant()}"))
            .AddColumn("step").AddColumn("type").AddColumn("state").AddColumn(new TableColumn("seconds").RightAligned()).AddColumn("outputs / error");
        foreach (var s in steps)
        {
            var detail = s.Error ?? string.Join("\n", s.Outputs.Select(o => $"{o.Key} = {o.Value[..Math.Min(o.Value.Length, 24)]}…"));
            view.AddRow(Markup.Escape(s.Step), Markup.Escape(s.Type), State(s.State), Seconds(s)?.ToString("0.00", CultureInfo.InvariantCulture) ?? "", Markup.Escape(detail));
        }

        context.Out.Write(view);
        context.Out.MarkupLineInterpolated($"{run.State.ToString().ToLowerInvariant()} in {run.Properties.GetValueOrDefault("seconds", "?")} s: {run.Properties.GetValueOrDefault("steps_executed", "?")} steps executed, {run.Properties.GetValueOrDefault("steps_cached", "?")} cached.");
        if (run.Error is not null)
        {
            context.Out.MarkupLineInterpolated($"[red]{run.Error}[/]");
            context.Out.MarkupLineInterpolated($"Fix it and run [bold]strata pipelines resume {run.Id} -p {run.Project}[/] to go on from the failed step.");
        }
    }

    private static double? Seconds(PipelineStepRun s) => s is { StartedAt: { } a, EndedAt: { } b } ? (b - a) / 1e6 : null;

    private static object Summary(PipelineRun run) => new
    {
        id = run.Id, project = run.Project, pipeline = run.Pipeline, state = run.State.ToString().ToLowerInvariant(), started = Timestamp.Format(run.StartedAt),
        ended = run.EndedAt is { } e ? Timestamp.Format(e) : null, error = run.Error, rerun_of = run.RerunOf, spec_digest = run.SpecDigest, properties = run.Properties,
    };

    private static string State(PipelineState state) => state switch
    {
        PipelineState.Succeeded => "[green]executed[/]",
        PipelineState.Cached => "[blue]cached[/]",
        PipelineState.Failed => "[red]failed[/]",
        PipelineState.Skipped => "[grey]skipped[/]",
        _ => state.ToString().ToLowerInvariant(),
    };

    /// <summary>The home, the feature stores and an executor whose events stream to stderr as they happen.</summary>
    private sealed class Session : IAsyncDisposable
    {
        private readonly FeatureStores _features;
        private readonly CliContext _context;

        private Session(StrataHome home, FeatureStores features, CliContext context)
        {
            Home = home;
            _features = features;
            _context = context;
            Executor = new PipelineExecutor(new PipelineServices(home.Metadata, home.Artifacts, Path.Combine(home.Path, "tmp", "pipelines"), features,
                (connection, query, schema, ct) => PostgresSourceReader.ReadQueryAsync(connection, query, schema, ct)));
        }

        public StrataHome Home { get; }

        public PipelineExecutor Executor { get; }

        public static async Task<Session> OpenAsync(ParseResult parse, CliContext context, Option<string?> postgres, CancellationToken ct)
        {
            var connection = parse.GetValue(postgres);
            var home = await FeaturesCommands.OpenAsync(parse, postgres, context, ct).ConfigureAwait(false);
            IFeatureBackend backend = string.IsNullOrEmpty(connection) ? new EmbeddedFeatureBackend(home.Path) : new PostgresFeatureBackend(connection);
            return new Session(home, new FeatureStores(home.Metadata, backend), context);
        }

        public PipelineRunOptions Options(string project, bool noCache) => new()
        {
            Project = project,
            NoCache = noCache,
            Progress = _context.Json ? null : new Printer(_context),
        };

        public async Task EnsureProjectAsync(string project, CancellationToken ct)
        {
            if (await Home.Metadata.Projects.GetAsync(project, ct).ConfigureAwait(false) is null)
            {
                await new RegistryService(Home.Metadata, Home.Artifacts).CreateProjectAsync(Caller.Local, project, null, ct).ConfigureAwait(false);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _features.DisposeAsync().ConfigureAwait(false);
            await Home.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Prints each event as one line on stderr as it happens (synchronously, so lines keep their order).</summary>
    private sealed class Printer(CliContext context) : IProgress<PipelineEvent>
    {
        private readonly Lock _lock = new();

        public void Report(PipelineEvent value)
        {
            var (colour, word) = value.Kind switch
            {
                PipelineEventKind.StepStarted => ("yellow", "start"),
                PipelineEventKind.StepSucceeded => ("green", "done"),
                PipelineEventKind.StepCached => ("blue", "cached"),
                PipelineEventKind.StepFailed => ("red", "FAILED"),
                PipelineEventKind.StepSkipped => ("grey", "skipped"),
                PipelineEventKind.Log => ("grey", "·"),
                _ => ("bold", "run"),
            };
            lock (_lock)
            {
                context.Error.MarkupLine($"[{colour}]{Markup.Escape(word),-7}[/] {Markup.Escape(value.Step ?? "")} {Markup.Escape(value.Message)}");
            }
        }
    }
}
