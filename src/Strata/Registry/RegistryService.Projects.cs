using Strata.Artifacts;
using Strata.Security;
using Strata.Stores;

namespace Strata.Registry;

// Projects, audit, API keys and garbage collection: the server-wide and admin parts.
public sealed partial class RegistryService
{
    /// <summary>Creates a project (an admin of every project only).</summary>
    public Task<Project> CreateProjectAsync(Caller caller, string name, string? description, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        AccessPolicy.RequireGlobal(caller.Principal, Role.Admin);
        Names.Check("name", name);
        return _metadata.Projects.CreateAsync(name, description, caller.Actor, cancellationToken);
    }

    /// <summary>The projects the caller can see.</summary>
    public async Task<IReadOnlyList<Project>> ListProjectsAsync(Caller caller, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var all = await _metadata.Projects.ListAsync(cancellationToken).ConfigureAwait(false);
        return all.Where(p => caller.Principal.CanSee(p.Name)).ToList();
    }

    /// <summary>A project.</summary>
    public async Task<Project> GetProjectAsync(Caller caller, string project, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        return await _metadata.Projects.GetAsync(project, cancellationToken).ConfigureAwait(false) ?? throw NotFound($"no project '{project}'");
    }

    /// <summary>
    /// Audit entries from a sequence number on: of one project (its admins), or of everything (<paramref name="project"/>
    /// null: admins of every project).
    /// </summary>
    public async Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(Caller caller, string? project, long fromSequence, int count, CancellationToken cancellationToken = default)
    {
        RequireAudit(caller, project);
        count = Math.Clamp(count, 1, 10_000);
        if (project is null)
        {
            return await _metadata.Audit.ReadAsync(Math.Max(1, fromSequence), count, cancellationToken).ConfigureAwait(false);
        }

        // The log is one chain for all projects: page through it, keeping this project's entries.
        var result = new List<AuditEntry>();
        var next = Math.Max(1, fromSequence);
        while (result.Count < count)
        {
            var page = await _metadata.Audit.ReadAsync(next, 5000, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                break;
            }

            result.AddRange(page.Where(e => e.Project == project).Take(count - result.Count));
            next = page[^1].Sequence + 1;
        }

        return result;
    }

    /// <summary>Checks the whole audit chain (a project's admins may check it; the answer reveals only counts).</summary>
    public Task<AuditVerification> VerifyAuditAsync(Caller caller, string? project, CancellationToken cancellationToken = default)
    {
        RequireAudit(caller, project);
        return _metadata.Audit.VerifyAsync(cancellationToken);
    }

    /// <summary>
    /// Makes an API key for a project ("*": every project, made by an admin of every project), with a role no higher
    /// than the caller's. The token is returned once; only its hash is stored.
    /// </summary>
    public async Task<IssuedKey> CreateKeyAsync(Caller caller, string project, string principal, Role role, string? description, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        RequireKeys(caller, project);
        Names.Check("principal", principal, NameKind.Key);
        if (role > caller.Principal.Role)
        {
            throw new StrataException(ErrorCodes.Forbidden, $"a {AccessPolicy.Name(caller.Principal.Role)} cannot make a key with the {AccessPolicy.Name(role)} role");
        }

        var (key, token) = ApiKeys.Generate(principal, project, role, description, caller.Principal.Name, Now());
        var stored = await _metadata.Keys.CreateAsync(key, caller.Actor, cancellationToken).ConfigureAwait(false);
        return new IssuedKey(stored, token);
    }

    /// <summary>Keys of a project, or every key (<paramref name="project"/> null: admins of every project).</summary>
    public Task<IReadOnlyList<ApiKey>> ListKeysAsync(Caller caller, string? project, CancellationToken cancellationToken = default)
    {
        RequireKeys(caller, project ?? Principal.AnyProject);
        return _metadata.Keys.ListAsync(project, cancellationToken);
    }

    /// <summary>Revokes a key; a project's admin may revoke that project's keys only.</summary>
    public async Task RevokeKeyAsync(Caller caller, string? project, string keyId, CancellationToken cancellationToken = default)
    {
        RequireKeys(caller, project ?? Principal.AnyProject);
        Names.Check("key", keyId);
        var key = await _metadata.Keys.GetAsync(keyId, cancellationToken).ConfigureAwait(false);
        if (key is null || (project is not null && key.Project != project))
        {
            throw NotFound(project is null ? $"no API key '{keyId}'" : $"no API key '{keyId}' in project '{project}'");
        }

        await _metadata.Keys.RevokeAsync(keyId, caller.Actor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes blobs nothing refers to (admins of every project); <paramref name="dryRun"/> only counts.</summary>
    public Task<GarbageReport> CollectGarbageAsync(Caller caller, TimeSpan grace, TimeSpan retention, bool dryRun, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        AccessPolicy.RequireGlobal(caller.Principal, Role.Admin);
        return ArtifactGarbageCollector.CollectAsync(_artifacts, _metadata, grace, retention, _clock, dryRun, cancellationToken);
    }

    private static void RequireAudit(Caller caller, string? project)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (project is null)
        {
            AccessPolicy.RequireGlobal(caller.Principal, Role.Admin);
        }
        else
        {
            Require(caller, project, Role.Admin);
        }
    }

    private static void RequireKeys(Caller caller, string project)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (project == Principal.AnyProject)
        {
            AccessPolicy.RequireGlobal(caller.Principal, Role.Admin);
        }
        else
        {
            Require(caller, project, Role.Admin);
        }
    }
}
