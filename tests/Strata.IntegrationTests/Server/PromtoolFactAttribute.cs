using System.Diagnostics;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// A fact that needs Prometheus's <c>promtool</c> on the PATH. Without it the fact is skipped, unless
/// STRATA_REQUIRE_PROMTOOL=1 (as in CI), where it runs and fails instead.
/// </summary>
/// <remarks>xunit 2.9 has no dynamic skip, so the decision is made when the attribute is constructed.</remarks>
public sealed class PromtoolFactAttribute : FactAttribute
{
    public PromtoolFactAttribute()
    {
        if (Promtool.Path is null && !Promtool.Required)
        {
            Skip = $"promtool is not on the PATH ({Promtool.InstallCommand}); set STRATA_REQUIRE_PROMTOOL=1 to make this a failure";
        }
    }
}

/// <summary>Runs <c>promtool check metrics</c>, the reference linter of the text exposition format.</summary>
internal static class Promtool
{
    public const string InstallCommand = "apt-get install -y prometheus";

    public static bool Required => Environment.GetEnvironmentVariable("STRATA_REQUIRE_PROMTOOL") == "1";

    public static string? Path { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => System.IO.Path.Combine(folder, "promtool"))
        .FirstOrDefault(File.Exists);

    /// <summary>Pipes <paramref name="text"/> through <c>promtool check metrics</c>: its exit code and what it printed.</summary>
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string text)
    {
        if (Path is null)
        {
            Assert.Fail($"promtool is not on the PATH (STRATA_REQUIRE_PROMTOOL=1 makes the check mandatory; {InstallCommand})");
        }

        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("promtool did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(text);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
