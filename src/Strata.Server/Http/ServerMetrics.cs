using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Routing.Patterns;
using Strata.Serving.Metrics;

namespace Strata.Server.Http;

/// <summary>
/// The server's metrics, exposed at <c>GET /metrics</c>: HTTP requests by route pattern (never the raw path, so the
/// number of series stays bounded), feature lookups by project, and the process metrics.
/// </summary>
internal sealed class ServerMetrics
{
    /// <summary>The route label of requests that matched no route (404s, 405s, probes for unknown paths).</summary>
    public const string UnmatchedRoute = "unmatched";

    private static readonly FrozenSet<string> KnownMethods = new[]
    {
        HttpMethods.Get, HttpMethods.Head, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete,
        HttpMethods.Patch, HttpMethods.Options, HttpMethods.Trace, HttpMethods.Connect,
    }.ToFrozenSet(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<Endpoint, RouteMetrics> _routes = new();

    public ServerMetrics()
    {
        Requests = Registry.CreateCounter("strata_http_requests_total", "HTTP requests answered, by route pattern, method and status.", "route", "method", "status");
        Duration = Registry.CreateHistogram("strata_http_request_duration_seconds", "HTTP request duration in seconds, by route pattern and method.", Histogram.LatencyBuckets, "route", "method");
        InFlight = Registry.CreateGauge("strata_http_requests_in_flight", "HTTP requests being answered.");
        ConnectionErrors = Registry.CreateCounter(
            "strata_http_connection_errors_total",
            "Connections the server ended for an error, by Kestrel's reason (a malformed request line or headers, headers over the limit, a client too slow or gone mid-body); a request refused before any route is counted only here.",
            "reason");
        FeatureLookups = Registry.CreateCounter("strata_feature_online_lookups_total", "Online feature lookups answered, by project.", "project");
        FeatureEntities = Registry.CreateCounter("strata_feature_online_entities_total", "Entity rows looked up in online feature lookups, by project.", "project");
        MonitorMissedSegments = Registry.CreateCounter(
            "strata_monitor_prediction_log_missed_segments_total",
            "Prediction-log segments the log's retention deleted before a monitor run by the server read them (their records never reached it), by project, endpoint and monitor.",
            "project", "endpoint", "monitor");
        MonitorMissedBytes = Registry.CreateCounter(
            "strata_monitor_prediction_log_missed_bytes_total",
            "Bytes of the prediction-log segments the log's retention deleted before a monitor run by the server read them, by project, endpoint and monitor.",
            "project", "endpoint", "monitor");
        ProcessMetrics.Register(Registry);
        Unmatched = new RouteMetrics(this, UnmatchedRoute);
    }

    public MetricRegistry Registry { get; } = new();

    public Counter Requests { get; }

    public Histogram Duration { get; }

    public Gauge InFlight { get; }

    public Counter ConnectionErrors { get; }

    public Counter FeatureLookups { get; }

    public Counter FeatureEntities { get; }

    /// <summary>Segments deleted by the prediction log's retention before a monitor read them (the monitoring service's).</summary>
    public Counter MonitorMissedSegments { get; }

    /// <summary>Their bytes.</summary>
    public Counter MonitorMissedBytes { get; }

    public RouteMetrics Unmatched { get; }

    /// <summary>The cached metrics of an endpoint's route; anything but a route endpoint (405, 415 answers) is unmatched.</summary>
    public RouteMetrics For(Endpoint? endpoint) =>
        endpoint is RouteEndpoint route
            ? _routes.GetOrAdd(route, static (e, self) => new RouteMetrics(self, Pattern(((RouteEndpoint)e).RoutePattern)), this)
            : Unmatched;

    /// <summary>The method label: the standard methods as they are, anything else "other" (a client picks the method).</summary>
    public static string Method(string method)
    {
        var canonical = HttpMethods.GetCanonicalizedValue(method);
        return KnownMethods.Contains(canonical) ? canonical : "other";
    }

    /// <summary>The route label: the pattern as mapped, e.g. <c>/api/v1/projects/{project}/runs</c> (constraints left out).</summary>
    internal static string Pattern(RoutePattern pattern) =>
        "/" + string.Join('/', pattern.PathSegments.Select(s => string.Concat(s.Parts.Select(p => p switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternSeparatorPart separator => separator.Content,
            RoutePatternParameterPart { IsCatchAll: true } parameter => "{**" + parameter.Name + "}",
            RoutePatternParameterPart parameter => "{" + parameter.Name + "}",
            _ => "",
        }))));
}

/// <summary>
/// The metric children of one route, cached per (method, status) so recording a request allocates no label strings.
/// </summary>
internal sealed class RouteMetrics(ServerMetrics metrics, string route)
{
    private readonly ConcurrentDictionary<(string Method, int Status), Counter.Child> _requests = new();
    private readonly ConcurrentDictionary<string, Histogram.Child> _durations = new(StringComparer.Ordinal);

    public string Route { get; } = route;

    public void Record(string method, int status, long startTimestamp)
    {
        var label = ServerMetrics.Method(method);
        var seconds = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        _durations.GetOrAdd(label, static (m, self) => self.DurationOf(m), this).Observe(seconds);
        _requests.GetOrAdd((label, status), static (key, self) => self.RequestsOf(key.Method, key.Status), this).Inc();
    }

    private Histogram.Child DurationOf(string method) => metrics.Duration.Labels(Route, method);

    private Counter.Child RequestsOf(string method, int status) =>
        metrics.Requests.Labels(Route, method, status.ToString(CultureInfo.InvariantCulture));
}

/// <summary>Records every request: in flight while it runs, then its count and duration under its route's pattern.</summary>
internal static class HttpMetrics
{
    /// <summary>
    /// Outermost: times the whole pipeline and sees the final status, including the exception handler's; writes the
    /// request's access log line too.
    /// </summary>
    public static IApplicationBuilder UseHttpMetrics(this IApplicationBuilder app)
    {
        var metrics = app.ApplicationServices.GetRequiredService<ServerMetrics>();
        var access = app.ApplicationServices.GetRequiredService<AccessLog>();
        return app.Use(async (context, next) =>
        {
            var start = Stopwatch.GetTimestamp();
            metrics.InFlight.Unlabelled.Inc();
            var failed = false;
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch
            {
                failed = true;
                throw;
            }
            finally
            {
                metrics.InFlight.Unlabelled.Dec();
                var route = context.Features.Get<RouteMetrics>() ?? metrics.Unmatched;
                route.Record(context.Request.Method, failed ? StatusCodes.Status500InternalServerError : context.Response.StatusCode, start);
                access.Record(context, route.Route, failed, start);
            }
        });
    }

    /// <summary>
    /// Right after routing: remembers the matched route, because the exception handler clears the endpoint before
    /// the outer middleware could read it (and 401/403/404 problems come from there).
    /// </summary>
    public static IApplicationBuilder UseRouteMetrics(this IApplicationBuilder app)
    {
        var metrics = app.ApplicationServices.GetRequiredService<ServerMetrics>();
        return app.Use((context, next) =>
        {
            context.Features.Set(metrics.For(context.GetEndpoint()));
            return next(context);
        });
    }
}
