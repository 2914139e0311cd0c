using System.Data;

using Npgsql;
using NpgsqlTypes;

using Strata.Features;
using Strata.Features.OfflineStore;
using Strata.Features.PointInTime;

namespace Strata.Postgres;

public sealed partial class PostgresOfflineStore
{
    private const string EntityTablePrefix = "entities_";

    /// <inheritdoc />
    public async Task<Table> GetHistoricalFeaturesAsync(
        Table entities,
        string entityTimestamp,
        IReadOnlyList<HistoricalFeatureRequest> views,
        PointInTimeJoinOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentException.ThrowIfNullOrEmpty(entityTimestamp);
        ArgumentNullException.ThrowIfNull(views);
        foreach (var request in views)
        {
            OfflineRows.CheckRequest(request);
        }

        OfflineRows.CheckEntityKeys(entities, views);

        // Plan first: the in-memory join on no rows makes every check (columns, key types, output names) with the same
        // messages as the embedded store, and gives the output schema, before any data moves.
        var planned = PointInTimeJoin.Join(
            entities.Slice(0, 0),
            entityTimestamp,
            views.Select(r => OfflineRows.Source(r, Table.Empty(r.View.Schema))).ToArray(),
            options);

        var outputs = new List<Scatter>();
        // A regular unlogged table, not a temporary one: parallel workers cannot read temporary tables, and the probes
        // split across workers. Created in this transaction (so invisible to others) and dropped before it commits.
        var entityTable = $"{SchemaName}.{Quote(EntityTablePrefix + Guid.NewGuid().ToString("N"))}";
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off; SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0.001", cancellationToken).ConfigureAwait(false);

        var tables = new string?[views.Count];
        for (var v = 0; v < views.Count; v++)
        {
            tables[v] = await FindTableAsync(connection, transaction, views[v].View, cancellationToken).ConfigureAwait(false);
        }

        // The entity columns any stored view joins on, uploaded once with their row number.
        var keyNames = views.Where((_, v) => tables[v] is not null)
            .SelectMany(r => r.EntityKeys ?? r.View.JoinKeys.Select(k => k.Name).ToArray())
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (entities.RowCount > 0 && tables.Any(t => t is not null))
        {
            await UploadEntitiesAsync(connection, transaction, entityTable, entities, entityTimestamp, keyNames, cancellationToken).ConfigureAwait(false);
        }

        for (var v = 0; v < views.Count; v++)
        {
            var request = views[v];
            var scatters = request.Features.Select(f => new Scatter(request.View.Features[request.View.FeatureIndex(f)].Type, entities.RowCount)).ToArray();
            outputs.AddRange(scatters);
            if (tables[v] is not { } table || entities.RowCount == 0)
            {
                continue;
            }

            await using var command = new NpgsqlCommand(JoinSql(request, table, entityTable, keyNames), connection, transaction);
            if (request.View.Ttl != TimeSpan.Zero)
            {
                command.Parameters.Add(new NpgsqlParameter("ttl", NpgsqlDbType.Interval) { Value = TimeSpan.FromTicks(request.View.TtlMicros * TimeSpan.TicksPerMicrosecond) });
            }

            await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var row = reader.GetInt32(0);
                for (var f = 0; f < scatters.Length; f++)
                {
                    scatters[f].Read(reader, 1 + f, row);
                }
            }
        }

        await ExecuteAsync(connection, transaction, $"DROP TABLE IF EXISTS {entityTable}", cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new Table(planned.Schema, entities.Columns.Concat(outputs.Select(o => o.Build())));
    }

