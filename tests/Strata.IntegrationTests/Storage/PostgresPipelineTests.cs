using System.Globalization;
using System.Text;
using Strata.Pipelines;
using Strata.Postgres;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Storage;

[RequiresPostgres]
public sealed class PostgresPipelineTests : IDisposable
{
    private readonly TempFolder _folder = new("pg-pipelines");

    public void Dispose() => _folder.Dispose();

    [BackendFact]
    public async Task A_pipeline_on_postgresql_metadata_runs_then_runs_fully_cached_and_registers_once()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var metadata = await PostgresMetadataStore.OpenAsync(database.ConnectionString);
        await using var home = await StrataHome.OpenAsync(_folder.File("home"), metadata);
        await new RegistryService(home.Metadata, home.Artifacts).CreateProjectAsync(Caller.Local, "demo", null);
        var data = new StringBuilder("x,y\n");
        var random = new Random(5);
        for (var i = 0; i < 400; i++)
        {
            var x = random.NextDouble();
            data.Append(x.ToString("0.###", CultureInfo.InvariantCulture)).Append(',').Append(x + (random.NextDouble() * 0.4) > 0.7 ? "true" : "false").Append('\n');
        }

        _folder.WriteText("data.csv", data.ToString());
        var spec = new PipelineBuilder("pg").Folder(_folder.Path)
            .Step("ingest", "ingest", s => s.Set("path", "data.csv"))
            .Step("split", "split", s => s.Input("data", "ingest.table").Set("seed", 1))
            .Step("train", "train", s => s.Input("train", "split.train").Set("label", "y").Set("settings", new System.Text.Json.Nodes.JsonObject { ["num_boost_round"] = "5" }))
            .Step("register", "register", s => s.Input("model", "train.model").Set("model_name", "pg-model"))
            .Build();
        var executor = new PipelineExecutor(new PipelineServices(home.Metadata, home.Artifacts, _folder.File("tmp")));

        var first = await executor.RunAsync(spec, new PipelineRunOptions { Project = "demo" });
        var second = await executor.RunAsync(spec, new PipelineRunOptions { Project = "demo" });

        Assert.Equal(PipelineState.Succeeded, first.State);
        Assert.All(await home.Metadata.Pipelines.ListStepsAsync("demo", second.Id), s => Assert.Equal(PipelineState.Cached, s.State));
        Assert.Single(await home.Metadata.Registry.ListVersionsAsync("demo", "pg-model"));
        Assert.Equal(2, (await home.Metadata.Pipelines.ListRunsAsync("demo", null, 10)).Count);
    }
}
