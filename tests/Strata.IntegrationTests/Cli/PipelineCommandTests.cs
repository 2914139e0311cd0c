using System.Text.Json;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

public sealed class PipelineCommandTests : IDisposable
{
    private readonly TempFolder _folder = new("cli-pipelines");

    private string Home => _folder.File("home");

    private static string FlightsFolder => SharedData.InRepository("samples", "flights");

    public void Dispose() => _folder.Dispose();

    /// <summary>The sample pipeline, smaller: fewer rows, trials and rounds; same steps.</summary>
    private async Task<string> SmallFlightsPipelineAsync()
    {
        var folder = Path.Combine(_folder.Path, "pipeline");
        Directory.CreateDirectory(folder);
        foreach (var file in new[] { "flights-2001-sample.csv.gz", "flights.schema.yaml" })
        {
            File.Copy(Path.Combine(FlightsFolder, file), Path.Combine(folder, file));
        }

        var yaml = (await File.ReadAllTextAsync(Path.Combine(FlightsFolder, "pipeline.yaml")))
            .Replace("parameters: { path: flights-2001-sample.csv.gz }", "parameters: { path: flights-2001-sample.csv.gz, max_rows: 30000 }", StringComparison.Ordinal)
            .Replace("trials: 24", "trials: 6", StringComparison.Ordinal)
            .Replace("max_rounds: 90", "max_rounds: 30", StringComparison.Ordinal);
        Assert.Contains("max_rows: 30000", yaml, StringComparison.Ordinal);
        var path = Path.Combine(folder, "pipeline.yaml");
        await File.WriteAllTextAsync(path, yaml);
        return path;
    }

    private async Task<JsonElement> JsonAsync(params string[] args)
    {
        var result = await Cli.RunAsync([.. args, "--home", Home, "--json"]);
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Error}{result.Out}");
        return JsonDocument.Parse(result.Out).RootElement;
    }

    [Fact]
    public async Task The_flights_pipeline_runs_end_to_end_then_fully_cached_then_reruns_to_the_same_model_digest()
    {
        var pipeline = await SmallFlightsPipelineAsync();
        await JsonAsync("projects", "create", "flights");
        await JsonAsync("features", "apply", "--repo", Path.Combine(FlightsFolder, "features"), "-p", "flights");
        await JsonAsync("features", "ingest", "--repo", Path.Combine(FlightsFolder, "features"), "-p", "flights");

        var first = await JsonAsync("pipelines", "run", pipeline);
        var second = await JsonAsync("pipelines", "run", pipeline);
        var runId = first.GetProperty("run").GetProperty("id").GetString()!;
        var rerun = await JsonAsync("pipelines", "rerun", runId, "-p", "flights");

        Assert.Equal("succeeded", first.GetProperty("run").GetProperty("state").GetString());
        Assert.Equal(10, first.GetProperty("steps").GetArrayLength());
        Assert.All(first.GetProperty("steps").EnumerateArray(), s => Assert.Equal("succeeded", s.GetProperty("state").GetString()));
        Assert.All(second.GetProperty("steps").EnumerateArray(), s => Assert.Equal("cached", s.GetProperty("state").GetString()));
        var properties = rerun.GetProperty("run").GetProperty("properties");
        Assert.Equal("true", properties.GetProperty("reproduced").GetString());
        Assert.Equal(properties.GetProperty("digest.train.model").GetString(), properties.GetProperty("rerun_digest.train.model").GetString());

        // The trials are child runs of the tuning's run in tracking; the version waits for approval to become champion.
        var runs = await JsonAsync("runs", "list", "-p", "flights", "--experiment", "flights-delay");
        Assert.True(runs.ToString().Split("trial ").Length - 1 >= 6, runs.ToString());
        var shown = await JsonAsync("pipelines", "show", runId, "-p", "flights");
        Assert.Equal(runId, shown.GetProperty("run").GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_spec_error_exits_3_naming_file_line_step_and_field()
    {
        var path = _folder.WriteText("bad.yaml", "pipeline: p\nsteps:\n  - name: a\n    type: nonsense\n");

        var result = await Cli.RunAsync("pipelines", "run", path, "--home", Home);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("bad.yaml:4: step 'a': field 'type': unknown step type 'nonsense'", result.Error, StringComparison.Ordinal);
    }
}
