using Microsoft.AspNetCore.Authorization;
using Strata.Security;
using Strata.Server.Features;
using Strata.Server.Hosting;
using Strata.Stores;

namespace Strata.Server.Http;

/// <summary>Where a route's role requirement applies.</summary>
internal enum AccessScope
{
    /// <summary>Any valid key (listing the projects a key can see, who am I).</summary>
    AnyKey,
    /// <summary>The role in the route's <c>{project}</c>.</summary>
    Project,
    /// <summary>The role in every project: a key made for "*" (creating projects, server-wide keys and audit).</summary>
    Global,
}

/// <summary>Endpoint metadata: the least a caller must hold to use the route. A route without it is refused to everyone.</summary>
internal sealed record AccessRule(AccessScope Scope, Role Minimum)
{
    /// <summary>Checks a principal against the rule for a request's route values.</summary>
    public void Check(Principal principal, string? project)
    {
        switch (Scope)
        {
            case AccessScope.AnyKey:
                return;
            case AccessScope.Global:
                AccessPolicy.RequireGlobal(principal, Minimum);
                return;
            default:
                // Only Feast's root routes can lack a project (every other project route has {project}): naming none
                // is the caller's omission to fix, not a refusal of access.
                AccessPolicy.Require(principal, project ?? throw FeatureProject.Missing(), Minimum);
                return;
        }
    }

    /// <summary>How the route table and tests print the rule.</summary>
    public override string ToString() => Scope switch
    {
        AccessScope.AnyKey => "any key",
        AccessScope.Global => $"{AccessPolicy.Name(Minimum)} of every project",
        _ => AccessPolicy.Name(Minimum),
    };
}

/// <summary>Endpoint metadata: the route needs no key when the request comes from a loopback address (a local scraper).</summary>
internal sealed record AnonymousOnLoopback;

/// <summary>
/// Endpoint metadata: the route authenticates through the serving runtime's key cache (inference routes), so a
/// prediction reads no store; revocations reach it within the serving poll interval.
/// </summary>
internal sealed record CachedKeyCheck;

/// <summary>The authenticated caller of a request, set by <see cref="Access.UseAccessControl"/>.</summary>
internal sealed record CallerFeature(Caller Caller);

/// <summary>
/// API-key authentication and per-route roles. Deny by default: every route must either allow anonymous use (health)
/// or declare an <see cref="AccessRule"/>; a route that declares neither is refused to every caller.
/// </summary>
internal static class Access
{
    /// <summary>The route needs at least <paramref name="minimum"/> in its <c>{project}</c>.</summary>
    public static TBuilder RequireRole<TBuilder>(this TBuilder builder, Role minimum)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AccessRule(AccessScope.Project, minimum));

    /// <summary>The route needs at least <paramref name="minimum"/> in every project.</summary>
    public static TBuilder RequireGlobalRole<TBuilder>(this TBuilder builder, Role minimum)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AccessRule(AccessScope.Global, minimum));

    /// <summary>The route needs any valid key.</summary>
    public static TBuilder RequireAnyKey<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AccessRule(AccessScope.AnyKey, Role.Viewer));

    /// <summary>Besides its rule, the route answers a request from a loopback address without a key.</summary>
    public static TBuilder AllowAnonymousOnLoopback<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AnonymousOnLoopback());

    /// <summary>The route authenticates through the serving runtime's key cache (see <see cref="CachedKeyCheck"/>).</summary>
    public static TBuilder WithCachedKeyCheck<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new CachedKeyCheck());

    /// <summary>The caller of the current request (only on routes that are not anonymous).</summary>
    public static Caller GetCaller(this HttpContext context) =>
        context.Features.Get<CallerFeature>()?.Caller ?? throw new StrataException(ErrorCodes.Unauthorized, "this request has no authenticated caller");

    public static IApplicationBuilder UseAccessControl(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var endpoint = context.GetEndpoint();
            if (endpoint is null || endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null || IsLoopbackAnonymous(context, endpoint))
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            var state = context.RequestServices.GetRequiredService<ServerState>();
            var token = ApiKeys.FromAuthorizationHeader(context.Request.Headers.Authorization);
            var principal = endpoint.Metadata.GetMetadata<CachedKeyCheck>() is not null
                ? await state.Serving.AuthenticateAsync(token, context.RequestAborted).ConfigureAwait(false)
                : await ApiKeys.AuthenticateAsync(state.Home.Metadata.Keys, token, context.RequestAborted).ConfigureAwait(false);

            // Routing answers a wrong method or content type with endpoints of its own (405, 415) that are not routes
            // and do nothing but set the status; every route of the API is a RouteEndpoint and needs its rule.
            if (endpoint is RouteEndpoint)
            {
                var rule = endpoint.Metadata.GetMetadata<AccessRule>()
                    ?? throw new StrataException(ErrorCodes.Forbidden, "this route declares no access rule, so it is refused to everyone (deny by default)");
                rule.Check(principal, FeatureProject.Of(context, principal));
            }

            context.Features.Set(new CallerFeature(new Caller(principal, context.TraceIdentifier)));
            await next(context).ConfigureAwait(false);
        });

    private static bool IsLoopbackAnonymous(HttpContext context, Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<AnonymousOnLoopback>() is not null
        && context.Connection.RemoteIpAddress is { } address
        && System.Net.IPAddress.IsLoopback(address);
}
