using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Strata.Features;
using Strata.Features.OnlineStore;

namespace Strata.Postgres;

/// <summary>
/// The online feature store on PostgreSQL, so several server replicas serve one project's latest feature values from
/// one database. One table per view and layout, keyed by the join keys; the layouts live in <c>strata_online.views</c>,
/// so every replica resolves a view the same way.
/// </summary>
/// <remarks>
/// A view's table name carries its layout fingerprint: a changed layout is a new table, so a replica holding an old
/// layout fails to find the table (and reloads) instead of misreading columns. Writes check the stored fingerprint
/// under a share lock on the view's row, which <see cref="ApplyViewsAsync"/> updates, so no write lands in a layout
/// that is being replaced. Timestamps travel as UTC microseconds and are converted in SQL, exactly, both ways.
/// A merge (<see cref="BeginMergeAsync"/>, an aggregation view's read-merge-write of windows) is one transaction holding an
/// advisory lock per view, so the merges of all replicas into one view take turns; one that waits too long for its turn
/// is refused as a conflict to retry.
/// </remarks>
public sealed class PostgresOnlineStore : IOnlineStore
{
    private const string Schema = "strata_online";
    private const string SequenceColumn = "strata_write_seq";

    // Any constant works; it names the lock under which replicas create the schema all projects share (CREATE ... IF NOT
    // EXISTS is not safe against itself in two sessions). It is global, but held only while the schema is made, and no
    // merge or view change takes it, so opening one project's store never waits for another project's work.
    private const long SchemaLock = 0x5354524154410002;

    /// <summary>
    /// How long a merge waits for each of its locks when the session sets no <c>lock_timeout</c> of its own: as long as a
    /// push waits for its turn in its own process (a push holds a view for milliseconds, so a wait this long is behind a
    /// materialization, and the caller hears why before HTTP clients and proxies commonly give up).
    /// </summary>
    internal static readonly TimeSpan DefaultMergeLockWait = FeatureStore.DefaultPushLockWait;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _project;
    private readonly ConcurrentDictionary<(FeatureViewLayout View, string Features), string> _readSql = new();
    private volatile Dictionary<string, StoredView> _views = new(StringComparer.Ordinal);

    private PostgresOnlineStore(NpgsqlDataSource dataSource, string project)
    {
        _dataSource = dataSource;
        _project = project;
    }

    /// <inheritdoc />
    public string Backend => "postgres";

    /// <summary>How long a merge waits for each of its locks when the session sets no <c>lock_timeout</c> (tests shorten it).</summary>
    internal TimeSpan MergeLockWait { get; set; } = DefaultMergeLockWait;

    /// <inheritdoc />
    public IReadOnlyCollection<FeatureViewLayout> Views => _views.Values.Select(v => v.Layout).ToArray();

    /// <summary>Opens the store of one project on a database, creating the schema on first use and loading the stored views.</summary>
    public static async Task<PostgresOnlineStore> OpenAsync(string connectionString, string project, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        ArgumentException.ThrowIfNullOrEmpty(project);
        var dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            var store = new PostgresOnlineStore(dataSource, project);
            await store.SetupAsync(cancellationToken).ConfigureAwait(false);
            await store.ReloadAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task SetupAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, $"""
            SELECT pg_advisory_xact_lock({SchemaLock});
            CREATE SCHEMA IF NOT EXISTS {Schema};
            CREATE SEQUENCE IF NOT EXISTS {Schema}.write_seq;
            CREATE TABLE IF NOT EXISTS {Schema}.views (
                project text NOT NULL,
                name text NOT NULL,
                fingerprint bigint NOT NULL,
                table_name text NOT NULL,
                layout text NOT NULL,
                PRIMARY KEY (project, name));
            """, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads the project's views as stored, replacing what this instance knew.</summary>
    private async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        _views = await LoadAsync(connection, null, lockRows: false, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Dictionary<string, StoredView>> LoadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, bool lockRows, CancellationToken cancellationToken)
    {
        var views = new Dictionary<string, StoredView>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand($"SELECT table_name, layout FROM {Schema}.views WHERE project = @p{(lockRows ? " FOR UPDATE" : "")}", connection, transaction);
        command.Parameters.AddWithValue("p", _project);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var layout = LayoutJson.Parse(reader.GetString(1));
            views[layout.Name] = new StoredView(layout, reader.GetString(0));
        }

        return views;
    }

