using System.Data;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

using Npgsql;

using Strata.Features;
using Strata.Features.OfflineStore;
using Strata.Stores;

namespace Strata.Postgres;

/// <summary>
/// The offline store of one project on PostgreSQL, so feature history can outgrow one machine and the point-in-time join
/// runs next to the data: one typed table per view in schema <c>strata_offline</c>, appends by binary COPY in one
/// transaction (one for every view a push writes), and the join pushed into SQL with the same rule and results as the
/// embedded store.
/// </summary>
/// <remarks>
/// Ties between rows with the same key and event time go to the larger created time, then to the row appended later;
/// a <c>bigserial</c> column records the append order, and appends to a view are serialized so it is total.
/// </remarks>
public sealed partial class PostgresOfflineStore : IOfflineStore
{
    internal const string SchemaName = "strata_offline";
    internal const string SequenceColumn = "__strata_seq";
    private const long PgMaxIdentifier = 63;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _project;

    private PostgresOfflineStore(NpgsqlDataSource dataSource, string project)
    {
        _dataSource = dataSource;
        _project = project;
    }

    /// <inheritdoc />
    public string Backend => "postgres";

    /// <summary>The project whose views this store holds.</summary>
    public string Project => _project;

    /// <summary>Opens the store of <paramref name="project"/> on a database, creating the catalog if needed.</summary>
    public static async Task<PostgresOfflineStore> OpenAsync(string connectionString, string project, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        Names.Check("project", project);
        var dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(hashtextextended('strata_offline', 0))", cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(
                connection,
                transaction,
                $"""
                CREATE SCHEMA IF NOT EXISTS {SchemaName};
                CREATE TABLE IF NOT EXISTS {SchemaName}.views (
                    project text NOT NULL,
                    view text NOT NULL,
                    table_name text NOT NULL UNIQUE,
                    signature text NOT NULL,
                    PRIMARY KEY (project, view))
                """,
                cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new PostgresOfflineStore(dataSource, project);
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public Task AppendAsync(FeatureViewLayout view, Table rows, CancellationToken cancellationToken = default) =>
        AppendAsync([new OfflineAppend(view, rows)], cancellationToken);

    /// <inheritdoc />
    /// <remarks>One transaction for every view: a push to a source that feeds several views is appended to all or to none.</remarks>
    public async Task AppendAsync(IReadOnlyList<OfflineAppend> appends, CancellationToken cancellationToken = default)
    {
        var work = OfflineRows.CheckAll(appends);
        foreach (var append in work)
        {
            CheckColumnNames(append.View);
        }

        if (work.Length == 0)
        {
            return;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (view, rows) in work)
        {
            // One writer per view at a time: the sequence then orders rows exactly as they were appended. The views come
            // in name order, as in every append, so two appends never wait for each other's locks in a cycle.
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended(@key, 0))", connection, transaction))
            {
                lockCommand.Parameters.AddWithValue("key", AppendLockKey(view.Name));
                await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var table = await FindTableAsync(connection, transaction, view, cancellationToken).ConfigureAwait(false)
                ?? await CreateTableAsync(connection, transaction, view, cancellationToken).ConfigureAwait(false);
            var columns = string.Join(", ", view.Schema.Select(f => Quote(f.Name)));
            var importer = await connection.BeginBinaryImportAsync($"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
            await using (importer.ConfigureAwait(false))
            {
                await PgCopy.WriteRowsAsync(importer, rows.Columns, cancellationToken).ConfigureAwait(false);
                await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Table> ReadAsync(
        FeatureViewLayout view,
        long startMicros,
        long endMicros,
        int batchRows,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        OfflineRows.CheckName(view);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var table = await FindTableAsync(connection, null, view, cancellationToken).ConfigureAwait(false);
        if (table is null || endMicros <= startMicros)
        {
            yield break;
        }

        var ev = Quote(view.EventTimestampColumn);
        var sql = $"SELECT {string.Join(", ", view.Schema.Select(f => Quote(f.Name)))} FROM {table} WHERE {ev} >= @start AND {ev} < @end";
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(PgCopy.TimestampParameter("start", startMicros));
        command.Parameters.Add(PgCopy.TimestampParameter("end", endMicros));
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
        var batch = new PgRowBuffer(view.Schema, batchRows);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            batch.Add(reader, 0);
            if (batch.Count == batchRows)
            {
                yield return batch.Build();
                batch = new PgRowBuffer(view.Schema, batchRows);
            }
        }

        if (batch.Count > 0)
        {
            yield return batch.Build();
        }
    }

    /// <inheritdoc />
    public async Task<(long Min, long Max)?> GetEventTimeRangeAsync(FeatureViewLayout view, CancellationToken cancellationToken = default)
    {
        OfflineRows.CheckName(view);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var table = await FindTableAsync(connection, null, view, cancellationToken).ConfigureAwait(false);
        if (table is null)
        {
            return null;
        }

        var ev = Quote(view.EventTimestampColumn);
        await using var command = new NpgsqlCommand($"SELECT min({ev}), max({ev}) FROM {table}", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return reader.IsDBNull(0) ? null : (PgCopy.Micros(reader.GetDateTime(0)), PgCopy.Micros(reader.GetDateTime(1)));
    }

    /// <inheritdoc />
    /// <remarks>
    /// The view table's OID (a view dropped and made again gets a new one) and the last value of its append-order sequence,
    /// which every committed append moves: O(1), no row is read. Taken under the view's append lock in shared mode, so an
    /// append between its first sequence value and its commit is waited for rather than fingerprinted before its rows are visible.
    /// </remarks>
    public async Task<string> GetFingerprintAsync(FeatureViewLayout view, CancellationToken cancellationToken = default)
    {
        var name = OfflineRows.CheckName(view);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared(hashtextextended(@key, 0))", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("key", AppendLockKey(name));
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var table = await FindTableAsync(connection, transaction, view, cancellationToken).ConfigureAwait(false);
        if (table is null)
        {
            return "empty";
        }

        await using var command = new NpgsqlCommand(
            "SELECT @table::regclass::oid::bigint, coalesce(pg_sequence_last_value(pg_get_serial_sequence(@table, @column)::regclass), 0)", connection, transaction);
        command.Parameters.AddWithValue("table", table);
        command.Parameters.AddWithValue("column", SequenceColumn);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return string.Create(CultureInfo.InvariantCulture, $"table {reader.GetInt64(0)} seq {reader.GetInt64(1)}");
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private string AppendLockKey(string view) => $"strata_offline/{_project}/{view}";

    /// <summary>The quoted, schema-qualified table of a view, or null when nothing was ever appended to it.</summary>
    private async Task<string?> FindTableAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, FeatureViewLayout view, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT table_name, signature FROM {SchemaName}.views WHERE project = @project AND view = @view", connection, transaction);
        command.Parameters.AddWithValue("project", _project);
        command.Parameters.AddWithValue("view", view.Name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        OfflineRows.CheckSignature(view, reader.GetString(1));
        return $"{SchemaName}.{Quote(reader.GetString(0))}";
    }

    private async Task<string> CreateTableAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, FeatureViewLayout view, CancellationToken cancellationToken)
    {
        var name = await TableNameAsync(connection, transaction, view.Name, cancellationToken).ConfigureAwait(false);
        var table = $"{SchemaName}.{Quote(name)}";
        var columns = view.Schema.Select(f => $"{Quote(f.Name)} {PgType(f.Type)}{(f.Nullable ? "" : " NOT NULL")}")
            .Append($"{Quote(SequenceColumn)} bigserial NOT NULL");
        var keys = view.JoinKeys.Select(k => Quote(k.Name)).Append(Quote(view.EventTimestampColumn));
        if (view.CreatedTimestampColumn is { } created)
        {
            keys = keys.Append(Quote(created));
        }

        // The index serves the join's "latest row per key at or before t" order directly, ties included.
        keys = keys.Append(Quote(SequenceColumn));
        await ExecuteAsync(
            connection,
            transaction,
            $"""
            CREATE TABLE {table} ({string.Join(", ", columns)});
            CREATE INDEX {Quote(IndexName(name))} ON {table} ({string.Join(", ", keys)});
            """,
            cancellationToken).ConfigureAwait(false);
        await using var register = new NpgsqlCommand(
            $"INSERT INTO {SchemaName}.views (project, view, table_name, signature) VALUES (@project, @view, @table, @signature)", connection, transaction);
        register.Parameters.AddWithValue("project", _project);
        register.Parameters.AddWithValue("view", view.Name);
        register.Parameters.AddWithValue("table", name);
        register.Parameters.AddWithValue("signature", OfflineRows.Signature(view));
        await register.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return table;
    }

    /// <summary>
    /// <c>{project}__{view}</c> when that fits PostgreSQL's 63-byte identifiers and is free, otherwise a prefix and a
    /// digest of both names, so two views never share a table.
    /// </summary>
    private async Task<string> TableNameAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string view, CancellationToken cancellationToken)
    {
        var plain = $"{_project}__{view}";
        if (plain.Length <= PgMaxIdentifier - 8)
        {
            await using var taken = new NpgsqlCommand($"SELECT count(*) FROM {SchemaName}.views WHERE table_name = @name", connection, transaction);
            taken.Parameters.AddWithValue("name", plain);
            if ((long)(await taken.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! == 0)
            {
                return plain;
            }
        }

        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{_project}/{view}")))[..16];
        return $"{plain[..Math.Min(plain.Length, 36)]}_{digest}";
    }

    private static string IndexName(string table) => table.Length <= PgMaxIdentifier - 4 ? table + "_pit" : table[..(int)(PgMaxIdentifier - 4)] + "_pit";

    private static void CheckColumnNames(FeatureViewLayout view)
    {
        foreach (var field in view.Schema)
        {
            if (Encoding.UTF8.GetByteCount(field.Name) > PgMaxIdentifier || field.Name == SequenceColumn || field.Name.Contains('\0', StringComparison.Ordinal))
            {
                throw new StrataException(
                    ErrorCodes.SchemaInvalid,
                    $"column '{field.Name}' of feature view '{view.Name}' cannot be a PostgreSQL column (longer than {PgMaxIdentifier} bytes, a NUL, or the reserved '{SequenceColumn}')");
            }
        }
    }

    internal static string Quote(string identifier) => PgCopy.Quote(identifier);

    internal static string PgType(DataType type) => PgCopy.SqlType(type);

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
