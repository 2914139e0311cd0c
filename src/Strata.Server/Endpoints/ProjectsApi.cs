using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Api;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>Projects, and who the caller is.</summary>
internal static class ProjectsApi
{
    public static IEndpointRouteBuilder MapProjectsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("projects");
        api.MapGet("/whoami", WhoAmI).RequireAnyKey();
        api.MapGet("/projects", ListAsync).RequireAnyKey();
        api.MapPost("/projects", CreateAsync).RequireGlobalRole(Role.Admin);
        api.MapGet("/projects/{project}", GetAsync).RequireRole(Role.Viewer);
        return app;
    }

    private static Ok<WhoAmI> WhoAmI([AsParameters] ApiContext api)
    {
        var p = api.Caller.Principal;
        return TypedResults.Ok(new WhoAmI(p.Name, p.KeyId, p.Project, p.Role));
    }

    private static async Task<Ok<IReadOnlyList<Project>>> ListAsync([AsParameters] ApiContext api) =>
        TypedResults.Ok(await api.Registry.ListProjectsAsync(api.Caller, api.Aborted).ConfigureAwait(false));

    private static async Task<Created<Project>> CreateAsync([AsParameters] ApiContext api, CreateProjectRequest body)
    {
        var project = await api.Registry.CreateProjectAsync(api.Caller, body.Name, body.Description, api.Aborted).ConfigureAwait(false);
        return TypedResults.Created($"/api/v1/projects/{project.Name}", project);
    }

    private static async Task<Ok<Project>> GetAsync([AsParameters] ApiContext api, string project) =>
        TypedResults.Ok(await api.Registry.GetProjectAsync(api.Caller, project, api.Aborted).ConfigureAwait(false));
}
