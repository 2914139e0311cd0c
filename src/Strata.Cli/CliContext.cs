using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Strata.Data;

namespace Strata.Cli;

/// <summary>
/// What every command needs from the command line: where state lives (--home), whether to print JSON (--json), and
/// consoles. Tables and messages go to stdout; progress and errors go to stderr, so stdout stays clean for pipes.
/// </summary>
internal sealed class CliContext
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The context of an invoked command, writing where the invocation's configuration says.</summary>
    public static CliContext For(ParseResult parse, GlobalOptions options)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return new(parse, options, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
    }

    public CliContext(ParseResult parse, GlobalOptions options, TextWriter stdout, TextWriter stderr)
    {
        Json = parse.GetValue(options.Json);
        Home = ResolveHome(parse.GetValue(options.Home));
        var color = !parse.GetValue(options.NoColor) && Environment.GetEnvironmentVariable("NO_COLOR") is null;
        Out = CreateConsole(stdout, color && !Console.IsOutputRedirected, Console.IsOutputRedirected);
        Error = CreateConsole(stderr, color && !Console.IsErrorRedirected, Console.IsErrorRedirected);
        Interactive = !Console.IsErrorRedirected && !Json;
        StdOut = stdout;
    }

    /// <summary>True when the caller asked for machine-readable output.</summary>
    public bool Json { get; }

    /// <summary>Strata's state folder (not created until a command needs it).</summary>
    public string Home { get; }

    /// <summary>Human output.</summary>
    public IAnsiConsole Out { get; }

    /// <summary>Progress, warnings and errors.</summary>
    public IAnsiConsole Error { get; }

    /// <summary>True when a person is watching stderr (progress bars make sense).</summary>
    public bool Interactive { get; }

    private TextWriter StdOut { get; }

    /// <summary>Prints an object as JSON on stdout.</summary>
    public void WriteJson<T>(T value)
    {
        StdOut.WriteLine(JsonSerializer.Serialize(value, JsonOptions));
        StdOut.Flush();
    }

    /// <summary>Prints plain text on stdout, as is (YAML, CSV).</summary>
    public void WriteText(string text)
    {
        StdOut.Write(text);
        StdOut.Flush();
    }

    /// <summary>Prints raw JSON text on stdout.</summary>
    public void WriteJsonText(string json)
    {
        StdOut.WriteLine(json);
        StdOut.Flush();
    }

    /// <summary>Prints a read's warnings on stderr (not in --json mode, where they are part of the output).</summary>
    public void ShowWarnings(ReadReport report)
    {
        if (Json)
        {
            return;
        }

        foreach (var warning in report.Warnings)
        {
            Error.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
        }

        if (report.MoreWarnings > 0)
        {
            Error.MarkupLineInterpolated($"[yellow]warning:[/] … and {report.MoreWarnings} more");
        }
    }

    /// <summary>
    /// Runs work that reports read progress; on a terminal, a progress bar appears if the work is still going after a
    /// second, so quick commands stay quiet.
    /// </summary>
    public async Task<T> WithProgressAsync<T>(string description, Func<IProgress<ReadProgress>, Task<T>> work)
    {
        var latest = new LatestProgress();
        var task = work(latest);
        if (!Interactive || await Task.WhenAny(task, Task.Delay(1000)).ConfigureAwait(false) == task)
        {
            return await task.ConfigureAwait(false);
        }

        await Error.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                var bar = ctx.AddTask(Markup.Escape(description), maxValue: 1);
                while (!task.IsCompleted)
                {
                    var p = latest.Value;
                    if (p.TotalBytes > 0)
                    {
                        var fraction = (p.Pass - 1 + ((double)p.Bytes / p.TotalBytes)) / Math.Max(1, p.Passes);
                        bar.Value = Math.Clamp(fraction, 0, 1);
                        bar.Description = Markup.Escape(p.Passes > 1 ? $"{description} (pass {p.Pass} of {p.Passes})" : description);
                    }

                    await Task.WhenAny(task, Task.Delay(100)).ConfigureAwait(false);
                }

                bar.Value = 1;
            }).ConfigureAwait(false);
        return await task.ConfigureAwait(false);
    }

    /// <summary>
    /// Runs training with a progress bar on a terminal (after a second, as for reads) showing the round and, with a
    /// validation set, the metric per round.
    /// </summary>
    public async Task<T> WithTrainingProgressAsync<T>(string description, Func<IProgress<Strata.Learning.TrainingProgress>, Task<T>> work)
    {
        var latest = new Latest<Strata.Learning.TrainingProgress>();
        var task = work(latest);
        if (!Interactive || await Task.WhenAny(task, Task.Delay(1000)).ConfigureAwait(false) == task)
        {
            return await task.ConfigureAwait(false);
        }

        await Error.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                var bar = ctx.AddTask(Markup.Escape(description), maxValue: 1);
                while (!task.IsCompleted)
                {
                    var p = latest.Value;
                    if (p.Rounds > 0)
                    {
                        bar.Value = Math.Clamp((double)p.Round / p.Rounds, 0, 1);
                        var metric = p.ValidValue is { } v ? $", valid {p.Metric} {v:0.#####}" : p.TrainValue is { } t ? $", train {p.Metric} {t:0.#####}" : "";
                        bar.Description = Markup.Escape($"{description}: round {p.Round}/{p.Rounds}{metric}");
                    }

                    await Task.WhenAny(task, Task.Delay(100)).ConfigureAwait(false);
                }

                bar.Value = 1;
            }).ConfigureAwait(false);
        return await task.ConfigureAwait(false);
    }

    private static string ResolveHome(string? option)
    {
        var home = option ?? Environment.GetEnvironmentVariable("STRATA_HOME") ?? ".strata";
        return Path.GetFullPath(home);
    }

    private static IAnsiConsole CreateConsole(TextWriter writer, bool color, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = color ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = color ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = color ? InteractionSupport.Detect : InteractionSupport.No,
        });

        // Piped output has no terminal width; tables read better in a log at $COLUMNS or 160 than wrapped at 80.
        if (redirected)
        {
            console.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns > 40 ? columns : 160;
        }

        return console;
    }

    private sealed class LatestProgress : Latest<ReadProgress>;

    /// <summary>Keeps the last reported value (progress arrives from worker threads).</summary>
    private class Latest<T> : IProgress<T>
        where T : struct
    {
        private readonly Lock _lock = new();
        private T _value;

        public T Value
        {
            get
            {
                lock (_lock)
                {
                    return _value;
                }
            }
        }

        public void Report(T value)
        {
            lock (_lock)
            {
                _value = value;
            }
        }
    }
}

/// <summary>Options every command accepts.</summary>
internal sealed class GlobalOptions
{
    public Option<bool> Json { get; } = new("--json") { Description = "Print machine-readable JSON on stdout instead of tables", Recursive = true };

    public Option<string?> Home { get; } = new("--home") { Description = "Strata's state folder (default: $STRATA_HOME, else ./.strata)", Recursive = true };

    public Option<bool> NoColor { get; } = new("--no-color") { Description = "Never use colours (also: NO_COLOR=1)", Recursive = true };
}
