using System.Data.Common;
using Microsoft.Data.Sqlite;
using Strata.Storage.Sql;
using Strata.Stores;

namespace Strata.Storage;

/// <summary>
/// The embedded metadata store: one SQLite file (<c>strata.db</c> in the home folder) in WAL mode with
/// <c>synchronous=FULL</c>, so a committed write survives a crash or power loss.
/// </summary>
public static class SqliteMetadataStore
{
    /// <summary>Opens (creating if needed) the store in a file and applies pending migrations.</summary>
    public static async Task<IMetadataStore> OpenAsync(string path, TimeProvider? clock = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        return await SqlMetadataStore.OpenAsync(new SqliteDialect(connectionString), clock, cancellationToken).ConfigureAwait(false);
    }

    private sealed class SqliteDialect(string connectionString) : SqlDialect
    {
        public override string Name => "sqlite";

        public override string DoubleType => "REAL";

        public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
        {
            var connection = new SqliteConnection(connectionString);
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

                // Per connection: durability (FULL fsyncs the WAL on commit), integrity, and a wait instead of "database is locked".
                await using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;";
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return connection;
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
            // BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking on upgrade.
            await ((SqliteConnection)connection).BeginTransactionAsync(System.Data.IsolationLevel.Serializable, cancellationToken).ConfigureAwait(false);

        public override string InList(string column, string parameter) => $"{column} IN @{parameter}";
    }
}
