using Strata.Stores;

namespace Strata.Security;

/// <summary>
/// Who is calling: a name (an API key's owner, or "local" on the embedded home), the key that proved it, the project the
/// key is valid in (<see cref="AnyProject"/> for every project), and the key's role there.
/// </summary>
public sealed record Principal(string Name, string? KeyId, string Project, Role Role)
{
    /// <summary>The project scope of a key valid in every project.</summary>
    public const string AnyProject = "*";

    /// <summary>The command line on the embedded home: its owner, an admin of every project.</summary>
    public static Principal Local { get; } = new("local", null, AnyProject, Role.Admin);

    /// <summary>True when the principal's key is valid in <paramref name="project"/>.</summary>
    public bool CanSee(string project) => Project == AnyProject || string.Equals(Project, project, StringComparison.Ordinal);

    /// <summary>True when the principal is valid in every project.</summary>
    public bool IsGlobal => Project == AnyProject;

    /// <summary>The audit actor for one request made by this principal.</summary>
    public Actor ToActor(string? requestId) => new(Name, requestId);

    /// <summary>Makes a principal from a stored key.</summary>
    public static Principal FromKey(ApiKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new Principal(key.Principal, key.Id, key.Project, key.Role);
    }
}

/// <summary>One request: the principal and the request id the audit log records beside it.</summary>
public sealed record Caller(Principal Principal, string? RequestId = null)
{
    /// <summary>The command line on the embedded home.</summary>
    public static Caller Local { get; } = new(Principal.Local);

    /// <summary>The audit actor for this request.</summary>
    public Actor Actor => Principal.ToActor(RequestId);
}
