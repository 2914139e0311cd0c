using System.Data.Common;
using Npgsql;
using Strata.Storage.Sql;
using Strata.Stores;

namespace Strata.Postgres;

/// <summary>
/// The metadata store on PostgreSQL, shared by several server replicas. Writers serialize on a transaction-scoped
/// advisory lock, which keeps the audit chain and version numbers gap-free without table locks.
/// </summary>
public static class PostgresMetadataStore
{
    /// <summary>Opens the store on a database (created tables, applied migrations).</summary>
    public static async Task<IMetadataStore> OpenAsync(string connectionString, TimeProvider? clock = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var dataSource = NpgsqlDataSource.Create(connectionString);
        try
        {
            return await SqlMetadataStore.OpenAsync(new PostgresDialect(dataSource), clock, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private sealed class PostgresDialect(NpgsqlDataSource dataSource) : SqlDialect
    {
        // Any constant works; it names the lock all Strata writers on this database share.
        private const long WriteLock = 0x5354524154410001;

        public override string Name => "postgres";

        public override string DoubleType => "DOUBLE PRECISION";

        public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
            await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
        {
            var transaction = await ((NpgsqlConnection)connection).BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
            try
            {
                await using var command = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({WriteLock})", (NpgsqlConnection)connection, transaction);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return transaction;
            }
            catch
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        public override string InList(string column, string parameter) => $"{column} = ANY(@{parameter})";

        // One statement whatever the row count: each column travels as one typed array and unnest turns them back into rows.
        public override async Task InsertRowsAsync(
            DbConnection connection, DbTransaction transaction, string table, IReadOnlyList<string> columns, IReadOnlyList<object?[]> rows, string? suffix, CancellationToken cancellationToken)
        {
            if (rows.Count == 0)
            {
                return;
            }

            // A column null in every row has no element type to send (a text array would not cast to a numeric column),
            // so it is inserted as a plain NULL instead of travelling as an array.
            var allNull = columns.Select((_, c) => rows.All(r => r[c] is null)).ToArray();
            var sent = Enumerable.Range(0, columns.Count).Where(c => !allNull[c]).ToArray();
            var values = string.Join(", ", columns.Select((_, c) => allNull[c] ? "NULL" : $"u.c{c}"));
            var sql = $"INSERT INTO {table} ({string.Join(", ", columns)}) SELECT {values} FROM unnest({string.Join(", ", sent.Select(c => $"@c{c}"))}) "
                + $"AS u({string.Join(", ", sent.Select(c => $"c{c}"))}) {suffix}";
            await using var command = new NpgsqlCommand(sql, (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
            foreach (var c in sent)
            {
                command.Parameters.Add(new NpgsqlParameter($"c{c}", ColumnArray(rows, c, columns[c])));
            }

            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        private static Array ColumnArray(IReadOnlyList<object?[]> rows, int column, string name)
        {
            Array Make<T>(Func<object, T> cast) => rows.Select(r => r[column] is { } v ? cast(v) : default).ToArray();
            return rows.Select(r => r[column]).FirstOrDefault(v => v is not null) switch
            {
                null or string => Make(v => (string)v),
                long => Make<long?>(v => (long)v),
                int => Make<int?>(v => (int)v),
                double => Make<double?>(v => (double)v),
                bool => Make<bool?>(v => (bool)v),
                var other => throw new InvalidOperationException($"column '{name}': no array mapping for {other.GetType().Name}"),
            };
        }

        public override ValueTask DisposeAsync() => dataSource.DisposeAsync();
    }
}
