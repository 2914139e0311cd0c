using System.Data.Common;

namespace Strata.Storage.Sql;

/// <summary>
/// What differs between the SQL backends: connections, column type names, and how a write transaction takes the
/// store-wide write lock. Everything else (schema, queries, audit chain) is shared, so both backends behave the same.
/// </summary>
internal abstract class SqlDialect
{
    /// <summary>"sqlite" or "postgres".</summary>
    public abstract string Name { get; }

    /// <summary>The floating-point column type.</summary>
    public abstract string DoubleType { get; }

    /// <summary>Opens a connection (pooled by the provider).</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Begins a write transaction holding the store-wide write lock, so audit entries and version numbers are assigned
    /// one at a time (SQLite: BEGIN IMMEDIATE; PostgreSQL: a row lock on the audit head).
    /// </summary>
    public abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Runs before migrations (a migration lock on PostgreSQL, pragmas on SQLite).</summary>
    public virtual Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>"column is one of the array parameter" (SQLite expands lists into IN (…); PostgreSQL takes one array).</summary>
    public abstract string InList(string column, string parameter);

    /// <summary>
    /// Inserts many rows inside an open write transaction, with an optional clause after the values (ON CONFLICT …).
    /// The default prepares one single-row statement and runs it per row: in-process SQLite has no round trips to save,
    /// while a statement with thousands of named parameters binds in quadratic time. PostgreSQL overrides it with one
    /// statement over array parameters.
    /// </summary>
    public virtual async Task InsertRowsAsync(
        DbConnection connection, DbTransaction transaction, string table, IReadOnlyList<string> columns, IReadOnlyList<object?[]> rows, string? suffix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.Transaction = transaction;
            command.CommandText = $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select((_, i) => $"@p{i}"))}) {suffix}";
            var parameters = new DbParameter[columns.Count];
            for (var c = 0; c < parameters.Length; c++)
            {
                parameters[c] = command.CreateParameter();
                parameters[c].ParameterName = $"@p{c}";
                command.Parameters.Add(parameters[c]);
            }

            foreach (var row in rows)
            {
                for (var c = 0; c < parameters.Length; c++)
                {
                    parameters[c].Value = row[c] ?? DBNull.Value;
                }

                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Releases the backend's connection pool.</summary>
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
