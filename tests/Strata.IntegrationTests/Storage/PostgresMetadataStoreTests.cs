using Strata.Postgres;
using Strata.Stores;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.IntegrationTests.Storage;

[RequiresPostgres]
public sealed class PostgresMetadataStoreTests : MetadataStoreConformance
{
    private Func<Task>? _drop;

    protected override async Task<IMetadataStore> OpenStoreAsync(TimeProvider clock)
    {
        var (connectionString, drop) = await RequiresPostgresAttribute.CreateDatabaseAsync();
        _drop = drop;
        return await PostgresMetadataStore.OpenAsync(connectionString, clock);
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
