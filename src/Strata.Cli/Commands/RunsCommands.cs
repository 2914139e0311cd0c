using System.CommandLine;
using Spectre.Console;
using Strata.Api;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>`strata runs`: search, show and compare tracked runs.</summary>
internal static class RunsCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var backend = new BackendOptions();
        var runs = new Command("runs", "Experiment tracking: search, show and compare runs.");
        backend.AddTo(runs);
        runs.Add(List(globals, backend));
        runs.Add(Show(globals, backend));
        runs.Add(Compare(globals, backend));
        return runs;
    }

    private static Command List(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var experiments = new Option<string[]>("--experiment", "-e") { Description = "Only runs of these experiments (repeatable)", AllowMultipleArgumentsPerToken = true };
        var filter = new Option<string?>("--filter") { Description = "e.g. \"metrics.auc > 0.8 and params.depth = '6'\"" };
        var order = new Option<string?>("--order-by") { Description = "e.g. \"metrics.auc desc\" (default: newest first)" };
        var max = new Option<int>("--max") { Description = "Runs per page (1..10000)", DefaultValueFactory = _ => 50 };
        var page = new Option<string?>("--page-token") { Description = "The token printed after the previous page" };
        var command = new Command("list", "Search runs: filter, order, one page at a time.") { project, experiments, filter, order, max, page };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var result = await store.SearchRunsAsync(p, new RunSearchRequest
            {
                Experiments = parse.GetValue(experiments),
                Filter = parse.GetValue(filter),
                OrderBy = parse.GetValue(order),
                MaxResults = parse.GetValue(max),
                PageToken = parse.GetValue(page),
            }, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(result);
                return ExitCodes.Ok;
            }

            var metricKeys = result.Runs.SelectMany(r => r.Metrics.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Take(6).ToList();
            var table = RegistryOutput.Table(["run", "name", "status", "started", .. metricKeys]);
            foreach (var r in result.Runs)
            {
                table.Row([r.Id, r.Name, RegistryOutput.Word(r.Status), RegistryCli.Time(r.StartTime), .. metricKeys.Select(k => r.Metrics.TryGetValue(k, out var v) ? RegistryCli.Number(v) : "")]);
            }

            context.Out.Write(table);
            if (result.NextPageToken is { } token)
            {
                context.Error.MarkupLineInterpolated($"More runs: --page-token {token}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Show(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var id = new Argument<string>("RUN") { Description = "The run's id" };
        var command = new Command("show", "Show a run: status, parameters, tags, latest metrics, source.") { project, id };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var run = await store.GetRunAsync(p, parse.GetValue(id)!, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(run);
                return ExitCodes.Ok;
            }

            context.Out.MarkupLineInterpolated($"[bold]{run.Name}[/] ({run.Id}) — {RegistryOutput.Word(run.Status)}, started {RegistryCli.Time(run.StartTime)} by {run.CreatedBy}");
            var table = RegistryOutput.Table("kind", "key", "value");
            foreach (var (k, v) in run.Params.OrderBy(x => x.Key, StringComparer.Ordinal))
            {
                table.Row("param", k, v);
            }

            foreach (var (k, v) in run.Metrics.OrderBy(x => x.Key, StringComparer.Ordinal))
            {
                table.Row("metric", k, RegistryCli.Number(v));
            }

            foreach (var (k, v) in run.Tags.OrderBy(x => x.Key, StringComparer.Ordinal))
            {
                table.Row("tag", k, v);
            }

            foreach (var (k, v) in run.Source?.DataDigests ?? new Dictionary<string, string>())
            {
                table.Row("data", k, v);
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Compare(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var ids = new Argument<string[]>("RUNS") { Description = "Two or more run ids", Arity = new ArgumentArity(2, 20) };
        var command = new Command("compare", "Compare runs side by side: parameters and metrics, differences marked.") { project, ids };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var runs = new List<Run>();
            foreach (var id in parse.GetValue(ids)!)
            {
                runs.Add(await store.GetRunAsync(p, id, ct).ConfigureAwait(false));
            }

            var rows = new List<(string Kind, string Key, string?[] Values)>();
            foreach (var key in runs.SelectMany(r => r.Params.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                rows.Add(("param", key, runs.Select(r => r.Params.TryGetValue(key, out var v) ? v : null).ToArray()));
            }

            foreach (var key in runs.SelectMany(r => r.Metrics.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                rows.Add(("metric", key, runs.Select(r => r.Metrics.TryGetValue(key, out var v) ? RegistryCli.Number(v) : null).ToArray()));
            }

            if (context.Json)
            {
                context.WriteRegistryJson(new
                {
                    runs = runs.Select(r => new { r.Id, r.Name, r.Status }),
                    rows = rows.Select(r => new { kind = r.Kind, key = r.Key, values = r.Values, differs = r.Values.Distinct().Count() > 1 }),
                });
                return ExitCodes.Ok;
            }

            var table = RegistryOutput.Table(["", "key", .. runs.Select(r => $"{r.Name} ({r.Id[..Math.Min(8, r.Id.Length)]})")]);
            foreach (var (kind, key, values) in rows)
            {
                var differs = values.Distinct().Count() > 1;
                table.AddRow([Markup.Escape(kind), differs ? $"[yellow]{Markup.Escape(key)}[/]" : Markup.Escape(key), .. values.Select(v => Markup.Escape(v ?? "∅"))]);
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }
}
