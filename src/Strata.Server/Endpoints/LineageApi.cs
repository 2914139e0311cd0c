using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Api;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>Lineage after ML Metadata: artifacts, executions, events, contexts, and walks up- and downstream.</summary>
internal static class LineageApi
{
    public static IEndpointRouteBuilder MapLineageApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{project}/lineage").WithTags("lineage");
        api.MapGet("/artifacts", FindAsync).RequireRole(Role.Viewer);
        api.MapPost("/artifacts", PutArtifactAsync).RequireRole(Role.Editor);
        api.MapGet("/artifacts/{artifact}", GetArtifactAsync).RequireRole(Role.Viewer);
        api.MapGet("/artifacts/{artifact}/upstream", UpstreamAsync).RequireRole(Role.Viewer);
        api.MapGet("/artifacts/{artifact}/downstream", DownstreamAsync).RequireRole(Role.Viewer);
        api.MapPost("/executions", PutExecutionAsync).RequireRole(Role.Editor);
        api.MapPost("/events", AddEventsAsync).RequireRole(Role.Editor);
        api.MapPost("/contexts", PutContextAsync).RequireRole(Role.Editor);
        return app;
    }

    private static async Task<Ok<IReadOnlyList<LineageArtifact>>> FindAsync([AsParameters] ApiContext api, string project, string? type, string? name, string? digest) =>
        TypedResults.Ok(await api.Registry.FindLineageArtifactsAsync(api.Caller, project, type, name, digest, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<LineageArtifact>> PutArtifactAsync([AsParameters] ApiContext api, string project, LineageArtifactRequest body)
    {
        var artifact = new LineageArtifact(body.Id ?? "", project, body.Type, body.Name, body.Digest, body.Properties ?? new Dictionary<string, string>(), 0);
        return TypedResults.Ok(await api.Registry.PutLineageArtifactAsync(api.Caller, project, artifact, api.Aborted).ConfigureAwait(false));
    }

    private static async Task<Ok<LineageArtifact>> GetArtifactAsync([AsParameters] ApiContext api, string project, string artifact) =>
        TypedResults.Ok(await api.Registry.GetLineageArtifactAsync(api.Caller, project, artifact, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<LineageGraph>> UpstreamAsync([AsParameters] ApiContext api, string project, string artifact, int? depth) =>
        TypedResults.Ok(await api.Registry.GetLineageAsync(api.Caller, project, artifact, upstream: true, depth ?? 32, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<LineageGraph>> DownstreamAsync([AsParameters] ApiContext api, string project, string artifact, int? depth) =>
        TypedResults.Ok(await api.Registry.GetLineageAsync(api.Caller, project, artifact, upstream: false, depth ?? 32, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<LineageExecution>> PutExecutionAsync([AsParameters] ApiContext api, string project, LineageExecutionRequest body)
    {
        var execution = new LineageExecution(body.Id ?? "", project, body.Type, body.Name, body.State, body.Properties ?? new Dictionary<string, string>(), 0);
        return TypedResults.Ok(await api.Registry.PutLineageExecutionAsync(api.Caller, project, execution, api.Aborted).ConfigureAwait(false));
    }

    private static async Task<NoContent> AddEventsAsync([AsParameters] ApiContext api, string project, LineageEventsRequest body)
    {
        await api.Registry.AddLineageEventsAsync(api.Caller, project, body.Events ?? [], api.Aborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<LineageContext>> PutContextAsync([AsParameters] ApiContext api, string project, LineageContextRequest body)
    {
        var context = new LineageContext(body.Id ?? "", project, body.Type, body.Name, body.ArtifactIds ?? [], body.ExecutionIds ?? []);
        return TypedResults.Ok(await api.Registry.PutLineageContextAsync(api.Caller, project, context, api.Aborted).ConfigureAwait(false));
    }
}
