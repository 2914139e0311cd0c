using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Strata.Pipelines;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Pipelines;

/// <summary>A home with a project, a data file in a pipeline folder, and an executor (with extra step types when given).</summary>
internal sealed class PipelineHarness : IAsyncDisposable
{
    private readonly TempFolder _folder;

    private PipelineHarness(TempFolder folder, StrataHome home, string pipelineFolder)
    {
        _folder = folder;
        Home = home;
        PipelineFolder = pipelineFolder;
    }

    public StrataHome Home { get; }

    public string PipelineFolder { get; }

    public const string Project = "demo";

    public PipelineServices Services => new(Home.Metadata, Home.Artifacts, Path.Combine(Home.Path, "tmp"));

    public static async Task<PipelineHarness> CreateAsync(int rows = 1500)
    {
        var folder = new TempFolder("pipelines");
        var home = await StrataHome.OpenAsync(folder.File("home"));
        var pipelineFolder = Path.Combine(folder.Path, "pipeline");
        Directory.CreateDirectory(pipelineFolder);
        await File.WriteAllTextAsync(Path.Combine(pipelineFolder, "data.csv"), DataCsv(rows, seed: 11));
        var harness = new PipelineHarness(folder, home, pipelineFolder);
        await new Registry.RegistryService(home.Metadata, home.Artifacts).CreateProjectAsync(Caller.Local, "demo", null);
        return harness;
    }

    public PipelineExecutor Executor(params IPipelineStep[] extra) =>
        new(Services, StepCatalog.Builtin().With(extra));

    public Task<PipelineRun> RunAsync(PipelineSpec spec, bool noCache = false, List<PipelineEvent>? events = null, params IPipelineStep[] extra) =>
        Executor(extra).RunAsync(spec with { Folder = spec.Folder ?? PipelineFolder }, new PipelineRunOptions { Project = Project, NoCache = noCache, Progress = events is null ? null : new Collect(events) });

    public async Task<IReadOnlyList<PipelineStepRun>> StepsAsync(PipelineRun run) => await Home.Metadata.Pipelines.ListStepsAsync(Project, run.Id);

    /// <summary>A small binary problem: y depends on x1, x2 and the category; ts orders the rows.</summary>
    public static string DataCsv(int rows, int seed)
    {
        var random = new Random(seed);
        var sb = new StringBuilder("ts,x1,x2,cat,y\n");
        var start = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        string[] cats = ["a", "b", "c"];
        for (var i = 0; i < rows; i++)
        {
            var x1 = random.NextDouble() * 4 - 2;
            var x2 = random.NextDouble() * 4 - 2;
            var cat = cats[random.Next(3)];
            var margin = x1 - 0.5 * x2 + (cat == "a" ? 0.8 : 0) + (random.NextDouble() - 0.5) * 1.5;
            sb.Append(start.AddMinutes(i).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)).Append(',')
                .Append(x1.ToString("0.####", CultureInfo.InvariantCulture)).Append(',')
                .Append(x2.ToString("0.####", CultureInfo.InvariantCulture)).Append(',')
                .Append(cat).Append(',').Append(margin > 0 ? "true" : "false").Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>ingest → split → (tune) → train → evaluate → bless → register → promote, as YAML.</summary>
    public static string StandardYaml(bool tune = false, string extraBless = "") => $"""
        pipeline: demo-pipeline
        steps:
          - name: ingest
            type: ingest
            parameters: {"{"} path: data.csv {"}"}
          - name: split
            type: split
            inputs: {"{"} data: ingest.table {"}"}
            parameters: {"{"} method: time, column: ts, seed: 7, test: 0.2, valid: 0.2 {"}"}
        {(tune ? """
          - name: tune
            type: tune
            inputs: { train: split.train, valid: split.valid }
            parameters:
              label: y
              features: [x1, x2, cat]
              algorithm: asha
              trials: 6
              seed: 3
              min_rounds: 4
              max_rounds: 12
              space:
                max_depth: int 2 5
                learning_rate: log-uniform 0.05 0.5
        """ : "")}
          - name: train
            type: train
            inputs: {"{"} train: split.train, valid: split.valid{(tune ? ", config: tune.config" : "")} {"}"}
            parameters:
              label: y
              features: [x1, x2, cat]
              seed: 5
              settings: {"{"} num_boost_round: 20, max_depth: 3 {"}"}
          - name: evaluate
            type: evaluate
            inputs: {"{"} model: train.model, data: split.test {"}"}
            parameters: {"{"} label: y, slice: cat, model_name: demo-model {"}"}
          - name: bless
            type: bless
            inputs: {"{"} evaluation: evaluate.evaluation, model: train.model, data: split.test {"}"}
            parameters:
              thresholds: ["auc >= 0.6", "auc >= champion.auc - 0.01"]
              slice_max_drop: {"{"} metric: auc, drop: 0.5 {"}"}
              {extraBless}
          - name: register
            type: register
            inputs: {"{"} model: train.model, blessing: bless.blessing, evaluation: evaluate.evaluation {"}"}
            parameters: {"{"} model_name: demo-model {"}"}
          - name: promote
            type: promote
            inputs: {"{"} version: register.version {"}"}
        """;

    public async ValueTask DisposeAsync()
    {
        await Home.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    private sealed class Collect(List<PipelineEvent> events) : IProgress<PipelineEvent>
    {
        public void Report(PipelineEvent value)
        {
            lock (events)
            {
                events.Add(value);
            }
        }
    }
}
