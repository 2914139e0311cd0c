using Strata.Features;
using Strata.Postgres;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.IntegrationTests.Features;

[RequiresPostgres]
public sealed class PostgresOfflineStoreTests : OfflineStoreConformance
{
    private string? _connectionString;
    private PostgresTestDatabase? _database;

    protected override async Task<IOfflineStore> OpenStoreAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        _connectionString = _database.ConnectionString;
        return await PostgresOfflineStore.OpenAsync(_connectionString, "demo");
    }

    protected override async Task<IOfflineStore> ReopenStoreAsync(IOfflineStore store)
    {
        await store.DisposeAsync();
        return await PostgresOfflineStore.OpenAsync(_connectionString!, "demo");
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [BackendFact]
    public async Task Two_projects_keep_their_views_apart()
    {
        await using var other = await PostgresOfflineStore.OpenAsync(_connectionString!, "other");
        var view = Layout("shared_name");
        await Store.AppendAsync(view, RandomRows(new Random(1), view, 10, days: 1));
        await other.AppendAsync(view, RandomRows(new Random(2), view, 3, days: 1));

        Assert.NotNull(await Store.GetEventTimeRangeAsync(view));
        var count = 0;
        await foreach (var batch in other.ReadAsync(view, long.MinValue, long.MaxValue, 100))
        {
            count += batch.RowCount;
        }

        Assert.Equal(3, count);
    }
}