    /// <inheritdoc />
    public async Task ApplyViewsAsync(IReadOnlyList<FeatureViewLayout> views, CancellationToken cancellationToken = default)
    {
        FeatureViewLayout.CheckDistinct(views);
        foreach (var view in views)
        {
            CheckNames(view);
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockSetupAsync(connection, transaction, shared: false, cancellationToken).ConfigureAwait(false);
        var current = await LoadAsync(connection, transaction, lockRows: true, cancellationToken).ConfigureAwait(false);
        var next = new Dictionary<string, StoredView>(StringComparer.Ordinal);
        var sql = new StringBuilder();
        foreach (var view in views)
        {
            var table = TableName(view);
            if (current.TryGetValue(view.Name, out var old) && string.Equals(old.Table, table, StringComparison.Ordinal) && SameSchema(old.Layout, view))
            {
                await UpsertViewAsync(connection, transaction, view, table, cancellationToken).ConfigureAwait(false); // a TTL change
            }
            else
            {
                if (old is not null)
                {
                    sql.Append(CultureInfo.InvariantCulture, $"DROP TABLE IF EXISTS {Schema}.{Quote(old.Table)};\n");
                }

                sql.Append(CreateTableSql(view, table));
                await UpsertViewAsync(connection, transaction, view, table, cancellationToken).ConfigureAwait(false);
            }

            next[view.Name] = new StoredView(view, table);
        }

        foreach (var (name, old) in current)
        {
            if (!views.Any(v => v.Name == name))
            {
                sql.Append(CultureInfo.InvariantCulture, $"DROP TABLE IF EXISTS {Schema}.{Quote(old.Table)};\n");
                await using var delete = new NpgsqlCommand($"DELETE FROM {Schema}.views WHERE project = @p AND name = @n", connection, transaction);
                delete.Parameters.AddWithValue("p", _project);
                delete.Parameters.AddWithValue("n", name);
                await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        if (sql.Length > 0)
        {
            await ExecuteAsync(connection, transaction, sql.ToString(), cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        _views = next;
    }

    private async Task UpsertViewAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, FeatureViewLayout view, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"""
            INSERT INTO {Schema}.views (project, name, fingerprint, table_name, layout) VALUES (@p, @n, @f, @t, @l)
            ON CONFLICT (project, name) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, table_name = EXCLUDED.table_name, layout = EXCLUDED.layout
            """,
            connection,
            transaction);
        command.Parameters.AddWithValue("p", _project);
        command.Parameters.AddWithValue("n", view.Name);
        command.Parameters.AddWithValue("f", (long)view.Fingerprint);
        command.Parameters.AddWithValue("t", table);
        command.Parameters.AddWithValue("l", LayoutJson.Format(view));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task WriteAsync(string view, Table rows, CancellationToken cancellationToken = default)
    {
        var stored = await ViewAsync(view, cancellationToken).ConfigureAwait(false);
        var batch = WriteBatch.From(stored.Layout, rows); // the embedded store's checks and messages: a bad table is refused here
        if (batch.Count == 0)
        {
            return;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await WriteRowsAsync(connection, transaction, view, stored, rows, batch, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// One transaction. It takes the project's setup lock shared first, as a merge does, so a view change (which locks
    /// every view row) never waits in a cycle with it.
    /// </remarks>
    public async Task WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        if (writes.Count == 1)
        {
            await WriteAsync(writes[0].View, writes[0].Rows, cancellationToken).ConfigureAwait(false);
            return;
        }

        var work = new List<(string View, StoredView Stored, Table Rows, WriteBatch Batch)>(writes.Count);
        foreach (var write in writes)
        {
            var stored = await ViewAsync(write.View, cancellationToken).ConfigureAwait(false);
            var batch = WriteBatch.From(stored.Layout, write.Rows); // every table checked before anything is written
            if (batch.Count > 0)
            {
                work.Add((write.View, stored, write.Rows, batch));
            }
        }

        if (work.Count == 0)
        {
            return;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockSetupAsync(connection, transaction, shared: true, cancellationToken).ConfigureAwait(false);
        foreach (var (view, stored, rows, batch) in work)
        {
            await WriteRowsAsync(connection, transaction, view, stored, rows, batch, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A merge's write: in its transaction, durable when it commits.</summary>
    private async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string view, Table rows, CancellationToken cancellationToken)
    {
        var stored = await ViewAsync(view, cancellationToken).ConfigureAwait(false);
        var batch = WriteBatch.From(stored.Layout, rows);
        if (batch.Count > 0)
        {
            await WriteRowsAsync(connection, transaction, view, stored, rows, batch, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Upserts a checked batch in a transaction, once the view's stored fingerprint is found to be the one this instance
    /// writes (under a share lock on its row, held to the commit).
    /// </summary>
    private async Task WriteRowsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string view, StoredView stored, Table rows, WriteBatch batch, CancellationToken cancellationToken)
    {
        var layout = stored.Layout;
        var winners = Winners(batch);
        long sequence;
        await using (var check = new NpgsqlCommand(
            $"SELECT fingerprint, table_name, nextval('{Schema}.write_seq') FROM {Schema}.views WHERE project = @p AND name = @n FOR SHARE",
            connection,
            transaction))
        {
            check.Parameters.AddWithValue("p", _project);
            check.Parameters.AddWithValue("n", view);
            await using var reader = await check.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || reader.GetInt64(0) != layout.Fingerprint || reader.GetString(1) != stored.Table)
            {
                await reader.DisposeAsync().ConfigureAwait(false);
                await ReloadAsync(cancellationToken).ConfigureAwait(false);
                throw new StrataException(ErrorCodes.Conflict, $"feature view '{view}' was changed or dropped by another instance; nothing was written");
            }

            sequence = reader.GetInt64(2);
        }

        var columns = layout.Schema.Select(f => f.Name).ToArray();
        var staging = string.Join(", ", layout.Schema.Select(f => $"{Quote(f.Name)} {StagingType(f.Type)}"));
        await ExecuteAsync(connection, transaction, $"CREATE TEMP TABLE strata_batch ({staging}) ON COMMIT DROP", cancellationToken).ConfigureAwait(false);
        await using (var importer = await connection.BeginBinaryImportAsync(
            $"COPY strata_batch ({string.Join(", ", columns.Select(Quote))}) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
        {
            var source = columns.Select(c => rows[c]).ToArray();
            foreach (var r in winners)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                foreach (var column in source)
                {
                    await WriteCellAsync(importer, column, r, cancellationToken).ConfigureAwait(false);
                }
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        // The staging table is dropped at once, not at the commit: a merge's transaction writes several views.
        await using (var upsert = new NpgsqlCommand(UpsertSql(layout, stored.Table) + ";\nDROP TABLE strata_batch", connection, transaction))
        {
            upsert.Parameters.AddWithValue("seq", sequence);
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Per key, the row that supersedes the others of the batch (newer event, then created time, then later position).</summary>
    private static List<int> Winners(WriteBatch batch)
    {
        var best = new Dictionary<byte[], int>(batch.Count, ByteKeyComparer.Instance);
        for (var i = 0; i < batch.Count; i++)
        {
            if (!best.TryGetValue(batch.Keys[i], out var at)
                || (batch.EventTimestamps[i], batch.CreatedTimestamps[i]).CompareTo((batch.EventTimestamps[at], batch.CreatedTimestamps[at])) >= 0)
            {
                best[batch.Keys[i]] = i;
            }
        }

        var winners = best.Values.ToList();
        winners.Sort();
        return winners;
    }

    private static string UpsertSql(FeatureViewLayout layout, string table)
    {
        var target = $"{Schema}.{Quote(table)}";
        var keys = string.Join(", ", layout.JoinKeys.Select(k => Quote(k.Name)));
        var columns = layout.Schema.Select(f => Quote(f.Name)).ToList();
        var values = layout.Schema.Select(f => f.Type == DataType.Timestamp ? FromMicros(Quote(f.Name)) : Quote(f.Name)).ToList();
        var updates = layout.Schema.Where(f => !layout.JoinKeys.Any(k => k.Name == f.Name)).Select(f => $"{Quote(f.Name)} = EXCLUDED.{Quote(f.Name)}").Append($"{SequenceColumn} = EXCLUDED.{SequenceColumn}");
        var order = new List<string> { Quote(layout.EventTimestampColumn) };
        if (layout.CreatedTimestampColumn is { } created)
        {
            order.Add(Quote(created));
        }

        order.Add(SequenceColumn);

        // Rows upserted in key order: two writes of the same keys (pushes into a plain view take no turn, and a plain view's
        // materialization none either) lock them in one order, so they wait for each other instead of deadlocking.
        var keyOrder = string.Join(", ", layout.JoinKeys.Select(k => "b." + Quote(k.Name)));
        return $"""
            INSERT INTO {target} ({string.Join(", ", columns)}, {SequenceColumn})
            SELECT {string.Join(", ", values)}, @seq FROM strata_batch AS b ORDER BY {keyOrder}
            ON CONFLICT ({keys}) DO UPDATE SET {string.Join(", ", updates)}
            WHERE ({string.Join(", ", order.Select(c => "EXCLUDED." + c))}) > ({string.Join(", ", order.Select(c => "t." + c))})
            """.Replace($"INSERT INTO {target} (", $"INSERT INTO {target} AS t (", StringComparison.Ordinal);
    }

    private static ValueTask WriteCellAsync(NpgsqlBinaryImporter importer, Column column, int row, CancellationToken cancellationToken)
    {
        if (column.IsNull(row))
        {
            return new ValueTask(importer.WriteNullAsync(cancellationToken));
        }

        return column switch
        {
            StringColumn s => new ValueTask(importer.WriteAsync(s[row]!, NpgsqlDbType.Text, cancellationToken)),
            Column<long> l => new ValueTask(importer.WriteAsync(l[row], NpgsqlDbType.Bigint, cancellationToken)),
            Column<int> i => new ValueTask(importer.WriteAsync(i[row], NpgsqlDbType.Integer, cancellationToken)),
            Column<double> d => new ValueTask(importer.WriteAsync(d[row], NpgsqlDbType.Double, cancellationToken)),
            Column<float> f => new ValueTask(importer.WriteAsync(f[row], NpgsqlDbType.Real, cancellationToken)),
            Column<bool> b => new ValueTask(importer.WriteAsync(b[row], NpgsqlDbType.Boolean, cancellationToken)),
            _ => throw new InvalidOperationException($"unexpected column type {column.Type.Name()}"),
        };
    }

    /// <inheritdoc />
    public ValueTask ReadAsync(
        string view, IReadOnlyList<string> features, ReadOnlyMemory<EntityKeyPart> keys, long nowMicros, Memory<FeatureValue> results, CancellationToken cancellationToken = default) =>
        ReadAsync(null, null, view, features, keys, nowMicros, results, cancellationToken);

    /// <summary>A read on its own connection, or (given one) in a merge's transaction.</summary>
    private async ValueTask ReadAsync(
        NpgsqlConnection? connection,
        NpgsqlTransaction? transaction,
        string view,
        IReadOnlyList<string> features,
        ReadOnlyMemory<EntityKeyPart> keys,
        long nowMicros,
        Memory<FeatureValue> results,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(features);
        var stored = await ViewAsync(view, cancellationToken).ConfigureAwait(false);
        var layout = stored.Layout;
        var positions = new int[features.Count];
        for (var i = 0; i < positions.Length; i++)
        {
            positions[i] = layout.FeatureIndex(features[i]);
        }

        OnlineKeys.Check(layout, keys.Span);
        var arity = layout.JoinKeys.Count;
        var entities = keys.Length / arity;
        if (results.Length < entities * positions.Length)
        {
            throw OnlineKeys.ShortResults(layout, positions.Length, keys.Length, results.Length);
        }

        for (var i = 0; i < entities * positions.Length; i++)
        {
            results.Span[i] = new FeatureValue(FeatureStatus.NotFound, layout.Features[positions[i % positions.Length]].Type, 0, 0, null);
        }

        if (entities == 0)
        {
            return;
        }

        try
        {
            if (connection is null)
            {
                await using var own = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await ReadRowsAsync(own, null, stored, positions, keys, entities, nowMicros, results, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await ReadRowsAsync(connection, transaction, stored, positions, keys, entities, nowMicros, results, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            // Another instance changed or dropped the view: take its layouts and answer as it would. A merge's transaction
            // is aborted by the error, so a merge stops there, as its write would.
            await ReloadAsync(cancellationToken).ConfigureAwait(false);
            if (transaction is not null)
            {
                throw new StrataException(ErrorCodes.Conflict, $"feature view '{view}' was changed or dropped by another instance; nothing was written");
            }

            await ReadAsync(null, null, view, features, keys, nowMicros, results, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReadRowsAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction? transaction,
        StoredView stored,
        int[] positions,
        ReadOnlyMemory<EntityKeyPart> keys,
        int entities,
        long now,
        Memory<FeatureValue> results,
        CancellationToken cancellationToken)
    {
        var layout = stored.Layout;
        var arity = layout.JoinKeys.Count;
        var sql = _readSql.GetOrAdd((layout, string.Join('\u0001', positions)), _ => ReadSql(stored, positions));
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        for (var k = 0; k < arity; k++)
        {
            if (layout.JoinKeys[k].Type == DataType.String)
            {
                var parts = new string[entities];
                for (var e = 0; e < entities; e++)
                {
                    parts[e] = keys.Span[(e * arity) + k].Text!;
                }

                command.Parameters.Add(new NpgsqlParameter<string[]>($"k{k}", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = parts });
            }
            else
            {
                var parts = new long[entities];
                for (var e = 0; e < entities; e++)
                {
                    parts[e] = keys.Span[(e * arity) + k].Number;
                }

                command.Parameters.Add(new NpgsqlParameter<long[]>($"k{k}", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = parts });
            }
        }

        var ttl = layout.TtlMicros;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var entity = (int)(reader.GetInt64(0) - 1);
            var eventTimestamp = reader.GetInt64(1);
            var span = results.Span.Slice(entity * positions.Length, positions.Length);

            // Feast's rule, as the embedded reader: expired when event_ts < now − ttl, so a row exactly ttl old is served.
            var expired = ttl > 0 && eventTimestamp < now - ttl;
            for (var i = 0; i < positions.Length; i++)
            {
                var type = layout.Features[positions[i]].Type;
                var ordinal = 2 + i;
                span[i] = expired ? new FeatureValue(FeatureStatus.OutsideMaxAge, type, eventTimestamp, 0, null)
                    : reader.IsDBNull(ordinal) ? new FeatureValue(FeatureStatus.NullValue, type, eventTimestamp, 0, null)
                    : type switch
                    {
                        DataType.String => new FeatureValue(FeatureStatus.Present, type, eventTimestamp, 0, reader.GetString(ordinal)),
                        DataType.Bool => new FeatureValue(FeatureStatus.Present, type, eventTimestamp, reader.GetBoolean(ordinal) ? 1 : 0, null),
                        DataType.Int32 => new FeatureValue(FeatureStatus.Present, type, eventTimestamp, reader.GetInt32(ordinal), null),
                        DataType.Float32 => new FeatureValue(FeatureStatus.Present, type, eventTimestamp, BitConverter.SingleToInt32Bits(reader.GetFloat(ordinal)), null),
                        DataType.Float64 => new FeatureValue(FeatureStatus.Present, type, eventTimestamp, BitConverter.DoubleToInt64Bits(reader.GetDouble(ordinal)), null),
                        _ => new FeatureValue(FeatureStatus.Present, type, eventTimestamp, reader.GetInt64(ordinal), null), // int64, timestamp (as micros)
                    };
            }
        }
    }

    /// <summary>One statement per read: the key arrays unnest into numbered entities and join the view's primary key.</summary>
    private static string ReadSql(StoredView stored, int[] positions)
    {
        var layout = stored.Layout;
        var names = layout.JoinKeys.Select((_, k) => $"k{k}").ToArray();
        var arrays = layout.JoinKeys.Select((k, i) => $"@k{i}::{(k.Type == DataType.String ? "text" : "bigint")}[]");
        var join = string.Join(" AND ", layout.JoinKeys.Select((k, i) => $"t.{Quote(k.Name)} = q.k{i}"));
        var features = positions.Select(p => layout.Features[p]).Select(f => f.Type == DataType.Timestamp ? ToMicros("t." + Quote(f.Name)) : "t." + Quote(f.Name));
        return $"""
            SELECT q.strata_entity, {ToMicros("t." + Quote(layout.EventTimestampColumn))}{string.Concat(features.Select(f => ", " + f))}
            FROM unnest({string.Join(", ", arrays)}) WITH ORDINALITY AS q({string.Join(", ", names)}, strata_entity)
            JOIN {Schema}.{Quote(stored.Table)} AS t ON {join}
            """;
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(string view, CancellationToken cancellationToken = default)
    {
        var stored = await ViewAsync(view, cancellationToken).ConfigureAwait(false);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM {Schema}.{Quote(stored.Table)}", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    /// <remarks>
    /// One transaction: it takes the project's setup lock shared (so no view is changed meanwhile, and <see cref="ApplyViewsAsync"/>,
    /// which locks every view row, never waits in a cycle with a merge that writes several), then an advisory lock per
    /// view, in name order so two merges never wait for each other's locks in a cycle. The locks are released by the
    /// commit or the rollback, a connection lost included, so a crashed replica holds none. Each lock is waited for at
    /// most the session's <c>lock_timeout</c> or, when it has none (PostgreSQL's default), <see cref="MergeLockWait"/>.
    /// </remarks>
    /// <exception cref="StrataException">A lock still held by another process after that wait (a conflict, with a Retry-After).</exception>
    public async Task<IOnlineMerge> BeginMergeAsync(IReadOnlyList<string> views, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(views);
        var names = views.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        foreach (var view in names)
        {
            _ = await ViewAsync(view, cancellationToken).ConfigureAwait(false);
        }

        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            // A merge waits for the one before it, a push's for milliseconds, but a materialization's for as long as it
            // rebuilds the view: unbounded, a push behind one hung until its client gave up, told nothing. SET LOCAL ends
            // with the transaction, so the pooled connection is left as it was; the wait's bound is lifted again once the
            // locks are held (TO DEFAULT: the session's own value), so the merge's statements wait as any other.
            await using var batch = new NpgsqlBatch(connection, transaction) { Timeout = 0 }; // lock_timeout is the bound
            batch.BatchCommands.Add(new NpgsqlBatchCommand(string.Create(
                CultureInfo.InvariantCulture,
                $"SELECT set_config('lock_timeout', '{Math.Max(1, (long)MergeLockWait.TotalMilliseconds)}ms', true) WHERE current_setting('lock_timeout') = '0'")));
            batch.BatchCommands.Add(new NpgsqlBatchCommand(SetupLockSql(shared: true)) { Parameters = { new NpgsqlParameter("k", SetupLockKey) } });
            foreach (var view in names)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(hashtextextended(@v, 0))") { Parameters = { new NpgsqlParameter("v", MergeLockKey(view)) } });
            }

            batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL lock_timeout TO DEFAULT"));
            var started = Stopwatch.GetTimestamp();
            var done = 0; // the batch's commands: the bound, the setup lock, then the views' locks in name order
            try
            {
                // Read result by result, so a refusal knows whose lock it waited for (an error names its command only
                // when the connection string says so).
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                done = 1;
                while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
                {
                    done++;
                }
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                throw Busy(done >= 2 && done - 2 < names.Length ? names[done - 2] : null, Stopwatch.GetElapsedTime(started), e);
            }

            return new Merge(this, connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The merge's refusal once its wait is over: a conflict that passes (the lock's holder commits in the end), so a
    /// 409 with a Retry-After at the HTTP edge; the merge began nothing, and its callers write nothing before it.
    /// </summary>
    private static StrataException Busy(string? view, TimeSpan waited, Exception inner) => StrataException.LockBusy(
        view is null
            ? "the online store's feature views are being changed by another server replica or process (definitions applied, which wait for the merges in progress)"
            : $"feature view '{view}' is locked by a merge in another server replica or process (a push into the view, or a materialization of it, which can take minutes)",
        waited,
        inner);

    private string MergeLockKey(string view) => $"strata_online/{_project}/{view}";

    /// <summary>
    /// The key of the project's setup lock: a view change (<see cref="ApplyViewsAsync"/>) takes it exclusive, a merge or
    /// a write of several views shared. Per project, as the views, their tables and their rows are: a materialization in
    /// one project held every other project's definitions (and, with them, its pushes' merges) back when it was global.
    /// </summary>
    internal string SetupLockKey => $"strata_online_setup/{_project}";

    /// <summary>Takes the project's setup lock for the transaction: exclusive to change views, shared to write them.</summary>
    private async Task LockSetupAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, bool shared, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(SetupLockSql(shared), connection, transaction);
        command.Parameters.AddWithValue("k", SetupLockKey);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string SetupLockSql(bool shared) =>
        shared ? "SELECT pg_advisory_xact_lock_shared(hashtextextended(@k, 0))" : "SELECT pg_advisory_xact_lock(hashtextextended(@k, 0))";

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <summary>A view as this instance knows it; an unknown name is looked up again, in case another instance added it.</summary>
    private async ValueTask<StoredView> ViewAsync(string view, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(view);
        if (_views.TryGetValue(view, out var stored))
        {
            return stored;
        }

        await ReloadAsync(cancellationToken).ConfigureAwait(false);
        var views = _views;
        return views.TryGetValue(view, out stored)
            ? stored
            : throw new StrataException(ErrorCodes.NotFound, $"no feature view '{view}' in the online store (views: {string.Join(", ", views.Keys)})");
    }

    private static bool SameSchema(FeatureViewLayout a, FeatureViewLayout b) =>
        a.Fingerprint == b.Fingerprint && string.Equals(a.Schema.ToString(), b.Schema.ToString(), StringComparison.Ordinal);

    private static void CheckNames(FeatureViewLayout view)
    {
        foreach (var field in view.Schema)
        {
            if (string.Equals(field.Name, SequenceColumn, StringComparison.Ordinal) || Encoding.UTF8.GetByteCount(field.Name) > 63 || field.Name.Contains('\0', StringComparison.Ordinal))
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"feature view '{view.Name}': column '{field.Name}' cannot be a PostgreSQL column (at most 63 bytes, no NUL, not '{SequenceColumn}')");
            }
        }
    }

    /// <summary>
    /// <c>v_{project}_{view}_{hash}_{fingerprint}</c>: readable parts cut to what identifiers allow, a hash of the exact
    /// names so different views never share a table, and the layout fingerprint so a changed layout is a new table.
    /// </summary>
    private string TableName(FeatureViewLayout view)
    {
        static string Part(string text, int max)
        {
            var safe = new string(text.ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '_').ToArray());
            return safe.Length > max ? safe[..max] : safe;
        }

        var hash = Crc32C.Compute(Encoding.UTF8.GetBytes(_project + "\0" + view.Name));
        return string.Create(CultureInfo.InvariantCulture, $"v_{Part(_project, 16)}_{Part(view.Name, 20)}_{hash:x8}_{view.Fingerprint:x8}");
    }

    private static string CreateTableSql(FeatureViewLayout view, string table)
    {
        var columns = view.Schema.Select(f => $"{Quote(f.Name)} {ColumnType(f.Type)}{(f.Nullable ? "" : " NOT NULL")}");
        var keys = string.Join(", ", view.JoinKeys.Select(k => Quote(k.Name)));
        return $"CREATE TABLE {Schema}.{Quote(table)} ({string.Join(", ", columns)}, {SequenceColumn} bigint NOT NULL, PRIMARY KEY ({keys}));\n";
    }

    private static string ColumnType(DataType type) => PgCopy.SqlType(type);

    /// <summary>Staging columns take timestamps as microseconds; the upsert converts them exactly.</summary>
    private static string StagingType(DataType type) => type == DataType.Timestamp ? "bigint" : ColumnType(type);

    private static string FromMicros(string column) => $"(timestamp '1970-01-01' + {column} * interval '1 microsecond')";

    // extract(epoch …) is numeric since PostgreSQL 14, so the microseconds come back exact.
    private static string ToMicros(string column) => $"(extract(epoch from {column}) * 1000000)::bigint";

    private static string Quote(string identifier) => PgCopy.Quote(identifier);

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed record StoredView(FeatureViewLayout Layout, string Table);

    /// <summary>A merge: reads and writes in one transaction, which holds the views' locks until it ends.</summary>
    private sealed class Merge(PostgresOnlineStore store, NpgsqlConnection connection, NpgsqlTransaction transaction) : IOnlineMerge
    {
        public ValueTask ReadAsync(
            string view, IReadOnlyList<string> features, ReadOnlyMemory<EntityKeyPart> keys, long nowMicros, Memory<FeatureValue> results, CancellationToken cancellationToken = default) =>
            store.ReadAsync(connection, transaction, view, features, keys, nowMicros, results, cancellationToken);

        public Task WriteAsync(string view, Table rows, CancellationToken cancellationToken = default) =>
            store.WriteAsync(connection, transaction, view, rows, cancellationToken);

        public async Task WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(writes);
            foreach (var write in writes) // one transaction: a failure leaves the merge to be rolled back whole
            {
                await store.WriteAsync(connection, transaction, write.View, write.Rows, cancellationToken).ConfigureAwait(false);
            }
        }

        public Task CommitAsync(CancellationToken cancellationToken = default) => transaction.CommitAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync().ConfigureAwait(false); // a rollback, unless committed
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
