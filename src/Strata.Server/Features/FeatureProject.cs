using Microsoft.Extensions.Options;
using Strata.Security;
using Strata.Server.Http;

namespace Strata.Server.Features;

/// <summary>
/// Which project a request acts in: the route's <c>{project}</c>; on Feast-compatible routes, which have none,
/// <c>?project=</c>, the <c>Strata-Project</c> header, the key's own project, or the server's configured default.
/// </summary>
internal static class FeatureProject
{
    /// <summary>The header Feast clients can be configured to send.</summary>
    public const string Header = "Strata-Project";

    /// <summary>The project of a request, or null when nothing names one.</summary>
    public static string? Of(HttpContext context, Principal principal)
    {
        if (context.Request.RouteValues.TryGetValue("project", out var route) && route is string fromRoute)
        {
            return fromRoute;
        }

        if (context.Request.Query.TryGetValue("project", out var query) && query.Count == 1 && !string.IsNullOrEmpty(query[0]))
        {
            return query[0];
        }

        if (context.Request.Headers.TryGetValue(Header, out var header) && header.Count == 1 && !string.IsNullOrEmpty(header[0]))
        {
            return header[0];
        }

        if (!principal.IsGlobal)
        {
            return principal.Project;
        }

        return context.RequestServices.GetRequiredService<IOptions<StrataServerOptions>>().Value.FeatureProject;
    }

    /// <summary>The project of an authenticated request; a 400 when nothing names one.</summary>
    public static string Of(HttpContext context) => Of(context, context.GetCaller().Principal) ?? throw Missing();

    /// <summary>The 400 of a request that names no project.</summary>
    public static StrataException Missing() =>
        new(ErrorCodes.ArgumentInvalid, $"name the project: ?project=NAME, the {Header} header, a key of that project, or the server's Strata:FeatureProject setting");
}
