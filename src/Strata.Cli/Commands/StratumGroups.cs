using System.CommandLine;
using Spectre.Console;

namespace Strata.Cli.Commands;

/// <summary>
/// The command groups of the strata still being built. Each explains in --help what it will do; running one says
/// plainly that this build does not have it yet (exit code 2) instead of pretending.
/// </summary>
internal static class StratumGroups
{
    private static readonly (string Name, string Description, string Stratum)[] Groups =
    [
        ("pipelines", "Reproducible training pipelines with step caching, tuning, an evaluation gate and promotion", "Pipelines"),
    ];

    public static IEnumerable<Command> Build(GlobalOptions globals)
    {
        foreach (var (name, description, stratum) in Groups)
        {
            var command = new Command(name, $"{description}. (Not in this build yet: arrives with the {stratum} stratum.)");
            command.SetAction(parse =>
            {
                var context = CliContext.For(parse, globals);
                context.Error.MarkupLineInterpolated($"[yellow]`strata {name}` is not available in this build yet:[/] the {stratum} stratum is still being built.");
                context.Error.MarkupLine("Available now: [bold]strata data[/], [bold]features[/], [bold]projects[/], [bold]runs[/], [bold]models[/], [bold]lineage[/], [bold]artifacts[/], [bold]audit[/], [bold]auth[/], [bold]serve[/]. See [bold]strata --help[/].");
                return ExitCodes.Usage;
            });
            yield return command;
        }
    }
}
