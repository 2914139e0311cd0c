using Microsoft.Data.Sqlite;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.Tests.Storage;

public sealed class SqliteMetadataStoreTests : MetadataStoreConformance, IDisposable
{
    private readonly TempFolder _folder = new("sqlite-store");

    private string DatabasePath => _folder.File("strata.db");

    protected override Task<IMetadataStore> OpenStoreAsync(TimeProvider clock) => SqliteMetadataStore.OpenAsync(DatabasePath, clock);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    private async Task TamperAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private async Task<IMetadataStore> WithHistoryAsync()
    {
        await Store.Projects.CreateAsync("flights", null, Alice);
        for (var i = 0; i < 5; i++)
        {
            await Store.Tracking.CreateExperimentAsync("flights", $"e{i}", null, Alice);
        }

        Assert.True((await Store.Audit.VerifyAsync()).Intact);
        return Store;
    }

    [Fact]
    public async Task Audit_verification_detects_an_edited_entry()
    {
        await WithHistoryAsync();
        await TamperAsync("UPDATE audit_log SET principal = 'mallory' WHERE sequence = 3");

        var result = await Store.Audit.VerifyAsync();
        Assert.False(result.Intact);
        Assert.Equal(3, result.FirstBadSequence);
        Assert.Contains("edited", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Audit_verification_detects_a_deleted_entry_in_the_middle_and_at_the_end()
    {
        await WithHistoryAsync();
        await TamperAsync("DELETE FROM audit_log WHERE sequence = 6");

        var tail = await Store.Audit.VerifyAsync();
        Assert.False(tail.Intact);
        Assert.Contains("removed from the end", tail.Problem, StringComparison.Ordinal);

        await TamperAsync("DELETE FROM audit_log WHERE sequence = 2");
        var middle = await Store.Audit.VerifyAsync();
        Assert.False(middle.Intact);
        Assert.Equal(2, middle.FirstBadSequence);
    }

    [Fact]
    public async Task Audit_verification_detects_an_inserted_entry()
    {
        await WithHistoryAsync();

        // A forged entry with a plausible hash chain pointer but squeezed in: the sequence of everything after must shift.
        await TamperAsync("UPDATE audit_log SET sequence = sequence + 100 WHERE sequence >= 3");
        await TamperAsync("INSERT INTO audit_log SELECT 3, time, 'mallory', action, project, target, request_id, details, previous_hash, hash FROM audit_log WHERE sequence = 103");
        await TamperAsync("UPDATE audit_log SET sequence = sequence - 99 WHERE sequence >= 103");

        var result = await Store.Audit.VerifyAsync();
        Assert.False(result.Intact);
    }

    [Fact]
    public async Task A_missing_migration_is_applied_even_below_the_highest_applied_one()
    {
        // Branches take migration numbers in parallel (3 serving, 4 pipelines, 5 monitoring): a store that lacks one
        // below its highest must still get it when the merge brings it.
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        await TamperAsync("DROP TABLE pipeline_steps");
        await TamperAsync("DROP TABLE pipeline_runs");
        await TamperAsync("DELETE FROM schema_version WHERE version = 4");

        await using var reopened = await SqliteMetadataStore.OpenAsync(DatabasePath, Clock);

        Assert.Empty(await reopened.Pipelines.ListRunsAsync("nothing", null, 10));
    }

    [Fact]
    public async Task A_store_a_newer_strata_migrated_is_refused_before_anything_is_applied()
    {
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        await TamperAsync("DROP TABLE pipeline_steps");
        await TamperAsync("DROP TABLE pipeline_runs");
        await TamperAsync("DELETE FROM schema_version WHERE version = 4");
        await TamperAsync("INSERT INTO schema_version (version) VALUES (99)");

        var refused = await Assert.ThrowsAsync<StrataException>(() => SqliteMetadataStore.OpenAsync(DatabasePath, Clock));

        Assert.Equal(ErrorCodes.Conflict, refused.Code);
        Assert.Equal("the metadata store has schema migrations this Strata does not know (99): a newer Strata wrote it; open it with that version or a later one", refused.Message);
        SqliteConnection.ClearAllPools();
        await using (var connection = new SqliteConnection($"Data Source={DatabasePath}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'pipeline_runs'";
            Assert.Equal(0L, await command.ExecuteScalarAsync()); // migration 4 was not applied
        }

        await TamperAsync("DELETE FROM schema_version WHERE version = 99");
        await using var reopened = await SqliteMetadataStore.OpenAsync(DatabasePath, Clock);
        Assert.Empty(await reopened.Pipelines.ListRunsAsync("nothing", null, 10));
    }

    [Fact]
    public async Task The_store_survives_reopening_with_its_data_and_chain()
    {
        await WithHistoryAsync();
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();

        await using var reopened = await SqliteMetadataStore.OpenAsync(DatabasePath);
        Assert.Equal(5, (await reopened.Tracking.ListExperimentsAsync("flights")).Count);
        Assert.True((await reopened.Audit.VerifyAsync()).Intact);
        Assert.Equal(6, await reopened.GetChangeSequenceAsync());
    }
}
