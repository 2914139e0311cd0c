using System.Diagnostics;
using Npgsql;
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
    private PostgresTestDatabase? _database;

    protected override bool SharedByInstances => true;

    protected override async Task<IOnlineStore> OpenStoreAsync(IReadOnlyList<FeatureViewLayout> views)
    {
        if (_connectionString is null)
        {
            _database = await PostgresTestDatabase.CreateAsync();
            _connectionString = _database.ConnectionString;
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

    [BackendFact]
    public async Task A_merge_behind_another_instances_merge_is_refused_in_time_and_names_the_view()
    {
        // A merge waited for a view's lock without a bound: behind a materialization on another replica (a rebuild inside
        // a merge, minutes for a long history) a push hung until its client gave up, and nothing told it why.
        var onePooledConnection = new NpgsqlConnectionStringBuilder(_connectionString) { MaxPoolSize = 1 }.ToString();
        await using var replica = await PostgresOnlineStore.OpenAsync(onePooledConnection, "flights");
        replica.MergeLockWait = TimeSpan.FromMilliseconds(300);
        StrataException refused;
        var waited = Stopwatch.StartNew();
        await using (var held = await Store.BeginMergeAsync(["pairs"]))
        {
            refused = await Assert.ThrowsAsync<StrataException>(() => replica.BeginMergeAsync(["drivers", "pairs"]).WaitAsync(Bound));
            waited.Stop();
        }

        Assert.Equal(ErrorCodes.Conflict, refused.Code);
        Assert.Equal(5, refused.RetryAfterSeconds);
        Assert.StartsWith("feature view 'pairs' is locked by a merge in another server replica or process", refused.Message, StringComparison.Ordinal);
        Assert.EndsWith("nothing was written; retry shortly", refused.Message, StringComparison.Ordinal);
        Assert.InRange(waited.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));

        // Behind a change of the views (definitions applied on another replica, which waits for the merges in progress).
        await using (var connection = new NpgsqlConnection(_connectionString))
        {
            await connection.OpenAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var setup = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended(@k, 0))", connection, transaction))
            {
                setup.Parameters.AddWithValue("k", replica.SetupLockKey);
                await setup.ExecuteNonQueryAsync();
            }

            var changing = await Assert.ThrowsAsync<StrataException>(() => replica.BeginMergeAsync(["pairs"]).WaitAsync(Bound));
            Assert.Equal((ErrorCodes.Conflict, 5), (changing.Code, changing.RetryAfterSeconds));
            Assert.StartsWith("the online store's feature views are being changed by another server replica or process", changing.Message, StringComparison.Ordinal);
        }

        // Released, the merge begins. The bound was on its locks alone: its own writes, and whoever has the pooled
        // connection after it, wait for a row lock held longer than that as they always did.
        await using (var merge = await replica.BeginMergeAsync(["drivers", "pairs"]).WaitAsync(Bound))
        {
            await WhileViewRowLockedAsync("pairs", () => merge.WriteAsync("pairs", PairRows(["a"], [1], [10], [0.5f], [true])));
            await merge.CommitAsync();
        }

        await WhileViewRowLockedAsync("drivers", () => replica.WriteAsync("drivers", DriverRows([1], [10], null, [1.5])));
        Assert.Equal(0.5f, (await ReadPairAsync(replica))[0].AsFloat32());
        Assert.Equal(1, await Store.CountAsync("drivers"));
    }

    [BackendFact]
    public async Task A_merge_in_one_project_holds_back_no_other_projects_setup_view_changes_or_writes()
    {
        // The setup lock was one constant for every project: a merge anywhere (a materialization, minutes for a long
        // history) held back every other project's store from opening and its definitions from being applied.
        await using (var held = await Store.BeginMergeAsync(["pairs"]))
        {
            await using var other = await PostgresOnlineStore.OpenAsync(_connectionString!, "trains").WaitAsync(Bound);
            await other.ApplyViewsAsync([Drivers, Pairs]).WaitAsync(Bound);
            await other.WriteAsync("pairs", PairRows(["a"], [1], [10], [0.5f], [true])).WaitAsync(Bound);
            await using (var merge = await other.BeginMergeAsync(["pairs"]).WaitAsync(Bound))
            {
                await merge.CommitAsync();
            }

            Assert.Equal(1, await other.CountAsync("pairs"));

            // Within the project, a change of the views still waits for the merge in progress.
            var applying = Store.ApplyViewsAsync([Drivers, Pairs, AllTypes]);
            await WaitForAdvisoryLockWaiterAsync();
            Assert.False(applying.IsCompleted);
            await held.CommitAsync();
            await applying.WaitAsync(Bound);
        }

        Assert.Equal(0, await Store.CountAsync("pairs"));
    }

    /// <summary>Returns once some session waits for an advisory lock (polls pg_locks; a gate, not a timing).</summary>
    private async Task WaitForAdvisoryLockWaiterAsync()
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        var until = Stopwatch.StartNew();
        while (true)
        {
            await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", connection);
            if ((long)(await command.ExecuteScalarAsync())! > 0)
            {
                return;
            }

            Assert.True(until.Elapsed < Bound, "no session waited for an advisory lock");
            await Task.Delay(20);
        }
    }

    private static TimeSpan Bound => TimeSpan.FromSeconds(10);

    /// <summary>Runs a write while another connection holds the view's row for a second (longer than the merge's wait), and checks it waited for it.</summary>
    private async Task WhileViewRowLockedAsync(string view, Func<Task> write)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("SELECT 1 FROM strata_online.views WHERE project = 'flights' AND name = @n FOR UPDATE", connection, transaction))
        {
            command.Parameters.AddWithValue("n", view);
            Assert.Equal(1, await command.ExecuteScalarAsync());
        }

        var writing = write();
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(writing.IsCompleted, $"the write to '{view}' did not wait for the row lock ({writing.Exception?.GetBaseException().Message})");
        await transaction.RollbackAsync();
        await writing.WaitAsync(Bound);
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
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
