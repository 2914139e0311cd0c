using Strata.Postgres;
using Strata.Stores;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.IntegrationTests.Storage;

[RequiresPostgres]
public sealed class PostgresMetadataStoreTests : MetadataStoreConformance
{
    private PostgresTestDatabase? _database;

    protected override async Task<IMetadataStore> OpenStoreAsync(TimeProvider clock)
    {
        _database = await PostgresTestDatabase.CreateAsync();
        return await PostgresMetadataStore.OpenAsync(_database.ConnectionString, clock);
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
