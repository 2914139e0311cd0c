using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Api;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>Promotion requests: editors ask, deployers approve or reject.</summary>
internal static class PromotionsApi
{
    public static IEndpointRouteBuilder MapPromotionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{project}/promotions").WithTags("promotions");
        api.MapGet("/", ListAsync).RequireRole(Role.Viewer);
        api.MapPost("/", RequestAsync).RequireRole(Role.Editor);
        api.MapPost("/{request}/approve", ApproveAsync).RequireRole(Role.Deployer);
        api.MapPost("/{request}/reject", RejectAsync).RequireRole(Role.Deployer);
        return app;
    }

    private static async Task<Ok<IReadOnlyList<PromotionRequest>>> ListAsync([AsParameters] ApiContext api, string project, string? model, string? status)
    {
        ApprovalStatus? parsed = status is null
            ? null
            : Enum.TryParse<ApprovalStatus>(status, ignoreCase: true, out var s) && !int.TryParse(status, out _)
                ? s
                : throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'status' must be pending, approved, rejected or cancelled, not '{status}'");
        return TypedResults.Ok(await api.Registry.ListPromotionsAsync(api.Caller, project, model, parsed, api.Aborted).ConfigureAwait(false));
    }

    private static async Task<Created<PromotionRequest>> RequestAsync([AsParameters] ApiContext api, string project, CreatePromotionRequest body)
    {
        var request = await api.Registry.RequestPromotionAsync(api.Caller, project, body.Model, body.Alias, body.Version, body.Reason, api.Aborted).ConfigureAwait(false);
        return TypedResults.Created($"/api/v1/projects/{project}/promotions/{request.Id}", request);
    }

    private static async Task<Ok<PromotionRequest>> ApproveAsync([AsParameters] ApiContext api, string project, string request, DecisionRequest? body) =>
        TypedResults.Ok(await api.Registry.ApprovePromotionAsync(api.Caller, project, request, body?.Reason, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<PromotionRequest>> RejectAsync([AsParameters] ApiContext api, string project, string request, DecisionRequest? body) =>
        TypedResults.Ok(await api.Registry.RejectPromotionAsync(api.Caller, project, request, body?.Reason, api.Aborted).ConfigureAwait(false));
}
