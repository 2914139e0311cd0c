using System.Runtime.CompilerServices;
using Npgsql;
using Strata.Features.Definitions;

namespace Strata.Postgres;

/// <summary>
/// Reads a PostgreSQL feature source (a table or a query) in batches, with the columns and types its definition
/// declares, inside a read-only transaction — a source query can read but never change the database.
/// </summary>
public static class PostgresSourceReader
{
    /// <summary>Streams the source's rows in batches of at most <paramref name="batchRows"/> rows.</summary>
    /// <exception cref="StrataException">Not a PostgreSQL source, no declared schema, or a bad table name.</exception>
    public static async IAsyncEnumerable<Table> ReadAsync(
        string connectionString,
        SourceDefinition source,
        int batchRows = 65_536,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var schema = source.Schema
            ?? throw new StrataException(ErrorCodes.SchemaInvalid, $"source '{source.Name}' declares no schema; PostgreSQL sources need one (the columns and types to read)");
        var from = source.Kind switch
        {
            SourceKind.PostgresTable => TableName(source),
            SourceKind.PostgresQuery => $"({source.Query}) AS source",
            _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"source '{source.Name}' is a {source.Kind} source, not a PostgreSQL one"),
        };

        // Each declared column is cast to its declared type, so integer, numeric or timestamptz columns all read the same way.
        var columns = string.Join(", ", schema.Select(f => $"{PgCopy.Quote(f.Name)}::{PgCopy.SqlType(f.Type)}"));
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var readOnly = new NpgsqlCommand("SET TRANSACTION READ ONLY", connection, transaction))
        {
            await readOnly.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var command = new NpgsqlCommand($"SELECT {columns} FROM {from}", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new PgRowBuffer(schema, batchRows);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            buffer.Add(reader, 0);
            if (buffer.Count == batchRows)
            {
                yield return buffer.Build();
                buffer = new PgRowBuffer(schema, batchRows);
            }
        }

        if (buffer.Count > 0)
        {
            yield return buffer.Build();
        }
    }

    /// <summary>
    /// The rows of a query with declared columns, as one table (a pipeline's ingest step): read in a read-only
    /// transaction, each column cast to its declared type.
    /// </summary>
    public static async Task<Table> ReadQueryAsync(string connectionString, string query, Schema schema, CancellationToken cancellationToken = default)
    {
        var source = new SourceDefinition("pipeline-query", SourceKind.PostgresQuery, "") { Query = query, Schema = schema };
        var batches = new List<Table>();
        await foreach (var batch in ReadAsync(connectionString, source, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            batches.Add(batch);
        }

        return batches.Count == 0 ? Table.Empty(schema) : Table.Concat(batches);
    }

    private static string TableName(SourceDefinition source)
    {
        var parts = (source.Table ?? "").Split('.');
        if (parts.Length is < 1 or > 2 || parts.Any(p => p.Length == 0 || p.Length > 63 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"source '{source.Name}': table '{source.Table}' is not a table name (name or schema.name of letters, digits and '_')");
        }

        return string.Join('.', parts.Select(PgCopy.Quote));
    }
}
