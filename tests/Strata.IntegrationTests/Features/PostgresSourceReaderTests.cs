using Npgsql;
using Strata.Features.Definitions;
using Strata.Postgres;
using Strata.Testing;

namespace Strata.IntegrationTests.Features;

[RequiresPostgres]
public sealed class PostgresSourceReaderTests : IAsyncLifetime
{
    private string _connectionString = "";
    private PostgresTestDatabase? _database;

    private static readonly Schema Declared = new(
        new Field("origin", DataType.String, nullable: false),
        new Field("feature_ts", DataType.Timestamp, nullable: false),
        new Field("dep_count", DataType.Int64),
        new Field("mean_delay", DataType.Float64));

    public async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        _connectionString = _database.ConnectionString;
        await ExecuteAsync("""
            CREATE TABLE hourly (origin text, feature_ts timestamp, dep_count integer, mean_delay numeric, extra text);
            INSERT INTO hourly SELECT CASE WHEN i % 2 = 0 THEN 'SFO' ELSE 'LAX' END, timestamp '2001-01-01' + i * interval '1 hour',
                i, CASE WHEN i % 5 = 0 THEN NULL ELSE i / 4.0 END, 'x' FROM generate_series(1, 1000) i;
            """);
    }

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [BackendFact]
    public async Task A_table_source_reads_the_declared_columns_with_their_types_in_batches()
    {
        var source = new SourceDefinition("hourly_stats", SourceKind.PostgresTable, "feature_ts") { Table = "public.hourly", Schema = Declared };
        var batches = await ReadAllAsync(source, batchRows: 300);

        Assert.Equal([300, 300, 300, 100], batches.Select(b => b.RowCount));
        var all = Table.Concat(batches);
        Assert.Equal(Declared.Names, all.Schema.Names);
        Assert.Equal(1000, all.GetColumn<long>("dep_count").Values.ToArray().Distinct().Count());
        Assert.Equal(200, all["mean_delay"].NullCount);
        var first = Array.IndexOf(all.GetColumn<long>("dep_count").Values.ToArray(), 4L);
        Assert.Equal(1.0, all.GetColumn<double>("mean_delay")[first]);
        Assert.Equal(Timestamp.FromDateTime(new DateTime(2001, 1, 1, 4, 0, 0, DateTimeKind.Utc)), all.GetColumn<long>("feature_ts")[first]);
    }

    [BackendFact]
    public async Task A_query_source_reads_its_rows()
    {
        var source = new SourceDefinition("sfo", SourceKind.PostgresQuery, "feature_ts")
        {
            Query = "SELECT * FROM hourly WHERE origin = 'SFO'",
            Schema = Declared,
        };
        var all = Table.Concat(await ReadAllAsync(source, batchRows: 10_000));
        Assert.Equal(500, all.RowCount);
        Assert.All(Enumerable.Range(0, all.RowCount), i => Assert.Equal("SFO", all.GetStringColumn("origin")[i]));
    }

    [BackendFact]
    public async Task A_query_that_writes_is_refused_and_changes_nothing()
    {
        var source = new SourceDefinition("sneaky", SourceKind.PostgresQuery, "feature_ts")
        {
            Query = "WITH gone AS (DELETE FROM hourly RETURNING *) SELECT * FROM gone",
            Schema = Declared,
        };
        await Assert.ThrowsAnyAsync<PostgresException>(() => ReadAllAsync(source, batchRows: 100));

        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM hourly", connection);
        Assert.Equal(1000L, (long)(await count.ExecuteScalarAsync())!);
    }

    [BackendFact]
    public async Task A_table_name_that_is_not_an_identifier_is_refused_before_any_sql()
    {
        var source = new SourceDefinition("bad", SourceKind.PostgresTable, "feature_ts") { Table = "hourly; DROP TABLE hourly", Schema = Declared };
        var e = await Assert.ThrowsAsync<StrataException>(() => ReadAllAsync(source, batchRows: 100));
        Assert.Contains("not a table name", e.Message, StringComparison.Ordinal);
    }

    private async Task<List<Table>> ReadAllAsync(SourceDefinition source, int batchRows)
    {
        var batches = new List<Table>();
        await foreach (var batch in PostgresSourceReader.ReadAsync(_connectionString, source, batchRows))
        {
            batches.Add(batch);
        }

        return batches;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
