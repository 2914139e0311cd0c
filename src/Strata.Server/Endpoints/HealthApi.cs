using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Api;
using Strata.Server.Hosting;

namespace Strata.Server.Endpoints;

/// <summary>Liveness and readiness probes: the only routes open without a key.</summary>
internal static class HealthApi
{
    /// <summary>GET, and HEAD for probes and load balancers that check the status alone (a HEAD route of its own, or it would need a key).</summary>
    internal static readonly string[] Probes = [HttpMethods.Get, HttpMethods.Head];

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/health").AllowAnonymous().WithTags("health");
        health.MapMethods("/live", Probes, Live);
        health.MapMethods("/ready", Probes, ReadyAsync);
        return app;
    }

    private static Ok<HealthReport> Live() => TypedResults.Ok(new HealthReport("ok"));

    private static async Task<Results<Ok<HealthReport>, ProblemHttpResult>> ReadyAsync(ServerState state, CancellationToken cancellationToken)
    {
        try
        {
            var metadata = state.Home.Metadata;
            var sequence = await metadata.GetChangeSequenceAsync(cancellationToken).ConfigureAwait(false);
            return TypedResults.Ok(new HealthReport("ok", metadata.Backend, sequence));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Probes are anonymous: say that the store is down, not why.
            return TypedResults.Problem("the metadata store does not answer", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }
}
