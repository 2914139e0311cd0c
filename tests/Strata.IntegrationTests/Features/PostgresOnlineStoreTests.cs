using Strata.Features;
using Strata.Features.OnlineStore;
using Strata.Postgres;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.IntegrationTests.Features;

[RequiresPostgres]
public sealed class PostgresOnlineStoreTests : OnlineStoreConformance
{
    private string? _connectionString;
    private Func<Task>? _drop;

    protected override bool SharedByInstances => true;

    protected override async Task<IOnlineStore> OpenStoreAsync(IReadOnlyList<FeatureViewLayout> views)
    {
        if (_connectionString is null)
        {
            (_connectionString, _drop) = await RequiresPostgresAttribute.CreateDatabaseAsync();
        }

        var store = await PostgresOnlineStore.OpenAsync(_connectionString, "flights");
        await store.ApplyViewsAsync(views);
        return store;
    }

    [BackendFact]
    public async Task A_replica_holding_an_old_layout_follows_a_change_made_by_another()
    {
        await using var replica = await PostgresOnlineStore.OpenAsync(_connectionString!, "flights");
        await Store.WriteAsync("pairs", PairRows(["a"], [1], [10], [0.5f], [true]));
        Assert.Equal(0.5f, (await ReadPairAsync(replica))[0].AsFloat32());

        var changed = new FeatureViewLayout("pairs", [new Field("user", DataType.String), new Field("item", DataType.Int32)], "event_ts", [new Field("score", DataType.Float64)]);
        await Store.ApplyViewsAsync([Drivers, changed]);

        var stale = await Assert.ThrowsAsync<StrataException>(() => replica.WriteAsync("pairs", PairRows(["a"], [1], [20], [0.25f], [false])));
        Assert.Equal(ErrorCodes.Conflict, stale.Code);
        var values = await ReadPairAsync(replica); // the replica reloads the layouts and answers as the changed view
        Assert.Equal(FeatureStatus.NotFound, values[0].Status);
        Assert.Equal(DataType.Float64, values[0].Type);
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => replica.CountAsync("all types"))).Code);
        Assert.Equal(0, await Store.CountAsync("pairs"));
    }

    private static async Task<FeatureValue[]> ReadPairAsync(PostgresOnlineStore store)
    {
        var results = new FeatureValue[1];
        await store.ReadAsync("pairs", ["score"], new EntityKeyPart[] { "a", 1 }, 10, results);
        return results;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_drop is not null)
        {
            await _drop();
        }
    }
}
