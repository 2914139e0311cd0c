using Strata.Stores;

namespace Strata.Storage.Sql;

// Projects, audit reading and verification, API keys.
internal sealed partial class SqlMetadataStore
{
    async Task<Project> IProjectStore.CreateAsync(string name, string? description, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("project", name);
        CheckText("description", description, 65536);
        return await WriteAsync(actor, "project.create", name, name, async db =>
        {
            if (await db.Scalar<long>("SELECT COUNT(*) FROM projects WHERE name = @name", new { name }).ConfigureAwait(false) > 0)
            {
                throw Conflict($"project '{name}' already exists");
            }

            var project = new Project(name, description, Now());
            await db.Execute("INSERT INTO projects (name, description, created_at) VALUES (@Name, @Description, @CreatedAt)", project).ConfigureAwait(false);
            return (project, (string?)null);
        }, cancellationToken).ConfigureAwait(false);
    }

    Task<Project?> IProjectStore.GetAsync(string name, CancellationToken cancellationToken) =>
        ReadAsync(db => db.First<Project?>("SELECT name AS Name, description AS Description, created_at AS CreatedAt FROM projects WHERE name = @name", new { name }), cancellationToken);

    async Task<IReadOnlyList<Project>> IProjectStore.ListAsync(CancellationToken cancellationToken) =>
        await ReadAsync(db => db.Query<Project>("SELECT name AS Name, description AS Description, created_at AS CreatedAt FROM projects ORDER BY name"), cancellationToken).ConfigureAwait(false);

    /// <summary>Throws not found unless the project exists (reads and writes both check, so errors name what is missing).</summary>
    private static async Task RequireProjectAsync(Db db, string project)
    {
        Names.Check("project", project);
        if (await db.Scalar<long>("SELECT COUNT(*) FROM projects WHERE name = @project", new { project }).ConfigureAwait(false) == 0)
        {
            throw NotFound($"no project '{project}'");
        }
    }

    async Task<IReadOnlyList<AuditEntry>> IAuditLog.ReadAsync(long fromSequence, int count, CancellationToken cancellationToken)
    {
        var rows = await ReadAsync(
            db => db.Query<AuditRow>(AuditSelect + " WHERE sequence >= @fromSequence ORDER BY sequence LIMIT @count", new { fromSequence, count = Math.Clamp(count, 1, 100_000) }),
            cancellationToken).ConfigureAwait(false);
        return rows.Select(r => r.ToEntry()).ToList();
    }

