using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Server.Http;
using Strata.Server.Pipelines;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>Starting a pipeline run (by the pipeline's name on this server; used by monitoring's alert action) and reading runs.</summary>
internal static class PipelinesApi
{
    public static IEndpointRouteBuilder MapPipelinesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{project}/pipelines").WithTags("pipelines");
        api.MapPost("/runs", StartAsync).RequireRole(Role.Editor);
        api.MapGet("/runs", ListAsync).RequireRole(Role.Viewer);
        api.MapGet("/runs/{run}", GetAsync).RequireRole(Role.Viewer);
        return app;
    }

    /// <summary>What starts a run: the pipeline's name (its spec is NAME.yaml in the server's pipelines folder).</summary>
    internal sealed record StartPipelineRequest(string? Pipeline, bool? NoCache);

    /// <summary>A run and its steps.</summary>
    internal sealed record PipelineRunDetail(PipelineRun Run, IReadOnlyList<PipelineStepRun> Steps);

    private static async Task<Accepted<PipelineRun>> StartAsync([AsParameters] ApiContext api, string project, StartPipelineRequest body, PipelineRunner runner)
    {
        var pipeline = body.Pipeline ?? throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'pipeline' is required");
        var run = await runner.StartAsync(api.Caller, project, pipeline, body.NoCache ?? false, api.Aborted).ConfigureAwait(false);
        return TypedResults.Accepted($"/api/v1/projects/{project}/pipelines/runs/{run.Id}", run with { Spec = "" });
    }

    private static async Task<Ok<IReadOnlyList<PipelineRun>>> ListAsync([AsParameters] ApiContext api, string project, string? pipeline, int? limit)
    {
        await api.Registry.GetProjectAsync(api.Caller, project, api.Aborted).ConfigureAwait(false);
        return TypedResults.Ok(await api.State.Home.Metadata.Pipelines.ListRunsAsync(project, pipeline, limit ?? 50, api.Aborted).ConfigureAwait(false));
    }

    private static async Task<Ok<PipelineRunDetail>> GetAsync([AsParameters] ApiContext api, string project, string run)
    {
        await api.Registry.GetProjectAsync(api.Caller, project, api.Aborted).ConfigureAwait(false);
        Names.Check("run", run);
        var found = await api.State.Home.Metadata.Pipelines.GetRunAsync(project, run, api.Aborted).ConfigureAwait(false)
            ?? throw new StrataException(ErrorCodes.NotFound, $"no pipeline run '{run}' in project '{project}'");
        return TypedResults.Ok(new PipelineRunDetail(found, await api.State.Home.Metadata.Pipelines.ListStepsAsync(project, run, api.Aborted).ConfigureAwait(false)));
    }
}
