using Npgsql;

namespace Strata.Testing;

/// <summary>
/// An empty PostgreSQL database of its own for one test, on the server STRATA_TEST_POSTGRES names
/// (<see cref="RequiresPostgresAttribute.ConnectionString"/>): uniquely named, and dropped on dispose with any
/// connection still open to it.
/// </summary>
public sealed class PostgresTestDatabase : IAsyncDisposable
{
    private PostgresTestDatabase(string name)
    {
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(RequiresPostgresAttribute.ConnectionString) { Database = name }.ToString();
    }

    /// <summary>The database's name (strata_test_ and a new GUID).</summary>
    public string Name { get; }

    /// <summary>The server's connection string with this database.</summary>
    public string ConnectionString { get; }

    /// <summary>
    /// Creates the database in a test's <c>InitializeAsync</c>: null when no server is reachable, where the tests of a
    /// <see cref="RequiresPostgresAttribute"/> class are skipped with its message (under STRATA_REQUIRE_POSTGRES=1 the
    /// creation is tried, and fails loudly).
    /// </summary>
    public static async Task<PostgresTestDatabase?> CreateUnlessSkippedAsync() =>
        new RequiresPostgresAttribute().SkipReason is null ? await CreateAsync() : null;

    /// <summary>Creates the database (within a test that runs: the server is reachable).</summary>
    public static async Task<PostgresTestDatabase> CreateAsync()
    {
        var database = new PostgresTestDatabase($"strata_test_{Guid.NewGuid():N}");
        await using var admin = new NpgsqlConnection(RequiresPostgresAttribute.ConnectionString);
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {database.Name}", admin);
        await create.ExecuteNonQueryAsync();
        return database;
    }

    /// <summary>Drops the database, closing the pooled and open connections to it first.</summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(RequiresPostgresAttribute.ConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
