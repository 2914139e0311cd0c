using System.Text.Json;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

/// <summary>`strata features plan/apply` on the local home, with the flights feature repository.</summary>
public sealed class FeatureCommandTests : IDisposable
{
    private readonly TempFolder _folder = new("cli-features");

    private string Home => _folder.File("home");

    private static string FlightsRepo => SharedData.InRepository("samples", "flights", "features");

    public void Dispose() => _folder.Dispose();

    private Task<Cli.Result> RunAsync(params string[] args) => Cli.RunAsync([.. args, "--home", Home]);

    private string CopyOfFlightsRepo(Func<string, string> edit)
    {
        var folder = Directory.CreateDirectory(_folder.File("repo-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        File.WriteAllText(Path.Combine(folder, "flights.yaml"), edit(File.ReadAllText(Path.Combine(FlightsRepo, "flights.yaml"))));
        return folder;
    }

    [Fact]
    public async Task Plan_then_apply_then_apply_again_changes_nothing()
    {
        Assert.Equal(0, (await RunAsync("projects", "create", "flights")).ExitCode);

        var plan = await RunAsync("features", "plan", "--repo", FlightsRepo, "-p", "flights");
        Assert.True(plan.ExitCode == 0, plan.Error);
        Assert.Contains("origin_hourly", plan.Out, StringComparison.Ordinal);
        Assert.Contains("flight_delay_v1", plan.Out, StringComparison.Ordinal);
        Assert.Contains("no stored definitions", plan.Out, StringComparison.Ordinal);

        var apply = await RunAsync("features", "apply", "--repo", FlightsRepo, "-p", "flights");
        Assert.True(apply.ExitCode == 0, apply.Error);
        Assert.Contains("Applied version 1", apply.Out, StringComparison.Ordinal);

        var again = await RunAsync("features", "apply", "--repo", FlightsRepo, "-p", "flights", "--json");
        Assert.Equal(0, again.ExitCode);
        using (var json = JsonDocument.Parse(again.Out))
        {
            Assert.Equal(1, json.RootElement.GetProperty("version").GetInt32());
            Assert.False(json.RootElement.GetProperty("changed").GetBoolean());
        }

        using var replan = JsonDocument.Parse((await RunAsync("features", "plan", "--repo", FlightsRepo, "-p", "flights", "--json")).Out);
        Assert.False(replan.RootElement.GetProperty("has_changes").GetBoolean());
        Assert.Equal(0, replan.RootElement.GetProperty("changes").GetArrayLength());
    }

    [Fact]
    public async Task A_definition_error_is_bad_input_with_file_and_line_on_stderr()
    {
        var repo = CopyOfFlightsRepo(yaml => yaml.Replace("    entities: [origin]\n    source: origin_hourly_stats", "    entities: [orign]\n    source: origin_hourly_stats", StringComparison.Ordinal));
        var line = File.ReadAllLines(Path.Combine(repo, "flights.yaml")).ToList().FindIndex(l => l.Contains("[orign]", StringComparison.Ordinal)) + 1;

        var result = await RunAsync("features", "plan", "--repo", repo, "-p", "flights");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains($"flights.yaml:{line}: feature view 'origin_hourly' names unknown entity 'orign'", result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task Apply_refuses_a_breaking_change_unless_forced()
    {
        Assert.Equal(0, (await RunAsync("projects", "create", "flights")).ExitCode);
        Assert.Equal(0, (await RunAsync("features", "apply", "--repo", FlightsRepo, "-p", "flights")).ExitCode);
        var retyped = CopyOfFlightsRepo(yaml => yaml.Replace("{ name: mean_delay, type: float64 }", "{ name: mean_delay, type: float32 }", StringComparison.Ordinal));

        var plan = await RunAsync("features", "plan", "--repo", retyped, "-p", "flights");
        Assert.Equal(0, plan.ExitCode);
        Assert.Contains("BREAKING", plan.Out, StringComparison.Ordinal);

        var refused = await RunAsync("features", "apply", "--repo", retyped, "-p", "flights");
        Assert.Equal(3, refused.ExitCode);
        Assert.Contains("feature 'mean_delay' type float64 → float32 (breaking)", refused.Error, StringComparison.Ordinal);

        var forced = await RunAsync("features", "apply", "--repo", retyped, "-p", "flights", "--force");
        Assert.True(forced.ExitCode == 0, forced.Error);
        Assert.Contains("Applied version 2", forced.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_to_a_missing_project_is_bad_input()
    {
        var result = await RunAsync("features", "apply", "--repo", FlightsRepo, "-p", "nope");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("no project 'nope'", result.Error, StringComparison.Ordinal);
    }
}
