using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.IO.Pipelines;
using System.Reflection;
using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;

namespace Strata.Server.Http;

/// <summary>
/// Refuses a query parameter that the route does not read. A misspelt <c>?explian=3</c> would otherwise be ignored, and
/// the request answered as if it had not been sent; a misspelt JSON field is refused the same way. The names a route
/// reads are the query parameters of its handler, as minimal APIs bind them, plus <c>?project=</c> on project-scoped
/// routes without a <c>{project}</c> segment (the Feast-compatible ones), which access control reads.
/// </summary>
internal static class QueryParameters
{
    /// <summary>Checks the query of every request a route answers (after access control: an unknown caller learns nothing).</summary>
    public static IApplicationBuilder UseQueryCheck(this IApplicationBuilder app)
    {
        var cache = new ConcurrentDictionary<RouteEndpoint, FrozenSet<string>>(); // this application's routes only
        return app.Use((context, next) =>
        {
            if (context.Request.QueryString.HasValue && context.GetEndpoint() is RouteEndpoint endpoint)
            {
                var known = cache.GetOrAdd(endpoint, Of);
                foreach (var key in context.Request.Query.Keys)
                {
                    if (!known.Contains(key))
                    {
                        throw new StrataException(ErrorCodes.ArgumentInvalid, known.Count == 0
                            ? $"unknown query parameter '{key}': this route takes none"
                            : $"unknown query parameter '{key}' (known: {string.Join(", ", known.Order(StringComparer.Ordinal))})");
                    }
                }
            }

            return next(context);
        });
    }

    /// <summary>The query parameters a route reads (compared without case, as minimal APIs bind them).</summary>
    internal static FrozenSet<string> Of(RouteEndpoint endpoint)
    {
        var route = endpoint.RoutePattern.Parameters.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (endpoint.Metadata.GetMetadata<AccessRule>() is { Scope: AccessScope.Project } && !route.Contains("project"))
        {
            names.Add("project");
        }

        foreach (var parameter in endpoint.Metadata.GetMetadata<MethodInfo>()?.GetParameters() ?? [])
        {
            if (parameter.GetCustomAttribute<AsParametersAttribute>() is not null)
            {
                foreach (var property in parameter.ParameterType.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
                {
                    Add(names, route, property.PropertyType, property.Name, property);
                }
            }
            else
            {
                Add(names, route, parameter.ParameterType, parameter.Name!, parameter);
            }
        }

        return names.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }

    private static void Add(HashSet<string> names, HashSet<string> route, Type type, string name, ICustomAttributeProvider attributes)
    {
        var all = attributes.GetCustomAttributes(inherit: true);
        if (all.OfType<FromQueryAttribute>().FirstOrDefault() is { } query)
        {
            names.Add(query.Name ?? name);
        }
        else if (!all.Any(a => a is FromRouteAttribute or FromBodyAttribute or FromHeaderAttribute or FromServicesAttribute or FromFormAttribute)
            && !route.Contains(name) && IsSimple(type))
        {
            names.Add(name); // minimal APIs bind a simple parameter that is not a route value from the query
        }
    }

    private static bool IsSimple(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? (type.IsArray ? type.GetElementType()! : type);
        if (type == typeof(HttpContext) || type == typeof(HttpRequest) || type == typeof(HttpResponse) || type == typeof(CancellationToken)
            || type == typeof(ClaimsPrincipal) || type == typeof(Stream) || type == typeof(PipeReader))
        {
            return false;
        }

        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal)
            || type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), type.MakeByRefType()]) is not null
            || type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), typeof(IFormatProvider), type.MakeByRefType()]) is not null;
    }
}
