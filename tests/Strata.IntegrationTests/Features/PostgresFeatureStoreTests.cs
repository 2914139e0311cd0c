using Microsoft.Data.Sqlite;
using Npgsql;
using Strata.Features;
using Strata.Postgres;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.IntegrationTests.Features;

/// <summary>The feature store over PostgreSQL metadata and the PostgreSQL offline and online stores.</summary>
[RequiresPostgres]
public sealed class PostgresFeatureStoreTests : FeatureStoreConformance
{
    private string? _connectionString;
    private PostgresTestDatabase? _database;

    protected override async Task<(IMetadataStore Metadata, IFeatureBackend Backend)> OpenAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        _connectionString = _database.ConnectionString;
        return (await PostgresMetadataStore.OpenAsync(_connectionString, Clock), new PostgresFeatureBackend(_connectionString));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [BackendTheory]
    [InlineData(41)]
    [InlineData(42)]
    public async Task The_training_set_is_identical_to_the_embedded_one(int seed)
    {
        using var folder = new TempFolder("feature-store-embedded");
        var metadata = await SqliteMetadataStore.OpenAsync(folder.File("strata.db"));
        Table expected;
        try
        {
            await ApplyAsync(metadata, DefinitionsV1);
            await using var stores = new FeatureStores(metadata, new EmbeddedFeatureBackend(folder.Path));
            expected = await TrainingSetScenarioAsync(await stores.GetAsync(Project), seed);
        }
        finally
        {
            await metadata.DisposeAsync();
            SqliteConnection.ClearAllPools();
        }

        var actual = await TrainingSetScenarioAsync(await Stores.GetAsync(Project), seed);

        Assert.Equal(300, actual.RowCount);
        TableAssert.Equal(expected, actual, compareSchemaDetails: true);
    }

    // ---- replicas: two servers over one database --------------------------------------------------------------------

    [BackendFact]
    public async Task Pushes_from_two_replicas_into_one_window_lose_no_events()
    {
        // Each replica serialized only its own pushes: both read the same stored window, merged their own event and wrote
        // it back, so whichever wrote second dropped the other's event online.
        const int Events = 100;
        await using var other = await Replica.OpenAsync(_connectionString!, Clock);
        FeatureStore[] replicas = [await StoreAsync(), await other.StoreAsync()];
        var t = T0 + Day;

        // In rounds that start both replicas' pushes together, so every round is a chance for the two to interleave.
        for (var i = 0; i < Events; i++)
        {
            await Task.WhenAll(replicas.Select((store, r) => store.PushAsync("trips", Fares((1, t + (((2 * i) + r) * Second), r + 1.0)), PushTarget.Online)));
        }

        SetNow(t + (2 * Events * Second) + Minute);

        // Replica 0 pushed fares of 1, replica 1 fares of 2.
        Assert.Equal(new object?[] { 2L * Events, 3.0 * Events }, (await ReadWindowsAsync(replicas[0], 1)).Take(2).Select(v => v.Value));
        Assert.Equal(new object?[] { 2L * Events, 3.0 * Events }, (await ReadWindowsAsync(replicas[1], 1)).Take(2).Select(v => v.Value));
    }

    [BackendFact]
    public async Task A_materialization_on_one_replica_loses_no_event_pushed_on_another()
    {
        // A materialization reads the offline events, then writes the windows it rebuilt from them, under its own
        // process's lock only: a push merged on another replica between the two was replaced by the rebuilt window.
        const int Rounds = 40;
        await using var other = await Replica.OpenAsync(_connectionString!, Clock);
        var materializer = await StoreAsync();
        var pusher = await other.StoreAsync();
        var t = T0 + Day;

        // Other drivers' history, so that a rebuild takes a while after its read of the events.
        await materializer.PushAsync("trips", Fares([.. Enumerable.Range(0, 20 * 500).Select(i => (2L + (i % 20), t - Hour + ((i / 20) * Second), 1.0))]), PushTarget.Offline);
        await pusher.PushAsync("trips", Fares((1, t + Hour, 1.0)), PushTarget.OnlineAndOffline);
        SetNow(t + Hour + Minute);

        // A materialization and a push started together each round; each event older than the newest one, as late events
        // are, so the rebuilt window and the pushed one have the same newest event.
        var counts = new List<long>();
        for (var i = 0; i < Rounds; i++)
        {
            await Task.WhenAll(
                materializer.MaterializeAsync(T0, T0 + (3 * Day), ["driver_trips"]),
                pusher.PushAsync("trips", Fares((1, t + Hour - ((i + 1) * Second), 1.0)), PushTarget.OnlineAndOffline));
            counts.Add((long)(await ReadWindowsAsync(materializer, 1))[0].Value!);
        }

        // After round i the driver has i + 2 events; a round that lost its pushed event online reads one fewer.
        var misses = counts.Where((count, i) => count != i + 2).Count();
        Assert.True(misses == 0, $"{misses} of {Rounds} rounds read a window short of the events pushed (counts: {string.Join(", ", counts)})");
    }

