namespace Strata.Stores;

/// <summary>What an API key may do in its project; each role includes the ones before it.</summary>
public enum Role
{
    /// <summary>Read everything in the project.</summary>
    Viewer,
    /// <summary>Also create experiments, runs, models, versions; move unprotected aliases; request promotions.</summary>
    Editor,
    /// <summary>Also approve or reject promotions to protected aliases.</summary>
    Deployer,
    /// <summary>Also manage keys, delete, and change which aliases are protected.</summary>
    Admin,
}

/// <summary>An API key as stored: never the secret, only its SHA-256.</summary>
public sealed record ApiKey(
    string Id,
    string Principal,
    string Project,
    Role Role,
    string SecretHash,
    long CreatedAt,
    string CreatedBy,
    bool Revoked,
    string? Description);

/// <summary>One entry of the tamper-evident audit log: each carries the hash of the one before.</summary>
public sealed record AuditEntry(
    long Sequence,
    long Time,
    string Principal,
    string Action,
    string Project,
    string Target,
    string? RequestId,
    string? Details,
    string PreviousHash,
    string Hash);

/// <summary>The result of checking the audit chain.</summary>
public sealed record AuditVerification(bool Intact, long Entries, long? FirstBadSequence, string? Problem);
