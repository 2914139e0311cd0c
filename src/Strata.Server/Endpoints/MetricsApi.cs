using Microsoft.Extensions.Options;
using Strata.Serving.Metrics;
using Strata.Server.Http;

namespace Strata.Server.Endpoints;

/// <summary>
/// <c>GET /metrics</c> in the Prometheus text format, for any valid key (or anonymously on loopback when configured).
/// The key is checked through the serving runtime's cache, as the predict routes check it: a scrape must answer while
/// the metadata store does not, since the server keeps serving then and its counters matter most.
/// </summary>
internal static class MetricsApi
{
    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        var route = app.MapGet("/metrics", ScrapeAsync).RequireAnyKey().WithCachedKeyCheck().WithTags("metrics");
        if (app.ServiceProvider.GetRequiredService<IOptions<StrataServerOptions>>().Value.AnonymousMetrics)
        {
            route.AllowAnonymousOnLoopback();
        }

        return app;
    }

    private static async Task ScrapeAsync(HttpContext http, ServerMetrics metrics)
    {
        var text = PrometheusText.ToText(metrics.Registry);
        http.Response.ContentType = PrometheusText.ContentType;
        await http.Response.WriteAsync(text, http.RequestAborted).ConfigureAwait(false);
    }
}
