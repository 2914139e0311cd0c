using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// A test class whose every test gets a PostgreSQL database of its own, dropped after it (with
/// <see cref="RequiresPostgresAttribute"/> on the class, its tests are skipped with a message when no server is reachable).
/// </summary>
public abstract class PostgresDatabaseTests : IAsyncLifetime
{
    /// <summary>The test's database (null only when its tests are skipped).</summary>
    protected PostgresTestDatabase? Database { get; private set; }

    /// <summary>The test database's connection string.</summary>
    protected string Postgres => Database!.ConnectionString;

    public async Task InitializeAsync() => Database = await PostgresTestDatabase.CreateUnlessSkippedAsync();

    public async Task DisposeAsync()
    {
        if (Database is not null)
        {
            await Database.DisposeAsync();
        }
    }
}
