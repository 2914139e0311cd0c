using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing.Patterns;
using Strata.Stores;

namespace Strata.Server.Http;

/// <summary>
/// Checks every name in an API path against the name rules before routing, on the raw request target: the server
/// decodes and normalizes paths (<c>%2e%2e/</c> and <c>../</c> vanish into a different route), so hostile segments are
/// caught here, where they are still visible, and refused with a 400 that names the route parameter they were sent as.
/// Legitimate names never need escaping (letters, digits, '-', '_', '.'), so any escape in a name is refused.
/// </summary>
internal sealed class RawPathGuard(RequestDelegate next, EndpointDataSource endpoints)
{
    private IReadOnlyList<RoutePattern>? _patterns;

    public Task InvokeAsync(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw))
        {
            raw = context.Request.PathBase.Add(context.Request.Path).ToUriComponent();
        }

        var query = raw.IndexOf('?', StringComparison.Ordinal);
        var path = query >= 0 ? raw[..query] : raw;

        // A trailing slash is no segment of its own: routing answers /projects/ as /projects.
        path = path.EndsWith('/') ? path[..^1] : path;
        if (path.StartsWith("/api/", StringComparison.OrdinalIgnoreCase))
        {
            Check(path[1..].Split('/'));
        }

        return next(context);
    }

    private void Check(string[] segments)
    {
        var pattern = BestMatch(segments, out var matched);
        for (var i = 0; i < segments.Length; i++)
        {
            var part = pattern is not null && i < matched ? pattern.PathSegments[i].Parts[0] : null;
            switch (part)
            {
                case RoutePatternParameterPart { IsCatchAll: true } catchAll:
                    Names.Check(catchAll.Name, string.Join('/', segments[i..]), NameKind.ArtifactPath);
                    return;
                case RoutePatternParameterPart parameter:
                    Names.Check(parameter.Name, segments[i]);
                    break;
                case RoutePatternLiteralPart:
                    break;
                default:
                    // Past any known route: still refuse what no name may hold, so traversal never reaches routing.
                    if (segments[i].Length == 0)
                    {
                        throw new StrataException(ErrorCodes.ArgumentInvalid, "the path has an empty segment ('//')");
                    }

                    if (!Names.IsValid(segments[i]))
                    {
                        var shown = segments[i].Length > 80 ? segments[i][..80] + "…" : segments[i];
                        throw new StrataException(ErrorCodes.ArgumentInvalid, $"no route has the path segment '{shown}', and no name could be it: names hold only letters, digits, '-', '_' and '.'");
                    }

                    break;
            }
        }
    }

    /// <summary>The route whose leading segments agree with the request's for longest (literals equal, parameters anything).</summary>
    private RoutePattern? BestMatch(string[] segments, out int matched)
    {
        RoutePattern? best = null;
        matched = 0;
        foreach (var pattern in Patterns())
        {
            var n = 0;
            while (n < segments.Length && n < pattern.PathSegments.Count)
            {
                var parts = pattern.PathSegments[n].Parts;
                if (parts.Count != 1)
                {
                    break;
                }

                if (parts[0] is RoutePatternLiteralPart literal && !literal.Content.Equals(segments[n], StringComparison.OrdinalIgnoreCase))
                {
                    break;
                }

                n++;
                if (parts[0] is RoutePatternParameterPart { IsCatchAll: true })
                {
                    n = segments.Length;
                    break;
                }
            }

            if (n > matched)
            {
                (best, matched) = (pattern, n);
            }
        }

        return best;
    }

    private IReadOnlyList<RoutePattern> Patterns() =>
        _patterns ??= endpoints.Endpoints.OfType<RouteEndpoint>().Select(e => e.RoutePattern).Where(p => p.PathSegments.All(s => s.Parts.Count == 1)).ToList();
}
