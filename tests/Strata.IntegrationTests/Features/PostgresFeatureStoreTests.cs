using Microsoft.Data.Sqlite;
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
    private Func<Task>? _drop;

    protected override async Task<(IMetadataStore Metadata, IFeatureBackend Backend)> OpenAsync()
    {
        var (connectionString, drop) = await RequiresPostgresAttribute.CreateDatabaseAsync();
        _drop = drop;
        return (await PostgresMetadataStore.OpenAsync(connectionString, Clock), new PostgresFeatureBackend(connectionString));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_drop is not null)
        {
            await _drop();
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
}