    private static async Task UploadEntitiesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string entityTable, Table entities, string entityTimestamp, List<string> keyNames, CancellationToken cancellationToken)
    {
        var columns = keyNames.Select((name, i) => $"e{i} {PgType(entities[name].Type)}").Prepend("rn integer NOT NULL").Append("ts timestamp");
        await ExecuteAsync(connection, transaction, $"CREATE UNLOGGED TABLE {entityTable} ({string.Join(", ", columns)})", cancellationToken).ConfigureAwait(false);
        var importer = await connection.BeginBinaryImportAsync($"COPY {entityTable} FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            var values = keyNames.Select(n => entities[n]).Append(entities[entityTimestamp]).ToArray();
            await PgCopy.WriteRowsAsync(importer, values, cancellationToken, rowNumber: true).ConfigureAwait(false);
            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await ExecuteAsync(connection, transaction, $"ANALYZE {entityTable}", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Per entity row with a match: its row number and the chosen row's features. The rule is
    /// <see cref="PointInTimeJoin"/>'s: key equal (a null never is), <c>ts - ttl &lt;= event_ts &lt;= ts</c>, the largest
    /// event time, then created time, then append order.
    /// </summary>
    /// <remarks>
    /// Measured on 1M entity rows × 10M view rows: a window-function as-of join (UNION ALL, running max, join back) took
    /// 26 s and the plain LATERAL probe 20 s; the same LATERAL with the entity rows sorted by key and time took 12 s, as
    /// consecutive probes then walk neighbouring index pages. The index covers the whole ORDER BY, so each probe stops
    /// at its first entry. With the entity rows in an unlogged table instead of a temporary one the probes run in
    /// parallel workers: 6.7 s against 7.5 s for PostgreSQL's own LATERAL CREATE TABLE AS on the same tuned server.
    /// </remarks>
    private static string JoinSql(HistoricalFeatureRequest request, string table, string entityTable, List<string> keyNames)
    {
        var view = request.View;
        var entityKeys = request.EntityKeys ?? view.JoinKeys.Select(k => k.Name).ToArray();
        var ev = "f." + Quote(view.EventTimestampColumn);
        var conditions = view.JoinKeys.Select((k, i) => $"f.{Quote(k.Name)} = e.e{keyNames.IndexOf(entityKeys[i])}").Append($"{ev} <= e.ts");
        if (view.Ttl != TimeSpan.Zero)
        {
            conditions = conditions.Append($"{ev} >= e.ts - @ttl");
        }

        var order = new List<string> { $"{ev} DESC" };
        if (view.CreatedTimestampColumn is { } created)
        {
            order.Add($"f.{Quote(created)} DESC");
        }

        order.Add($"f.{Quote(SequenceColumn)} DESC");
        var features = string.Join(", ", request.Features.Select(f => "f." + Quote(f)));
        return $"""
            SELECT e.rn, {string.Join(", ", request.Features.Select((_, i) => $"m.c{i}"))}
            FROM (SELECT * FROM {entityTable} ORDER BY {string.Join(", ", entityKeys.Select(k => $"e{keyNames.IndexOf(k)}"))}, ts) e
            CROSS JOIN LATERAL (
                SELECT {string.Join(", ", request.Features.Select((f, i) => $"f.{Quote(f)} AS c{i}"))}
                FROM {table} f
                WHERE {string.Join(" AND ", conditions)}
                ORDER BY {string.Join(", ", order)}
                LIMIT 1) m
            """;
    }

    /// <summary>One output column filled at arbitrary rows (the entity row numbers a query returns), null elsewhere.</summary>
    private sealed class Scatter
    {
        private readonly DataType _type;
        private readonly Array _values;
        private readonly bool[] _valid;

        public Scatter(DataType type, int rows)
        {
            _type = type;
            _valid = new bool[rows];
            _values = type == DataType.String ? new string?[rows] : Array.CreateInstance(type.ClrType(), rows);
        }

        public void Read(NpgsqlDataReader reader, int ordinal, int row)
        {
            if (reader.IsDBNull(ordinal))
            {
                return;
            }

            _valid[row] = true;
            switch (_values)
            {
                case bool[] b:
                    b[row] = reader.GetBoolean(ordinal);
                    break;
                case int[] i:
                    i[row] = reader.GetInt32(ordinal);
                    break;
                case long[] l when _type == DataType.Timestamp:
                    l[row] = PgCopy.Micros(reader.GetDateTime(ordinal));
                    break;
                case long[] l:
                    l[row] = reader.GetInt64(ordinal);
                    break;
                case float[] f:
                    f[row] = reader.GetFloat(ordinal);
                    break;
                case double[] d:
                    d[row] = reader.GetDouble(ordinal);
                    break;
                case string?[] s:
                    s[row] = reader.GetString(ordinal);
                    break;
                default:
                    throw new StrataException(ErrorCodes.DataUnsupported, $"cannot read a {_type.Name()} column from PostgreSQL");
            }
        }

        public Column Build() => _values switch
        {
            bool[] b => Columns.Create<bool>(_type, b, _valid),
            int[] i => Columns.Create<int>(_type, i, _valid),
            long[] l => Columns.Create<long>(_type, l, _valid),
            float[] f => Columns.Create<float>(_type, f, _valid),
            double[] d => Columns.Create<double>(_type, d, _valid),
            string?[] s => StringColumn.From(s),
            _ => throw new InvalidOperationException(),
        };
    }
}