    [BackendFact]
    public async Task A_push_behind_another_replicas_merge_is_refused_in_time_and_stores_none_of_its_events()
    {
        // A merge waited for its view's lock without a bound: a push on one replica while another materialized the view
        // (a rebuild inside a merge, minutes for a long history) hung until its client gave up, and nothing told it why.
        // Here the pushing replica's connections bound lock waits themselves (lock_timeout, which the merge keeps).
        var bounded = new NpgsqlConnectionStringBuilder(_connectionString) { Options = "-c lock_timeout=500" }.ToString();
        await using var other = await Replica.OpenAsync(bounded, Clock);
        var pusher = await other.StoreAsync();
        var layout = pusher.Repository.OfflineLayout("driver_trips");
        var t = T0 + Day;
        await pusher.PushAsync("trips", Fares((1, t, 1.0)), PushTarget.OnlineAndOffline);
        var trips = Fares((1, t + Minute, 2.0), (2, t + Minute, 3.0));

        // A merge of the view held open, as a materialization on a third replica holds it while it rebuilds the windows.
        await using var materializer = await PostgresOnlineStore.OpenAsync(_connectionString!, Project);
        StrataException refused;
        await using (await materializer.BeginMergeAsync(["driver_trips"]))
        {
            refused = await Assert.ThrowsAsync<StrataException>(() => pusher.PushAsync("trips", trips, PushTarget.OnlineAndOffline).WaitAsync(TimeSpan.FromSeconds(10)));
        }

        Assert.Equal(ErrorCodes.Conflict, refused.Code);
        Assert.Equal(5, refused.RetryAfterSeconds);
        Assert.StartsWith("feature view 'driver_trips' is locked by a merge in another server replica or process", refused.Message, StringComparison.Ordinal);
        SetNow(t + (2 * Minute));
        Assert.Equal((t, t), await pusher.Offline.GetEventTimeRangeAsync(layout));
        Assert.Equal(1, await pusher.Online.CountAsync("driver_trips"));
        Assert.Equal(new object?[] { 1L, 1.0 }, (await ReadWindowsAsync(pusher, 1)).Take(2).Select(v => v.Value));

        // Once the merge is over, the same push goes through, whole.
        await pusher.PushAsync("trips", trips, PushTarget.OnlineAndOffline);
        Assert.Equal((t, t + Minute), await pusher.Offline.GetEventTimeRangeAsync(layout));
        Assert.Equal(new object?[] { 2L, 3.0, 1L, 3.0 }, (await ReadWindowsAsync(pusher, 1, 2)).Where((_, i) => i % 5 < 2).Select(v => v.Value));
    }

    /// <summary>Another server replica over the same database: its own metadata store, feature stores and connection pools.</summary>
    private sealed class Replica : IAsyncDisposable
    {
        private readonly IMetadataStore _metadata;
        private readonly FeatureStores _stores;

        private Replica(IMetadataStore metadata, FeatureStores stores)
        {
            _metadata = metadata;
            _stores = stores;
        }

        public static async Task<Replica> OpenAsync(string connectionString, TimeProvider clock)
        {
            var metadata = await PostgresMetadataStore.OpenAsync(connectionString, clock);
            return new Replica(metadata, new FeatureStores(metadata, new PostgresFeatureBackend(connectionString), clock));
        }

        public Task<FeatureStore> StoreAsync() => _stores.GetAsync(Project).AsTask();

        public async ValueTask DisposeAsync()
        {
            await _stores.DisposeAsync();
            await _metadata.DisposeAsync();
        }
    }
}
