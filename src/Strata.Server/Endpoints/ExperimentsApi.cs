using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Api;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>Experiments of a project.</summary>
internal static class ExperimentsApi
{
    public static IEndpointRouteBuilder MapExperimentsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{project}/experiments").WithTags("experiments");
        api.MapGet("/", ListAsync).RequireRole(Role.Viewer);
        api.MapPost("/", CreateAsync).RequireRole(Role.Editor);
        api.MapGet("/{experiment}", GetAsync).RequireRole(Role.Viewer);
        return app;
    }

    private static async Task<Ok<IReadOnlyList<Experiment>>> ListAsync([AsParameters] ApiContext api, string project) =>
        TypedResults.Ok(await api.Registry.ListExperimentsAsync(api.Caller, project, api.Aborted).ConfigureAwait(false));

    private static async Task<Created<Experiment>> CreateAsync([AsParameters] ApiContext api, string project, CreateExperimentRequest body)
    {
        var experiment = await api.Registry.CreateExperimentAsync(api.Caller, project, body.Name, body.Tags, api.Aborted).ConfigureAwait(false);
        return TypedResults.Created($"/api/v1/projects/{project}/experiments/{experiment.Name}", experiment);
    }

    private static async Task<Ok<Experiment>> GetAsync([AsParameters] ApiContext api, string project, string experiment) =>
        TypedResults.Ok(await api.Registry.GetExperimentAsync(api.Caller, project, experiment, api.Aborted).ConfigureAwait(false));
}
