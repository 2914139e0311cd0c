using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Api;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>Registered models, and blobs uploaded before a version is registered from them.</summary>
internal static class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var project = app.MapGroup("/api/v1/projects/{project}").WithTags("models");
        project.MapPost("/artifacts", UploadBlobAsync).RequireRole(Role.Editor).AcceptsArtifactUpload();

        var api = project.MapGroup("/models");
        api.MapGet("/", ListAsync).RequireRole(Role.Viewer);
        api.MapPost("/", CreateAsync).RequireRole(Role.Editor);
        api.MapGet("/{model}", GetAsync).RequireRole(Role.Viewer);
        api.MapPut("/{model}/protected-aliases", ProtectAsync).RequireRole(Role.Admin);
        return app;
    }

    private static async Task<Created<BlobInfo>> UploadBlobAsync([AsParameters] ApiContext api, string project)
    {
        var blob = await api.Registry.PutBlobAsync(api.Caller, project, api.Http.Request.Body, api.Aborted).ConfigureAwait(false);
        return TypedResults.Created((string?)null, blob);
    }

    private static async Task<Ok<IReadOnlyList<RegisteredModel>>> ListAsync([AsParameters] ApiContext api, string project) =>
        TypedResults.Ok(await api.Registry.ListModelsAsync(api.Caller, project, api.Aborted).ConfigureAwait(false));

    private static async Task<Created<RegisteredModel>> CreateAsync([AsParameters] ApiContext api, string project, CreateModelRequest body)
    {
        var model = await api.Registry.CreateModelAsync(api.Caller, project, body.Name, body.Description, body.Tags, api.Aborted).ConfigureAwait(false);
        return TypedResults.Created($"/api/v1/projects/{project}/models/{model.Name}", model);
    }

    private static async Task<Ok<RegisteredModel>> GetAsync([AsParameters] ApiContext api, string project, string model) =>
        TypedResults.Ok(await api.Registry.GetModelAsync(api.Caller, project, model, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<RegisteredModel>> ProtectAsync([AsParameters] ApiContext api, string project, string model, SetProtectedAliasesRequest body) =>
        TypedResults.Ok(await api.Registry.SetProtectedAliasesAsync(api.Caller, project, model, body.Aliases ?? [], api.Aborted).ConfigureAwait(false));
}
