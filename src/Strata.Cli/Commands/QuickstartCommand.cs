using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Strata.Cli.Commands;

/// <summary>`strata quickstart`: the whole lifecycle on the bundled flights sample, in a fresh home folder.</summary>
internal static class QuickstartCommand
{
    public static Command Build(GlobalOptions globals, Termination termination)
    {
        var small = new Option<bool>("--small") { Description = "Less data and a smaller tuning budget (for CI); every stage still runs" };
        var keep = new Option<bool>("--keep-serving") { Description = "Leave the server up when done, until Ctrl-C" };
        var port = new Option<int>("--port") { Description = "The loopback port to serve on (default: a free one)" };
        var command = new Command(
            "quickstart",
            "Run the whole lifecycle on the bundled flights sample in a fresh home: data (profile, schema, validation), features (training set, " +
            "online store), a training pipeline (tuning, baseline, slices, approval), serving (native API and OIP v2), monitoring (drift alert, retraining).")
            { small, keep, port };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var sample = Quickstart.FindSample()
                ?? throw new StrataException(ErrorCodes.NotFound, "samples/flights/flights-2001-sample.csv.gz was not found here or above; run from the Strata repository");
            if (parse.GetValue(port) is < 0 or > 65535)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"--port must be 0 to 65535, not {parse.GetValue(port)}");
            }

            Quickstart.CheckServerSettings();
            var home = FreshHome(parse.GetValue(globals.Home));
            var options = new QuickstartOptions(home, sample, parse.GetValue(small), parse.GetValue(port));
            var watch = Stopwatch.StartNew();
            var quickstart = new Quickstart(options, context.Json ? new Quiet() : new Lines(context.Out), termination);
            await using (quickstart.ConfigureAwait(false))
            {
                if (!context.Json)
                {
                    context.Out.MarkupLineInterpolated($"[bold]Strata quickstart[/]: the whole lifecycle on the bundled flights sample (Jan-Jun 2001){(options.Small ? " [grey](--small)[/]" : "")}");
                    context.Out.MarkupLineInterpolated($"home [bold]{home}[/]");
                }

                await quickstart.RunAsync(ct).ConfigureAwait(false);
                var seconds = Math.Round(watch.Elapsed.TotalSeconds, 1);
                var next = NextCommands(home, quickstart);
                if (context.Json)
                {
                    context.WriteJson(new
                    {
                        home,
                        small = options.Small,
                        seconds,
                        stages = quickstart.Stages.Select(s => new { name = s.Name, title = s.Title, seconds = s.Seconds, headline = s.Headline, figures = s.Figures }),
                        server = new { url = quickstart.ServerUrl, api_key = quickstart.ApiKey, kept_serving = parse.GetValue(keep) },
                        report = quickstart.ReportPath,
                        next,
                    });
                }
                else
                {
                    Summary(context.Out, quickstart, home, seconds, next);
                }

                if (parse.GetValue(keep))
                {
                    if (!context.Json)
                    {
                        context.Out.MarkupLineInterpolated($"Serving on [bold]{quickstart.ServerUrl}[/] until Ctrl-C.");
                    }

                    await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
                }
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The folder to fill: --home when it is new or empty (never one with anything in it), else a new timestamped one.</summary>
    private static string FreshHome(string? asked)
    {
        if (asked is not null)
        {
            var full = Path.GetFullPath(asked);
            if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"--home {full} is not empty; the quickstart fills a new or empty folder");
            }

            Directory.CreateDirectory(full);
            return full;
        }

        var root = Path.GetFullPath(".strata-quickstart");
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        for (var n = 0; ; n++)
        {
            var candidate = Path.Combine(root, n == 0 ? stamp : $"{stamp}-{n}");
            if (!Directory.Exists(candidate))
            {
                Directory.CreateDirectory(candidate);
                return candidate;
            }
        }
    }

    private static List<string> NextCommands(string home, Quickstart quickstart)
    {
        var h = Quote(home);
        var cli = "dotnet run -c Release --project src/Strata.Cli --";
        return
        [
            $"{cli} models show {Quickstart.ModelName} -p {Quickstart.Project} --home {h}",
            $"{cli} models promotions -p {Quickstart.Project} --home {h}",
            $"{cli} monitor status {Quickstart.Endpoint} -p {Quickstart.Project} --home {h}",
            $"{cli} pipelines runs -p {Quickstart.Project} --home {h}",
            $"{cli} lineage show model:{Quickstart.ModelName}@champion -p {Quickstart.Project} --home {h}",
            $"{cli} serve --home {h} --config {Quote(Path.Combine(home, "strata.yaml"))} --Strata:Pipelines:Folder {Quote(Path.Combine(home, "pipelines"))}",
            $"curl -s -H 'Authorization: Bearer {quickstart.ApiKey}' -H 'Content-Type: application/json' -d '{{\"rows\":[{{\"origin\":\"ORD\",\"distance\":733}}]}}' {quickstart.ServerUrl}/v1/endpoints/{Quickstart.Endpoint}/predict",
        ];
    }

    private static string Quote(string path) => path.Contains(' ', StringComparison.Ordinal) ? $"\"{path}\"" : path;

    private static void Summary(IAnsiConsole console, Quickstart quickstart, string home, double seconds, List<string> next)
    {
        console.WriteLine();
        var table = new Spectre.Console.Table().Border(TableBorder.Rounded).Title($"Done in {seconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        table.AddColumn("stage");
        table.AddColumn(new TableColumn("time").RightAligned());
        table.AddColumn("key figure");
        var i = 1;
        foreach (var stage in quickstart.Stages)
        {
            table.AddRow(Markup.Escape($"{i++}. {stage.Name}"), stage.Seconds.ToString("0.0 s", CultureInfo.InvariantCulture), Markup.Escape(stage.Headline));
        }

        console.Write(table);
        console.WriteLine();
        var where = new Spectre.Console.Table().Border(TableBorder.None).HideHeaders();
        where.AddColumn("what");
        where.AddColumn("where");
        where.AddRow("home", Markup.Escape(home));
        where.AddRow("monitoring report", Markup.Escape(quickstart.ReportPath ?? ""));
        where.AddRow("server", Markup.Escape(quickstart.ServerUrl ?? ""));
        where.AddRow("API key (admin, project flights)", Markup.Escape(quickstart.ApiKey ?? ""));
        where.AddRow("pipelines, strata.yaml", Markup.Escape($"{Path.Combine(home, "pipelines")}, {Path.Combine(home, "strata.yaml")}"));
        console.Write(where);
        console.WriteLine();
        console.MarkupLine("[bold]Next, try:[/]");
        foreach (var command in next)
        {
            console.MarkupLineInterpolated($"  {command}");
        }
    }

    /// <summary>Progress lines on the terminal: a stage's title, its steps (dimmed), and its key figure.</summary>
    private sealed class Lines(IAnsiConsole console) : IQuickstartProgress
    {
        private int _stage;

        public void StageStarted(QuickstartStage stage) => console.MarkupLineInterpolated($"[bold blue][[{++_stage}/5]][/] [bold]{stage.Title}[/]");

        public void Step(string message) => console.MarkupLineInterpolated($"      [grey]{message}[/]");

        public void StageEnded(QuickstartStage stage) =>
            console.MarkupLineInterpolated($"  [green]done[/] {stage.Headline} [grey]({stage.Seconds.ToString("0.0", CultureInfo.InvariantCulture)} s)[/]");
    }

    /// <summary>--json: nothing but the final document on stdout.</summary>
    private sealed class Quiet : IQuickstartProgress
    {
        public void StageStarted(QuickstartStage stage)
        {
        }

        public void Step(string message)
        {
        }

        public void StageEnded(QuickstartStage stage)
        {
        }
    }
}