    async Task<AuditVerification> IAuditLog.VerifyAsync(CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            var head = await db.Single<HeadRow>("SELECT sequence AS Sequence, hash AS Hash FROM audit_head WHERE id = 1").ConfigureAwait(false);
            var previous = Genesis;
            long expected = 1;
            long checkedEntries = 0;
            while (true)
            {
                var page = await db.Query<AuditRow>(AuditSelect + " WHERE sequence >= @expected ORDER BY sequence LIMIT 5000", new { expected }).ConfigureAwait(false);
                if (page.Count == 0)
                {
                    break;
                }

                foreach (var row in page)
                {
                    var entry = row.ToEntry();
                    if (entry.Sequence != expected)
                    {
                        return new AuditVerification(false, checkedEntries, expected, $"entry {expected} is missing (the next is {entry.Sequence})");
                    }

                    if (entry.PreviousHash != previous)
                    {
                        return new AuditVerification(false, checkedEntries, entry.Sequence, $"entry {entry.Sequence} does not chain to entry {entry.Sequence - 1} (an entry was inserted, removed or edited)");
                    }

                    if (HashOf(entry) != entry.Hash)
                    {
                        return new AuditVerification(false, checkedEntries, entry.Sequence, $"entry {entry.Sequence} was edited (its hash does not match its content)");
                    }

                    previous = entry.Hash;
                    expected++;
                    checkedEntries++;
                }
            }

            if (head.Sequence != checkedEntries || head.Hash != previous)
            {
                return new AuditVerification(false, checkedEntries, checkedEntries + 1, $"the log ends at entry {checkedEntries} but the head records entry {head.Sequence} (entries were removed from the end)");
            }

            return new AuditVerification(true, checkedEntries, null, null);
        }, cancellationToken).ConfigureAwait(false);

    private const string AuditSelect =
        "SELECT sequence AS Sequence, time AS Time, principal AS Principal, action AS Action, project AS Project, target AS Target, " +
        "request_id AS RequestId, details AS Details, previous_hash AS PreviousHash, hash AS Hash FROM audit_log";

    private sealed class AuditRow
    {
        public long Sequence { get; init; }

        public long Time { get; init; }

        public string Principal { get; init; } = "";

        public string Action { get; init; } = "";

        public string Project { get; init; } = "";

        public string Target { get; init; } = "";

        public string? RequestId { get; init; }

        public string? Details { get; init; }

        public string PreviousHash { get; init; } = "";

        public string Hash { get; init; } = "";

        public AuditEntry ToEntry() => new(Sequence, Time, Principal, Action, Project, Target, RequestId, Details, PreviousHash, Hash);
    }

    async Task<ApiKey> IApiKeyStore.CreateAsync(ApiKey key, Actor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        Names.Check("key.id", key.Id);
        Names.Check("key.principal", key.Principal, NameKind.Key);
        if (key.Project != "*")
        {
            Names.Check("key.project", key.Project);
        }

        CheckText("key.description", key.Description, 1000);
        return await WriteAsync(actor, "key.create", key.Project, key.Id, async db =>
        {
            if (key.Project != "*")
            {
                await RequireProjectAsync(db, key.Project).ConfigureAwait(false);
            }

            var stored = key with { CreatedAt = Now(), CreatedBy = actor.Principal, Revoked = false };
            await db.Execute(
                "INSERT INTO api_keys (id, principal, project, role, secret_hash, created_at, created_by, revoked, description) " +
                "VALUES (@Id, @Principal, @Project, @RoleName, @SecretHash, @CreatedAt, @CreatedBy, 0, @Description)",
                new { stored.Id, stored.Principal, stored.Project, RoleName = stored.Role.ToString().ToLowerInvariant(), stored.SecretHash, stored.CreatedAt, stored.CreatedBy, stored.Description })
                .ConfigureAwait(false);
            return (stored, $"principal={stored.Principal} role={stored.Role.ToString().ToLowerInvariant()}");
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task<ApiKey?> IApiKeyStore.GetAsync(string id, CancellationToken cancellationToken) =>
        (await ReadAsync(db => db.First<KeyRow?>(KeySelect + " WHERE id = @id", new { id }), cancellationToken).ConfigureAwait(false))?.ToKey();

    async Task<IReadOnlyList<ApiKey>> IApiKeyStore.ListAsync(string? project, CancellationToken cancellationToken) =>
        (await ReadAsync(db => db.Query<KeyRow>(KeySelect + (project is null ? "" : " WHERE project = @project") + " ORDER BY created_at, id", new { project }), cancellationToken).ConfigureAwait(false))
        .Select(k => k.ToKey()).ToList();

    async Task IApiKeyStore.RevokeAsync(string id, Actor actor, CancellationToken cancellationToken) =>
        await WriteAsync(actor, "key.revoke", "*", id, async db =>
        {
            if (await db.Execute("UPDATE api_keys SET revoked = 1 WHERE id = @id", new { id }).ConfigureAwait(false) == 0)
            {
                throw NotFound($"no API key '{id}'");
            }

            return (true, (string?)null);
        }, cancellationToken).ConfigureAwait(false);

    async Task<bool> IApiKeyStore.AnyAsync(CancellationToken cancellationToken) =>
        await ReadAsync(db => db.Scalar<long>("SELECT COUNT(*) FROM api_keys WHERE revoked = 0"), cancellationToken).ConfigureAwait(false) > 0;

    private const string KeySelect =
        "SELECT id AS Id, principal AS Principal, project AS Project, role AS RoleName, secret_hash AS SecretHash, created_at AS CreatedAt, " +
        "created_by AS CreatedBy, revoked AS Revoked, description AS Description FROM api_keys";

    private sealed class KeyRow
    {
        public string Id { get; init; } = "";

        public string Principal { get; init; } = "";

        public string Project { get; init; } = "";

        public string RoleName { get; init; } = "";

        public string SecretHash { get; init; } = "";

        public long CreatedAt { get; init; }

        public string CreatedBy { get; init; } = "";

        public long Revoked { get; init; }

        public string? Description { get; init; }

        public ApiKey ToKey() => new(Id, Principal, Project, Enum.Parse<Role>(RoleName, ignoreCase: true), SecretHash, CreatedAt, CreatedBy, Revoked != 0, Description);
    }
}
