using Strata.Stores;

namespace Strata.Security;

/// <summary>
/// Decides whether a principal may act in a project. Roles are ordered (viewer &lt; editor &lt; deployer &lt; admin); a key
/// is valid in its own project only, unless it was made for every project ("*"). Everything not granted is refused.
/// </summary>
public static class AccessPolicy
{
    /// <summary>True when <paramref name="principal"/> holds at least <paramref name="minimum"/> in <paramref name="project"/>.</summary>
    public static bool Allows(Principal principal, string project, Role minimum)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return principal.CanSee(project) && principal.Role >= minimum;
    }

    /// <summary>Refuses unless <paramref name="principal"/> holds at least <paramref name="minimum"/> in <paramref name="project"/>.</summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.Forbidden"/> saying what is missing.</exception>
    public static void Require(Principal principal, string project, Role minimum)
    {
        ArgumentNullException.ThrowIfNull(principal);
        if (!principal.CanSee(project))
        {
            throw new StrataException(ErrorCodes.Forbidden, $"principal '{principal.Name}' has no access to project '{project}' (its key is for '{principal.Project}')");
        }

        if (principal.Role < minimum)
        {
            throw new StrataException(ErrorCodes.Forbidden, $"this needs the {Name(minimum)} role in project '{project}'; principal '{principal.Name}' is {Name(principal.Role)}");
        }
    }

    /// <summary>Refuses unless the principal holds <paramref name="minimum"/> in every project (a "*" key): server-wide actions.</summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.Forbidden"/> saying what is missing.</exception>
    public static void RequireGlobal(Principal principal, Role minimum)
    {
        ArgumentNullException.ThrowIfNull(principal);
        if (!principal.IsGlobal || principal.Role < minimum)
        {
            throw new StrataException(ErrorCodes.Forbidden, $"this needs the {Name(minimum)} role in every project (a key made with --project '*'); principal '{principal.Name}' is {Name(principal.Role)} in '{principal.Project}'");
        }
    }

    /// <summary>The lower-case name of a role, as the command line and the API spell it.</summary>
    public static string Name(Role role) => role.ToString().ToLowerInvariant();

    /// <summary>Parses a role name (viewer, editor, deployer, admin).</summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.ArgumentInvalid"/> for anything else.</exception>
    public static Role ParseRole(string? text) =>
        text?.ToLowerInvariant() switch
        {
            "viewer" => Role.Viewer,
            "editor" => Role.Editor,
            "deployer" => Role.Deployer,
            "admin" => Role.Admin,
            _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'role' must be viewer, editor, deployer or admin, not '{text}'"),
        };
}
