using Strata.Features;
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

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_drop is not null)
        {
            await _drop();
        }
    }
}
