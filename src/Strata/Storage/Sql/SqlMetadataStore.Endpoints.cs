using System.Text.Json;
using Strata.Stores;

namespace Strata.Storage.Sql;

// Serving endpoints (their deployments as JSON) and the endpoints an API key is limited to.
internal sealed partial class SqlMetadataStore
{
    // The fields of a stored deployment that name a model (the engine's canonical JSON), and the role each gives it.
    private static readonly (string Field, string Role)[] DeploymentRoles = [("model", "champion"), ("challenger", "challenger"), ("shadow", "shadow")];

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

            await RequireServableAsync(db, name, project, definition).ConfigureAwait(false);
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
            // A key limited to the endpoint would keep its name silently (and reach an endpoint made again under it);
            // taking the name out of its list could leave the list empty, which lifts the limit altogether.
            var keys = await db.Query<string>(
                "SELECT e.key_id FROM api_key_endpoints e JOIN api_keys k ON k.id = e.key_id WHERE e.endpoint = @name AND k.revoked = 0 ORDER BY e.key_id",
                new { name }).ConfigureAwait(false);
            if (keys.Count > 0)
            {
                throw Conflict($"endpoint '{name}' is in the endpoint limit of API key {string.Join(", ", keys.Select(k => $"'{k}'"))}; change {(keys.Count == 1 ? "that limit" : "those limits")} first");
            }

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

            // A misspelt name would lock the key out of every endpoint without a word.
            var existing = (await db.Query<string>("SELECT name FROM serving_endpoints").ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            var unknown = list.Where(e => !existing.Contains(e)).ToList();
            if (unknown.Count > 0)
            {
                throw NotFound($"field 'endpoints' names {string.Join(", ", unknown.Select(u => $"'{u}'"))}: no such endpoint (a key can be limited only to endpoints that exist)");
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

    /// <summary>
    /// The model references a stored deployment names (<c>model</c>, <c>challenger</c>, <c>shadow</c>), with their roles.
    /// A definition that is not the engine's JSON names nothing.
    /// </summary>
    internal static List<(string Role, ModelReference Reference)> ReferencesOf(string definition)
    {
        var found = new List<(string Role, ModelReference Reference)>();
        try
        {
            using var document = JsonDocument.Parse(definition);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return found;
            }

            foreach (var (field, role) in DeploymentRoles)
            {
                if (document.RootElement.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String)
                {
                    found.Add((role, ModelReference.Parse(value.GetString()!)));
                }
            }
        }
        catch (Exception e) when (e is JsonException or StrataException)
        {
            // Not a deployment the engine wrote: the registry has nothing of it to protect.
        }

        return found;
    }

    /// <summary>
    /// The first endpoint of a project whose stored deployment names a reference to <paramref name="model"/> that
    /// <paramref name="names"/> accepts, and the role it has there; null when none does. The registry asks before it
    /// deletes a version or an alias: a deployment naming one that is gone would serve nothing after a restart.
    /// </summary>
    private static async Task<(string Endpoint, string Role, ModelReference Reference)?> EndpointNamingAsync(Db db, string project, string model, Func<ModelReference, bool> names)
    {
        foreach (var row in await db.Query<EndpointRow>(EndpointSelect + " WHERE project = @project ORDER BY name", new { project }).ConfigureAwait(false))
        {
            foreach (var (role, reference) in ReferencesOf(row.Definition))
            {
                if (reference.Model == model && names(reference))
                {
                    return (row.Name, role, reference);
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Refuses a deployment that names a version that does not exist or is deleted, or an alias that does not exist, in
    /// the same transaction that stores it: the registry checks the other way round (it keeps what a deployment names),
    /// so between them a stored deployment always names something that can be loaded.
    /// </summary>
    private static async Task RequireServableAsync(Db db, string endpoint, string project, string definition)
    {
        foreach (var (role, reference) in ReferencesOf(definition))
        {
            if (reference.Version is { } version)
            {
                var row = await db.First<VersionRow?>(VersionSelect + " WHERE project = @project AND model = @model AND version = @version", new { project, model = reference.Model, version }).ConfigureAwait(false)
                    ?? throw NotFound($"endpoint '{endpoint}': its {role} names version {version} of model '{reference.Model}', which project '{project}' does not have");
                if (row.ToVersion().Status == VersionStatus.Deleted)
                {
                    throw Conflict($"endpoint '{endpoint}': its {role} names version {version} of '{reference.Model}', which is deleted");
                }
            }
            else if (reference.Alias is { } alias
                && await db.Scalar<string?>("SELECT alias FROM model_aliases WHERE project = @project AND model = @model AND alias = @alias", new { project, model = reference.Model, alias }).ConfigureAwait(false) is null)
            {
                throw NotFound($"endpoint '{endpoint}': its {role} names alias '{alias}' of model '{reference.Model}', which project '{project}' does not have");
            }
        }
    }

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
