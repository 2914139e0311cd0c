using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Http;

namespace Strata.IntegrationTests.Server;

/// <summary>One mapped route: its method, canonical pattern, and the access rule it declares (null: none, or anonymous).</summary>
internal sealed record MappedRoute(string Method, string Pattern, RoutePattern Route, bool Anonymous, AccessRule? Rule)
{
    public string Key => $"{Method} {Pattern}";

    /// <summary>Every route the server maps, from its endpoint data source.</summary>
    public static List<MappedRoute> All(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => new MappedRoute(
                m,
                Canonical(e.RoutePattern),
                e.RoutePattern,
                e.Metadata.GetMetadata<IAllowAnonymous>() is not null,
                e.Metadata.GetMetadata<AccessRule>())))
            .OrderBy(r => r.Pattern, StringComparer.Ordinal)
            .ThenBy(r => r.Method, StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// A URL for the route with sample values in its parameters (valid names, so only access decides the answer); a
    /// route without a <c>{project}</c> (Feast's feature routes) names the project in the query instead.
    /// </summary>
    public string SampleUrl(string project = "flights") =>
        Path(project) + (Route.Parameters.Any(p => p.Name == "project") || Pattern.StartsWith("/api/", StringComparison.Ordinal) ? "" : "?project=" + project);

    private string Path(string project) =>
        "/" + string.Join('/', Route.PathSegments.Select(s => s.Parts[0] switch
        {
            RoutePatternLiteralPart l => l.Content,
            RoutePatternParameterPart { Name: "project" } => project,
            RoutePatternParameterPart { Name: "version" } => "1",
            RoutePatternParameterPart { Name: "run" } => "0123456789abcdef0123456789abcdef",
            RoutePatternParameterPart { Name: "path" } => "plots/roc.png",
            RoutePatternParameterPart p => "sample-" + p.Name,
            _ => throw new InvalidOperationException("unexpected route part"),
        }));

    private static string Canonical(RoutePattern pattern) =>
        "/" + string.Join('/', pattern.PathSegments.Select(s => string.Concat(s.Parts.Select(p => p switch
        {
            RoutePatternLiteralPart l => l.Content,
            RoutePatternParameterPart { IsCatchAll: true } c => "{**" + c.Name + "}",
            RoutePatternParameterPart c => "{" + c.Name + "}",
            _ => "?",
        }))));
}
