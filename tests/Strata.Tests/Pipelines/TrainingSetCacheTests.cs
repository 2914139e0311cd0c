using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Strata.Features;
using Strata.Pipelines;
using Strata.Postgres;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.Tests.Pipelines;

/// <summary>
/// A training-set step's cache follows the feature store: rows appended to the offline store or a new definitions version
/// make the cached training set stale (it and everything after it execute again), and nothing changed means fully cached.
/// Written once, run per feature backend.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Disposed in DisposeAsync (IAsyncLifetime).")]
public abstract class TrainingSetCacheConformance : IAsyncLifetime
{
    private const string Project = "drivers";
    private static readonly long T0 = Timestamp.FromDateTime(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
    private static readonly string[] Downstream = ["training", "split", "train", "register"];

    private readonly TempFolder _folder = new("training-set-cache");
    private StrataHome? _home;
    private FeatureStores? _stores;

    /// <summary>The definitions of the feature store conformance suite, with a service over the daily view.</summary>
    protected static string Definitions(string features = "driver_daily:rating, driver_daily:trips_today") =>
        FeatureStoreConformance.DefinitionsV1 + $"\nfeature_services:\n  - name: driver_model\n    features: [{features}]\n";

    private StrataHome Home => _home ?? throw new InvalidOperationException("not open");

    private FeatureStores Stores => _stores ?? throw new InvalidOperationException("not open");

    /// <summary>Opens the backend's metadata store and feature backend on fresh, empty storage.</summary>
    protected abstract Task<(IMetadataStore Metadata, IFeatureBackend Backend)> OpenAsync(string folder);

    public async Task InitializeAsync()
    {
        var (metadata, backend) = await OpenAsync(_folder.Path);
        _home = await StrataHome.OpenAsync(_folder.File("home"), metadata);
        _stores = new FeatureStores(metadata, backend);
        await FeatureStoreConformance.ApplyAsync(metadata, Definitions());
        Directory.CreateDirectory(_folder.File("pipeline"));
        await File.WriteAllTextAsync(Path.Combine(_folder.File("pipeline"), "entities.csv"), EntitiesCsv(rows: 160, seed: 4));
        await (await Stores.GetAsync(Project)).IngestAsync("driver_stats", FeatureStoreConformance.DailyStats(1));
    }

    public virtual async Task DisposeAsync()
    {
        if (_stores is not null)
        {
            await _stores.DisposeAsync();
        }

        if (_home is not null)
        {
            await _home.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [BackendFact]
    public async Task Appended_offline_rows_make_the_cached_training_set_stale_and_nothing_changed_is_fully_cached()
    {
        var first = await RunAsync();
        var unchanged = await RunAsync();
        await (await Stores.GetAsync(Project)).IngestAsync("driver_stats", FeatureStoreConformance.DailyStats(2));
        var appended = await RunAsync();
        var again = await RunAsync();

        Assert.All(first.Values, s => Assert.Equal(PipelineState.Succeeded, s));
        Assert.All(unchanged.Values, s => Assert.Equal(PipelineState.Cached, s));
        Assert.Equal(PipelineState.Cached, appended["ingest"]);
        Assert.All(Downstream, step => Assert.Equal(PipelineState.Succeeded, appended[step]));
        Assert.All(again.Values, s => Assert.Equal(PipelineState.Cached, s));
        Assert.Equal(2, (await Home.Metadata.Registry.ListVersionsAsync(Project, "driver-model")).Count);
    }

    [BackendFact]
    public async Task A_new_definitions_version_makes_the_cached_training_set_stale()
    {
        var first = await RunAsync();
        await FeatureStoreConformance.ApplyAsync(Home.Metadata, Definitions("driver_daily:rating, driver_daily:trips_today, driver_trips:fare_mean_1d"));
        var applied = await RunAsync();
        var again = await RunAsync();

        Assert.All(first.Values, s => Assert.Equal(PipelineState.Succeeded, s));
        Assert.Equal(PipelineState.Cached, applied["ingest"]);
        Assert.All(["training", "split", "train"], step => Assert.Equal(PipelineState.Succeeded, applied[step]));
        Assert.Equal(PipelineState.Cached, applied["register"]); // the new column is not a model feature: the same package
        Assert.All(again.Values, s => Assert.Equal(PipelineState.Cached, s));
    }

    [BackendFact]
    public async Task A_definitions_version_that_leaves_the_training_set_alone_executes_only_the_training_set_step()
    {
        await RunAsync();
        await FeatureStoreConformance.ApplyAsync(Home.Metadata, Definitions() + "  - name: other_service\n    features: [driver_daily:rating]\n");
        var applied = await RunAsync();

        // The key changed with the version, so the join ran again; its output is the same table, so the rest is cached.
        Assert.Equal(PipelineState.Succeeded, applied["training"]);
        Assert.All(Downstream.Skip(1), step => Assert.Equal(PipelineState.Cached, applied[step]));
    }

    [BackendFact]
    public async Task A_deleted_registered_version_is_registered_again_instead_of_reused_from_the_cache()
    {
        await RunAsync();
        await Home.Metadata.Registry.SetVersionStatusAsync(Project, "driver-model", 1, VersionStatus.Deleted, new Actor("tester"));
        var after = await RunAsync();

        Assert.Equal(PipelineState.Cached, after["train"]);
        Assert.Equal(PipelineState.Succeeded, after["register"]);
        var versions = await Home.Metadata.Registry.ListVersionsAsync(Project, "driver-model");
        Assert.Equal(VersionStatus.Ready, Assert.Single(versions, v => v.Version == 2).Status);
    }

    private async Task<Dictionary<string, PipelineState>> RunAsync()
    {
        var spec = new PipelineBuilder("driver-training")
            .Step("ingest", "ingest", s => s.Set("path", "entities.csv"))
            .Step("training", "training-set", s => s.Input("entities", "ingest.table").Set("service", "driver_model").Set("timestamp", "event_timestamp"))
            .Step("split", "split", s => s.Input("data", "training.table").Set("seed", 3).Set("test", 0.25).Set("valid", 0))
            .Step("train", "train", s => s.Input("train", "split.train").Set("label", "y").Set("features", "rating,trips_today").Set("seed", 5))
            .Step("register", "register", s => s.Input("model", "train.model").Set("model_name", "driver-model"))
            .Folder(_folder.File("pipeline"))
            .Build();
        var executor = new PipelineExecutor(new PipelineServices(Home.Metadata, Home.Artifacts, Path.Combine(Home.Path, "tmp"), Stores));
        var run = await executor.RunAsync(spec, new PipelineRunOptions { Project = Project });
        Assert.True(run.State == PipelineState.Succeeded, run.Error);
        return (await Home.Metadata.Pipelines.ListStepsAsync(Project, run.Id)).ToDictionary(s => s.Step, s => s.State);
    }

    /// <summary>Rows of drivers 1–6 over the days the daily stats cover, with a label that follows the driver.</summary>
    private static string EntitiesCsv(int rows, int seed)
    {
        var random = new Random(seed);
        var sb = new StringBuilder("driver_id,event_timestamp,y\n");
        for (var i = 0; i < rows; i++)
        {
            var driver = 1 + random.Next(6);
            var ts = DateTimeOffset.FromUnixTimeMilliseconds((T0 / 1000) + (long)(random.NextDouble() * 6 * 86_400_000));
            sb.Append(driver.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(ts.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)).Append(',')
                .Append(driver % 2 == 0 ^ random.Next(5) == 0 ? "true" : "false").Append('\n');
        }

        return sb.ToString();
    }
}

/// <summary>Over SQLite metadata and the embedded offline store.</summary>
public sealed class EmbeddedTrainingSetCacheTests : TrainingSetCacheConformance
{
    protected override async Task<(IMetadataStore Metadata, IFeatureBackend Backend)> OpenAsync(string folder) =>
        (await SqliteMetadataStore.OpenAsync(Path.Combine(folder, "strata.db")), new EmbeddedFeatureBackend(Path.Combine(folder, "features")));
}

/// <summary>Over PostgreSQL metadata and the PostgreSQL offline store.</summary>
[RequiresPostgres]
public sealed class PostgresTrainingSetCacheTests : TrainingSetCacheConformance
{
    private PostgresTestDatabase? _database;

    protected override async Task<(IMetadataStore Metadata, IFeatureBackend Backend)> OpenAsync(string folder)
    {
        _database = await PostgresTestDatabase.CreateAsync();
        return (await PostgresMetadataStore.OpenAsync(_database.ConnectionString), new PostgresFeatureBackend(_database.ConnectionString));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
