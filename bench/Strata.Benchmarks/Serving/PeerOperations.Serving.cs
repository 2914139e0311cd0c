using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Learning;
using Strata.Learning.Gbdt;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer serve-setup HOME XGBOOST_JSON`: prepares a home for bench/peers/serve_vs_fastapi.sh — project "bench" with
    /// the imported XGBoost model as "flights" (endpoint "flights"), a feature view of 50 float64 features over 10,000
    /// entities with a model reading them (endpoint "enriched", feature service "wide_service"), and a 500-tree model
    /// (endpoint "big"); writes HOME/strata.yaml declaring the three endpoints and prints a viewer key.
    /// `peer empty-kestrel URL`: an empty Kestrel POST endpoint at / (the ceiling), until killed.
    /// </summary>
    private static void RegisterServing()
    {
        PeerMeasurements.Register("serve-setup", async args =>
        {
            const string Project = "bench";
            const int Features = 50;
            const int Entities = 10_000;
            var homePath = args[0];
            var watch = Stopwatch.StartNew();
            await using var home = await StrataHome.OpenAsync(homePath).ConfigureAwait(false);
            var registry = new RegistryService(home.Metadata, home.Artifacts);
            await registry.CreateProjectAsync(Caller.Local, Project, "serving benchmark").ConfigureAwait(false);
            var key = await registry.CreateKeyAsync(Caller.Local, Project, "bench-client", Role.Viewer, null).ConfigureAwait(false);

            await RegisterModelAsync(registry, Project, "flights", XGBoostImporter.Load(args[1])).ConfigureAwait(false);

            var definitions = WideDefinitions(Features) + "feature_services:\n  - name: wide_service\n    features: [\"wide:*\"]\n";
            await new FeatureRegistry(home.Metadata).ApplyAsync(Project, FeatureRepositoryYaml.Parse([("features.yaml", definitions)]), force: false, new Actor("bench")).ConfigureAwait(false);
            await using (var stores = new FeatureStores(home.Metadata, new EmbeddedFeatureBackend(home.Path)))
            {
                var store = await stores.GetAsync(Project).ConfigureAwait(false);
                await store.PushAsync("wide_events", WideTable(Features, 0, Entities, new Random(7)), PushTarget.Online).ConfigureAwait(false);
            }

            var training = WideTable(Features, 0, 5_000, new Random(11));
            var y = Enumerable.Range(0, training.RowCount).Select(r => (long?)(((Column<double>)training["f0"])[r] + ((Column<double>)training["f1"])[r] > 1 ? 1 : 0)).ToArray();
            var labelled = Table.From([.. Enumerable.Range(0, Features).Select(f => ($"f{f}", training[$"f{f}"])), ("y", Columns.Int64(y))]);
            var spec = new TrainingSpec { Label = "y", Task = LearningTask.BinaryClassification };
            var enriched = await new GbdtLearner(new GbdtOptions { NumBoostRound = 100, MaxDepth = 6 }).FitAsync(TrainingData.FromTable(labelled, spec)).ConfigureAwait(false);
            await RegisterModelAsync(registry, Project, "wide", enriched).ConfigureAwait(false);
            var big = await new GbdtLearner(new GbdtOptions { NumBoostRound = 500, MaxDepth = 6 }).FitAsync(TrainingData.FromTable(labelled, spec)).ConfigureAwait(false);
            await RegisterModelAsync(registry, Project, "big", big).ConfigureAwait(false);

            await File.WriteAllTextAsync(Path.Combine(homePath, "strata.yaml"), """
                endpoints:
                  - { name: flights, project: bench, model: flights@live }
                  - { name: enriched, project: bench, model: wide@live, feature_service: wide_service }
                  - { name: big, project: bench, model: big@live }
                """).ConfigureAwait(false);
            return new Dictionary<string, object>
            {
                ["operation"] = "serve-setup",
                ["big_trees"] = ((TreeEnsembleModel)big).Ensemble.TreeCount,
                ["setup_s"] = PeerMeasurements.Seconds(watch),
                ["key"] = key.Token,
            };
        });

        PeerMeasurements.Register("empty-kestrel", async args =>
        {
            var builder = WebApplication.CreateSlimBuilder(["--urls", args[0]]);
            builder.Logging.ClearProviders();
            await using var app = builder.Build();
            app.MapPost("/", () => Results.Ok());
            await app.RunAsync().ConfigureAwait(false);
            return new Dictionary<string, object> { ["operation"] = "empty-kestrel" };
        });
    }

    private static async Task RegisterModelAsync(RegistryService registry, string project, string name, Model model)
    {
        await registry.CreateModelAsync(Caller.Local, project, name, null, null).ConfigureAwait(false);
        using var package = new MemoryStream();
        await ModelPackage.SaveAsync(model, package).ConfigureAwait(false);
        package.Position = 0;
        var version = await registry.UploadVersionAsync(Caller.Local, project, name, new VersionRegistration(), package).ConfigureAwait(false);
        await registry.SetAliasAsync(Caller.Local, project, name, "live", version.Version, null).ConfigureAwait(false);
    }

    private static Table WideTable(int features, int start, int rows, Random random)
    {
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var columns = new List<(string, Column)>
        {
            ("entity_id", Columns.Int64([.. Enumerable.Range(start, rows).Select(i => (long?)i)])),
            ("ts", Columns.Timestamp([.. Enumerable.Range(0, rows).Select(_ => (long?)now)])),
        };
        for (var f = 0; f < features; f++)
        {
            columns.Add(($"f{f}", Columns.Float64([.. Enumerable.Range(0, rows).Select(_ => (double?)random.NextDouble())])));
        }

        return Table.From([.. columns]);
    }
}
