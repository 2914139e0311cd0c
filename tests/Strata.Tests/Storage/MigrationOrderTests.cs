using Microsoft.Data.Sqlite;
using Strata.Storage;
using Strata.Testing;

namespace Strata.Tests.Storage;

public sealed class MigrationOrderTests : IDisposable
{
    private readonly TempFolder _folder = new("migrations");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact]
    public async Task A_missing_migration_is_applied_even_when_a_higher_number_is_already_there()
    {
        var path = _folder.File("strata.db");
        await (await SqliteMetadataStore.OpenAsync(path)).DisposeAsync();
        Assert.Equal([1, 2, 3, 4, 5, 6], await VersionsAsync(path));

        // A store that got a later number first (another stratum's migration, here a made-up 9) but not 5.
        await ExecuteAsync(path, "DROP TABLE monitor_results; DELETE FROM schema_version WHERE version = 5; INSERT INTO schema_version (version) VALUES (9)");
        var store = await SqliteMetadataStore.OpenAsync(path);
        await using (store)
        {
            await store.Monitoring.SaveResultsAsync("p", [new Strata.Stores.MonitorResult("m", "e", "model", 1, 0, 10, "data_drift", "drift", 1, 1, null)], Strata.Stores.Actor.Local);
        }

        Assert.Equal([1, 2, 3, 4, 5, 6, 9], await VersionsAsync(path));
    }

    private static async Task<List<long>> VersionsAsync(string path)
    {
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version FROM schema_version ORDER BY version";
        var result = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            result.Add(reader.GetInt64(0));
        }

        return result;
    }

    private static async Task ExecuteAsync(string path, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
