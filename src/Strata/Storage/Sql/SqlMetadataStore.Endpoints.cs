using Strata.Stores;

namespace Strata.Storage.Sql;

// Serving endpoints (their deployments as JSON) and the endpoints an API key is limited to.
internal sealed partial class SqlMetadataStore
{
    /// <summary>Largest stored deployment definition, in characters.</summary>
    private const int MaxEndpointDefinition = 64 << 10;

    /// <summary>Most endpoints one key may be limited to.</summary>
    private const int MaxKeyEndpoints = 1000;

    async Task<EndpointRecord> IEndpointStore.PutAsync(string name, string project, string definition, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("endpoint", name);
        Names.Check("project", project);
        CheckText("definition", definition, MaxEndpointDefinition);
        return await WriteIfChangedAsync(actor, "endpoints.put", project, name, async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            var current = await db.First<EndpointRow?>(EndpointSelect + " WHERE name = @name", new { name }).ConfigureAwait(false);
            if (current is not null && current.Project == project && current.Definition == definition)
            {
                return (current.ToRecord(), null, false);
            }

            var record = new EndpointRecord(name, project, definition, Now(), actor.Principal);
            await db.Execute(
                "INSERT INTO serving_endpoints (name, project, definition, updated_at, updated_by) VALUES (@Name, @Project, @Definition, @UpdatedAt, @UpdatedBy) " +
                "ON CONFLICT (name) DO UPDATE SET project = excluded.project, definition = excluded.definition, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                record).ConfigureAwait(false);
            return (record, definition, true);
        }, cancellationToken).ConfigureAwait(false);
    }

    Task<EndpointRecord?> IEndpointStore.GetAsync(string name, CancellationToken cancellationToken) =>
        ReadAsync(async db => (await db.First<EndpointRow?>(EndpointSelect + " WHERE name = @name", new { name }).ConfigureAwait(false))?.ToRecord(), cancellationToken);

    Task<IReadOnlyList<EndpointRecord>> IEndpointStore.ListAsync(CancellationToken cancellationToken) =>
        ReadAsync(async db => (IReadOnlyList<EndpointRecord>)(await db.Query<EndpointRow>(EndpointSelect + " ORDER BY name").ConfigureAwait(false)).Select(r => r.ToRecord()).ToList(), cancellationToken);

    async Task<bool> IEndpointStore.DeleteAsync(string name, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("endpoint", name);
        var project = await ReadAsync(db => db.Scalar<string?>("SELECT project FROM serving_endpoints WHERE name = @name", new { name }), cancellationToken).ConfigureAwait(false);
        if (project is null)
        {
            return false;
        }

        return await WriteIfChangedAsync<bool>(actor, "endpoints.delete", project, name, async db =>
        {
            var removed = await db.Execute("DELETE FROM serving_endpoints WHERE name = @name", new { name }).ConfigureAwait(false);
            return (removed > 0, null, removed > 0);
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task IEndpointStore.SetKeyEndpointsAsync(string keyId, IReadOnlyList<string>? endpoints, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("key", keyId);
        var list = (endpoints ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (list.Count > MaxKeyEndpoints)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'endpoints' has {list.Count} entries; the limit is {MaxKeyEndpoints}");
        }

        foreach (var endpoint in list)
        {
            Names.Check("endpoints", endpoint);
        }

        await WriteAsync(actor, "keys.endpoints", "*", keyId, async db =>
        {
            if (await db.Scalar<string?>("SELECT id FROM api_keys WHERE id = @keyId", new { keyId }).ConfigureAwait(false) is null)
            {
                throw NotFound($"no API key '{keyId}'");
            }

            await db.Execute("DELETE FROM api_key_endpoints WHERE key_id = @keyId", new { keyId }).ConfigureAwait(false);
            foreach (var endpoint in list)
            {
                await db.Execute("INSERT INTO api_key_endpoints (key_id, endpoint) VALUES (@keyId, @endpoint)", new { keyId, endpoint }).ConfigureAwait(false);
            }

            return (true, list.Count == 0 ? "endpoints=*" : "endpoints=" + string.Join(',', list));
        }, cancellationToken).ConfigureAwait(false);
    }

    Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> IEndpointStore.GetKeyEndpointsAsync(CancellationToken cancellationToken) =>
        ReadAsync(async db =>
        {
            var rows = await db.Query<KeyEndpointRow>("SELECT key_id AS KeyId, endpoint AS Endpoint FROM api_key_endpoints ORDER BY key_id, endpoint").ConfigureAwait(false);
            return (IReadOnlyDictionary<string, IReadOnlyList<string>>)rows.GroupBy(r => r.KeyId, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(r => r.Endpoint).ToList(), StringComparer.Ordinal);
        }, cancellationToken);

    private const string EndpointSelect =
        "SELECT name AS Name, project AS Project, definition AS Definition, updated_at AS UpdatedAt, updated_by AS UpdatedBy FROM serving_endpoints";

    private sealed class EndpointRow
    {
        public string Name { get; init; } = "";

        public string Project { get; init; } = "";

        public string Definition { get; init; } = "";

        public long UpdatedAt { get; init; }

        public string UpdatedBy { get; init; } = "";

        public EndpointRecord ToRecord() => new(Name, Project, Definition, UpdatedAt, UpdatedBy);
    }

    private sealed class KeyEndpointRow
    {
        public string KeyId { get; init; } = "";

        public string Endpoint { get; init; } = "";
    }
}
