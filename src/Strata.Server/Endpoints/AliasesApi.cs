using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Api;
using Strata.Registry;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>Aliases: move (or, when protected, request a promotion), get, list, history, and which version an alias meant at a time.</summary>
internal static class AliasesApi
{
    public static IEndpointRouteBuilder MapAliasesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{project}/models/{model}/aliases").WithTags("aliases");
        api.MapGet("/", ListAsync).RequireRole(Role.Viewer);
        api.MapGet("/{alias}", GetAsync).RequireRole(Role.Viewer);
        api.MapPut("/{alias}", SetAsync).RequireRole(Role.Editor);
        api.MapDelete("/{alias}", RemoveAsync).RequireRole(Role.Editor);
        api.MapGet("/{alias}/history", HistoryAsync).RequireRole(Role.Viewer);
        api.MapGet("/{alias}/resolve", ResolveAsync).RequireRole(Role.Viewer);
        return app;
    }

    private static async Task<Ok<IReadOnlyList<ModelAlias>>> ListAsync([AsParameters] ApiContext api, string project, string model) =>
        TypedResults.Ok(await api.Registry.ListAliasesAsync(api.Caller, project, model, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<ModelAlias>> GetAsync([AsParameters] ApiContext api, string project, string model, string alias) =>
        TypedResults.Ok(await api.Registry.GetAliasAsync(api.Caller, project, model, alias, api.Aborted).ConfigureAwait(false));

    /// <summary>200 when the alias moved; 202 when a promotion request now waits for a deployer.</summary>
    private static async Task<Results<Ok<AliasChangeResult>, Accepted<AliasChangeResult>>> SetAsync([AsParameters] ApiContext api, string project, string model, string alias, SetAliasRequest body)
    {
        var change = await api.Registry.SetAliasAsync(api.Caller, project, model, alias, body.Version, body.Reason, api.Aborted).ConfigureAwait(false);
        var result = new AliasChangeResult((AliasOutcome)(int)change.Outcome, change.Alias, change.Promotion);
        return change.Outcome == AliasChangeOutcome.Pending
            ? TypedResults.Accepted($"/api/v1/projects/{project}/promotions?model={model}", result)
            : TypedResults.Ok(result);
    }

    private static async Task<NoContent> RemoveAsync([AsParameters] ApiContext api, string project, string model, string alias, string? reason)
    {
        await api.Registry.RemoveAliasAsync(api.Caller, project, model, alias, reason, api.Aborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<IReadOnlyList<AliasMove>>> HistoryAsync([AsParameters] ApiContext api, string project, string model, string alias) =>
        TypedResults.Ok(await api.Registry.GetAliasHistoryAsync(api.Caller, project, model, alias, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<ResolvedAlias>> ResolveAsync([AsParameters] ApiContext api, string project, string model, string alias, string at)
    {
        var time = ParseTime("at", at);
        var version = await api.Registry.ResolveAliasAtAsync(api.Caller, project, model, alias, time, api.Aborted).ConfigureAwait(false);
        return TypedResults.Ok(new ResolvedAlias(model, alias, time, version));
    }

    /// <summary>A time as ISO 8601 (UTC) or UTC microseconds since the epoch.</summary>
    internal static long ParseTime(string field, string? text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var micros))
        {
            return micros;
        }

        return Timestamp.TryParse(text, out micros)
            ? micros
            : throw new StrataException(ErrorCodes.ArgumentInvalid, $"field '{field}' must be an ISO 8601 time (2026-01-01T00:00:00Z) or UTC microseconds, not '{text}'");
    }
}
