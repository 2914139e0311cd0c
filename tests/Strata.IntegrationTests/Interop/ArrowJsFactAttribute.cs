using Strata.Testing;

namespace Strata.IntegrationTests.Interop;

/// <summary>
/// A fact that needs Node and the npm package apache-arrow in tests/interop/arrow-js. Without them it is skipped with
/// the command that installs them, unless STRATA_REQUIRE_INTEROP=1 (as in CI), where it runs and fails instead.
/// </summary>
/// <remarks>xunit 2.9 has no dynamic skip, so the decision is made when the attribute is constructed.</remarks>
public sealed class ArrowJsFactAttribute : FactAttribute
{
    public ArrowJsFactAttribute()
    {
        if (ArrowJs.MissingPrerequisite() is { } missing && !ArrowJs.Required)
        {
            Skip = $"{missing}; set STRATA_REQUIRE_INTEROP=1 to make this a failure";
        }
    }
}

/// <summary>Locates the Node interop peer: tests/interop/arrow-js and the node executable.</summary>
internal static class ArrowJs
{
    public const string InstallCommand = "npm ci --prefix tests/interop/arrow-js";

    public static bool Required => Environment.GetEnvironmentVariable("STRATA_REQUIRE_INTEROP") == "1";

    public static string Folder => SharedData.InRepository("tests", "interop", "arrow-js");

    public static string? Node { get; } = FindNode();

    /// <summary>What is missing to run the interop tests, or null when everything is there.</summary>
    public static string? MissingPrerequisite()
    {
        if (Node is null)
        {
            return "Node.js (node) is not on the PATH";
        }

        return Directory.Exists(Path.Combine(Folder, "node_modules", "apache-arrow"))
            ? null
            : $"apache-arrow for Node is not installed: run `{InstallCommand}` from the repository root";
    }

    private static string? FindNode()
    {
        var names = OperatingSystem.IsWindows() ? new[] { "node.exe" } : ["node"];
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(folder => names.Select(name => Path.Combine(folder, name)))
            .FirstOrDefault(File.Exists);
    }
}
