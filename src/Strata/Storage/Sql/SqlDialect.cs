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

    /// <summary>True when an exception means "the row already exists" (a unique constraint).</summary>
    public abstract bool IsUniqueViolation(DbException exception);

    /// <summary>"column is one of the array parameter" (SQLite expands lists into IN (…); PostgreSQL takes one array).</summary>
    public abstract string InList(string column, string parameter);

    /// <summary>Releases the backend's connection pool.</summary>
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
