using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Strata.Stores;

namespace Strata.Storage.Sql;

/// <summary>
/// The metadata store on a SQL database: one schema and one set of queries for SQLite and PostgreSQL (the
/// <see cref="SqlDialect"/> holds the differences). Every mutation runs in one transaction under the store-wide write
/// lock and appends its audit entry in that transaction, so the audit log and the data cannot disagree.
/// </summary>
internal sealed partial class SqlMetadataStore : IMetadataStore, IProjectStore, ITrackingStore, IModelRegistryStore, ILineageStore, IFeatureRegistryStore, IAuditLog, IApiKeyStore, IEndpointStore,
    IPipelineStore, IMonitorResultStore, IMonitorStateStore
{
    internal const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";
    private readonly SqlDialect _dialect;
    private readonly TimeProvider _clock;

    private SqlMetadataStore(SqlDialect dialect, TimeProvider clock)
    {
        _dialect = dialect;
        _clock = clock;
    }

    /// <summary>Opens a store and applies pending migrations.</summary>
    public static async Task<SqlMetadataStore> OpenAsync(SqlDialect dialect, TimeProvider? clock, CancellationToken cancellationToken)
    {
        var store = new SqlMetadataStore(dialect, clock ?? TimeProvider.System);
        await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        return store;
    }

    public string Backend => _dialect.Name;

    public IProjectStore Projects => this;

    public ITrackingStore Tracking => this;

    public IModelRegistryStore Registry => this;

    public ILineageStore Lineage => this;

    public IFeatureRegistryStore Features => this;

    public IAuditLog Audit => this;

    public IApiKeyStore Keys => this;

    public IEndpointStore Endpoints => this;

    public IPipelineStore Pipelines => this;

    public IMonitorResultStore Monitoring => this;

    public IMonitorStateStore MonitorState => this;

    public ValueTask DisposeAsync() => _dialect.DisposeAsync();

    public async Task<long> GetChangeSequenceAsync(CancellationToken cancellationToken = default) =>
        await ReadAsync(db => db.Scalar<long>("SELECT sequence FROM audit_head WHERE id = 1"), cancellationToken).ConfigureAwait(false);

    public async Task<IReadOnlySet<string>> GetReferencedDigestsAsync(long deletedBefore, CancellationToken cancellationToken = default) =>
        await ReadAsync(async db =>
        {
            var digests = await db.Query<string>(
                "SELECT artifact_digest FROM model_versions WHERE NOT (status = 'deleted' AND status_at < @deletedBefore) " +
                "UNION SELECT digest FROM run_artifacts UNION SELECT digest FROM lineage_artifacts WHERE digest IS NOT NULL",
                new { deletedBefore }).ConfigureAwait(false);
            return (IReadOnlySet<string>)digests.ToHashSet(StringComparer.Ordinal);
        }, cancellationToken).ConfigureAwait(false);

    private long Now() => Timestamp.FromDateTimeOffset(_clock.GetUtcNow());

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var connection = await _dialect.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await _dialect.PrepareAsync(connection, cancellationToken).ConfigureAwait(false);
            await connection.ExecuteAsync(new CommandDefinition("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", cancellationToken: cancellationToken)).ConfigureAwait(false);
            var migrations = Migrations.For(_dialect);

            // A store a newer Strata migrated may hold tables and rules this one would write past: refused before anything is applied.
            var unknown = (await connection.QueryAsync<int>(new CommandDefinition("SELECT version FROM schema_version", cancellationToken: cancellationToken)).ConfigureAwait(false))
                .Except(migrations.Select(m => m.Version)).Order().ToList();
            if (unknown.Count > 0)
            {
                throw new StrataException(
                    ErrorCodes.Conflict,
                    $"the metadata store has schema migrations this Strata does not know ({string.Join(", ", unknown)}): a newer Strata wrote it; open it with that version or a later one");
            }

            foreach (var (version, sql) in migrations)
            {
                var transaction = await _dialect.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
                await using (transaction.ConfigureAwait(false))
                {
                    // NOTE: applied per version, not "everything up to MAX(version)": strata on different branches add numbers in
                    // any order, so a store may hold 5 without 3 and must still get 3 when it arrives.
                    var applied = await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM schema_version WHERE version = @version", new { version }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
                    if (applied > 0)
                    {
                        continue;
                    }

                    foreach (var statement in sql.Split(";\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        var text = statement.TrimEnd(';');
                        if (text.Length > 0)
                        {
                            await connection.ExecuteAsync(new CommandDefinition(text, transaction: transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
                        }
                    }

                    await connection.ExecuteAsync(new CommandDefinition("INSERT INTO schema_version (version) VALUES (@version)", new { version }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Runs a read on its own connection.</summary>
    private async Task<T> ReadAsync<T>(Func<Db, Task<T>> read, CancellationToken cancellationToken)
    {
        var connection = await _dialect.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await read(new Db(_dialect, connection, null, cancellationToken)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs a mutation in a write transaction and appends its audit entry (whose sequence is also the store's change
    /// sequence) before committing.
    /// </summary>
    private async Task<T> WriteAsync<T>(Actor actor, string action, string project, string target, Func<Db, Task<(T Result, string? Details)>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        Names.Check("principal", actor.Principal, NameKind.Key);
        var connection = await _dialect.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await _dialect.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var db = new Db(_dialect, connection, transaction, cancellationToken);
                var (result, details) = await work(db).ConfigureAwait(false);
                await AppendAuditAsync(db, actor, action, project, target, details).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
        }
    }

    /// <inheritdoc />
    public Task RecordAsync(string project, string action, string target, string? details, Actor actor, CancellationToken cancellationToken = default)
    {
        Names.Check("project", project);
        Names.Check("action", action, NameKind.Key);
        return WriteAsync(actor, action, project, target, _ => Task.FromResult((true, details)), cancellationToken);
    }

    private async Task AppendAuditAsync(Db db, Actor actor, string action, string project, string target, string? details)
    {
        var head = await db.Single<HeadRow>("SELECT sequence AS Sequence, hash AS Hash FROM audit_head WHERE id = 1").ConfigureAwait(false);
        var entry = new AuditEntry(head.Sequence + 1, Now(), actor.Principal, action, project, target, actor.RequestId, details, head.Hash, "");
        entry = entry with { Hash = HashOf(entry) };
        await db.Execute(
            "INSERT INTO audit_log (sequence, time, principal, action, project, target, request_id, details, previous_hash, hash) " +
            "VALUES (@Sequence, @Time, @Principal, @Action, @Project, @Target, @RequestId, @Details, @PreviousHash, @Hash)",
            entry).ConfigureAwait(false);
        await db.Execute("UPDATE audit_head SET sequence = @Sequence, hash = @Hash WHERE id = 1", new { entry.Sequence, entry.Hash }).ConfigureAwait(false);
    }

    /// <summary>SHA-256 over every field of an entry, length-prefixed so no two entries hash the same text.</summary>
    internal static string HashOf(AuditEntry e)
    {
        var sb = new StringBuilder();
        foreach (var field in new[]
                 {
                     e.Sequence.ToString(CultureInfo.InvariantCulture), e.Time.ToString(CultureInfo.InvariantCulture), e.Principal, e.Action,
                     e.Project, e.Target, e.RequestId ?? "\0", e.Details ?? "\0", e.PreviousHash,
                 })
        {
            sb.Append(field.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(field).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private static StrataException NotFound(string what) => new(ErrorCodes.NotFound, what);

    private static StrataException Conflict(string what) => new(ErrorCodes.Conflict, what);

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, typeof(T), StoreJson.Default);

    private static T FromJson<T>(string? json, T fallback) =>
        string.IsNullOrEmpty(json) ? fallback : (T?)JsonSerializer.Deserialize(json, typeof(T), StoreJson.Default) ?? fallback;

    private static string CheckText(string field, string? value, int max)
    {
        if (value is not null && value.Length > max)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field '{field}' is {value.Length} characters long; the limit is {max}");
        }

        return value ?? "";
    }

    private static void CheckMap(string field, IReadOnlyDictionary<string, string>? map, int maxValue = 8000)
    {
        if (map is null)
        {
            return;
        }

        if (map.Count > 1000)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field '{field}' has {map.Count} entries; the limit is 1000");
        }

        foreach (var (key, value) in map)
        {
            Names.Check($"{field}.key", key, NameKind.Key);
            CheckText($"{field}['{key}']", value, maxValue);
        }
    }

    private sealed record HeadRow
    {
        public long Sequence { get; init; }

        public string Hash { get; init; } = "";
    }

    /// <summary>A connection and (for writes) its transaction, with Dapper shortcuts that pass both and the token.</summary>
    private sealed class Db(SqlDialect dialect, DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        /// <summary>A membership test against an array parameter, in the backend's syntax.</summary>
        public string In(string column, string parameter) => dialect.InList(column, parameter);

        public Task<int> Execute(string sql, object? parameters = null) =>
            connection.ExecuteAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));

        public Task<T?> Scalar<T>(string sql, object? parameters = null) =>
            connection.ExecuteScalarAsync<T>(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));

        public async Task<List<T>> Query<T>(string sql, object? parameters = null) =>
            (await connection.QueryAsync<T>(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();

        public Task<T?> First<T>(string sql, object? parameters = null) =>
            connection.QueryFirstOrDefaultAsync<T>(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));

        public Task<T> Single<T>(string sql, object? parameters = null) =>
            connection.QuerySingleAsync<T>(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));

        /// <summary>Inserts many rows in the write transaction the backend's fastest way (see <see cref="SqlDialect.InsertRowsAsync"/>).</summary>
        public Task InsertRowsAsync(string table, string[] columns, List<object?[]> rows, string? suffix = null) =>
            dialect.InsertRowsAsync(connection, transaction ?? throw new InvalidOperationException("rows are inserted in a write transaction"), table, columns, rows, suffix, cancellationToken);

        /// <summary>The next value of a named counter (inside a write transaction, so it is serialized).</summary>
        public async Task<long> NextAsync(string counter)
        {
            var value = await Scalar<long?>("SELECT value FROM counters WHERE name = @counter", new { counter }).ConfigureAwait(false) ?? 0;
            value++;
            await Execute(
                "INSERT INTO counters (name, value) VALUES (@counter, @value) ON CONFLICT (name) DO UPDATE SET value = @value",
                new { counter, value }).ConfigureAwait(false);
            return value;
        }
    }
}

/// <summary>JSON of the small structured values the store keeps in text columns.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(RunSource))]
internal sealed partial class StoreJson : JsonSerializerContext;
