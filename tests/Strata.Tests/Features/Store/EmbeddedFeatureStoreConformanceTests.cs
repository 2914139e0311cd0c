using Microsoft.Data.Sqlite;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.Tests.Features.Store;

/// <summary>The feature store over SQLite metadata and the embedded offline and online stores.</summary>
public sealed class EmbeddedFeatureStoreConformanceTests : FeatureStoreConformance, IDisposable
{
    private readonly TempFolder _folder = new("feature-store-conformance");

    protected override async Task<(IMetadataStore Metadata, IFeatureBackend Backend)> OpenAsync() =>
        (await SqliteMetadataStore.OpenAsync(_folder.File("strata.db")), new EmbeddedFeatureBackend(_folder.Path));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task While_another_process_owns_the_online_store_training_sets_work_and_online_operations_refuse_cleanly()
    {
        // A second FeatureStores on the same home stands for a CLI command while `strata serve` runs.
        var owner = await Stores.GetAsync(Project);
        await using var second = new FeatureStores(Metadata, new EmbeddedFeatureBackend(_folder.Path), Clock);
        var store = await second.GetAsync(Project);
        await store.IngestAsync("driver_stats", DailyStats(3));

        var entities = Table.From(
            ("driver_id", Columns.Int64(1, 2)),
            ("event_timestamp", Columns.Timestamp(T0 + (5 * Day), T0 + (5 * Day))));
        var training = await store.GetHistoricalFeaturesAsync(entities, "event_timestamp", [FeatureReference.Parse("driver_daily:rating")]);
        Assert.Equal(2, training.RowCount);

        var read = await Assert.ThrowsAsync<StrataException>(async () => await store.GetOnlineFeaturesAsync([FeatureReference.Parse("driver_daily:rating")], entities.Select("driver_id")));
        Assert.Equal(ErrorCodes.Conflict, read.Code);
        Assert.Contains("open in another process", read.Message, StringComparison.Ordinal);

        var push = await Assert.ThrowsAsync<StrataException>(() => store.PushAsync("trips", Trips(2, drivers: 2, events: 5, ties: false), PushTarget.OnlineAndOffline));
        Assert.Equal(ErrorCodes.Conflict, push.Code);
        Assert.Null(await store.Offline.GetEventTimeRangeAsync(store.Repository.OfflineLayout("driver_trips"))); // nothing half-written
        Assert.Equal(0, await owner.Online.CountAsync("driver_trips"));
    }
}
