using System.CommandLine;

namespace Strata.Cli.Commands;

// `strata data profile | schema | validate`: built on mergeable profiles (wired when profiling lands).
internal static partial class DataCommands
{
    private static void AddProfileCommands(Command data, GlobalOptions globals)
    {
    }
}
