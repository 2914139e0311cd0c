using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Strata.Api;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>Runs: create, log, end, search, metric history, and the files they log (streamed, content-addressed).</summary>
internal static class RunsApi
{
    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{project}/runs").WithTags("runs");
        api.MapPost("/", CreateAsync).RequireRole(Role.Editor);
        api.MapGet("/", SearchByQueryAsync).RequireRole(Role.Viewer);
        api.MapPost("/search", SearchAsync).RequireRole(Role.Viewer);
        api.MapGet("/{run}", GetAsync).RequireRole(Role.Viewer);
        api.MapPost("/{run}/log-batch", LogBatchAsync).RequireRole(Role.Editor);
        api.MapPost("/{run}/end", EndAsync).RequireRole(Role.Editor);
        api.MapGet("/{run}/metric-history", MetricHistoryAsync).RequireRole(Role.Viewer);
        api.MapGet("/{run}/artifacts", ListArtifactsAsync).RequireRole(Role.Viewer);
        api.MapPut("/{run}/artifacts/{**path}", UploadArtifactAsync).RequireRole(Role.Editor).AcceptsArtifactUpload();
        api.MapGet("/{run}/artifacts/{**path}", DownloadArtifactAsync).RequireRole(Role.Viewer);
        return app;
    }

    private static async Task<Created<Run>> CreateAsync([AsParameters] ApiContext api, string project, CreateRunRequest body)
    {
        var spec = new RunSpec
        {
            Name = body.Name,
            Params = body.Params ?? new Dictionary<string, string>(),
            Tags = body.Tags ?? new Dictionary<string, string>(),
            Source = body.Source,
            ParentRunId = body.ParentRunId,
        };
        var run = await api.Registry.CreateRunAsync(api.Caller, project, body.Experiment, spec, api.Aborted).ConfigureAwait(false);
        return TypedResults.Created($"/api/v1/projects/{project}/runs/{run.Id}", run);
    }

    private static Task<Ok<RunPage>> SearchByQueryAsync(
        [AsParameters] ApiContext api,
        string project,
        [FromQuery(Name = "experiment")] string[]? experiments,
        string? filter,
        string? orderBy,
        int? maxResults,
        string? pageToken) =>
        SearchAsync(api, project, new RunSearchRequest { Experiments = experiments, Filter = filter, OrderBy = orderBy, MaxResults = maxResults ?? 100, PageToken = pageToken });

    private static async Task<Ok<RunPage>> SearchAsync([AsParameters] ApiContext api, string project, RunSearchRequest body)
    {
        var query = new RunQuery { Filter = body.Filter, OrderBy = body.OrderBy, MaxResults = body.MaxResults, PageToken = body.PageToken };
        return TypedResults.Ok(await api.Registry.SearchRunsAsync(api.Caller, project, query, body.Experiments, api.Aborted).ConfigureAwait(false));
    }

    private static async Task<Ok<Run>> GetAsync([AsParameters] ApiContext api, string project, string run) =>
        TypedResults.Ok(await api.Registry.GetRunAsync(api.Caller, project, run, api.Aborted).ConfigureAwait(false));

    private static async Task<NoContent> LogBatchAsync([AsParameters] ApiContext api, string project, string run, LogBatchRequest body)
    {
        await api.Registry.LogBatchAsync(api.Caller, project, run, body.Metrics, body.Params, body.Tags, api.Aborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<Run>> EndAsync([AsParameters] ApiContext api, string project, string run, EndRunRequest body) =>
        TypedResults.Ok(await api.Registry.EndRunAsync(api.Caller, project, run, body.Status, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<IReadOnlyList<MetricPoint>>> MetricHistoryAsync([AsParameters] ApiContext api, string project, string run, string key) =>
        TypedResults.Ok(await api.Registry.GetMetricHistoryAsync(api.Caller, project, run, key, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<List<RunArtifactInfo>>> ListArtifactsAsync([AsParameters] ApiContext api, string project, string run)
    {
        var files = await api.Registry.ListRunArtifactsAsync(api.Caller, project, run, api.Aborted).ConfigureAwait(false);
        return TypedResults.Ok(files.Select(f => new RunArtifactInfo(f.Path, f.Digest, f.Size)).ToList());
    }

    private static async Task<Created<BlobInfo>> UploadArtifactAsync([AsParameters] ApiContext api, string project, string run, string path)
    {
        var blob = await api.Registry.PutRunArtifactAsync(api.Caller, project, run, path, api.Http.Request.Body, api.Aborted).ConfigureAwait(false);
        return TypedResults.Created($"/api/v1/projects/{project}/runs/{run}/artifacts/{path}", blob);
    }

    private static async Task<FileStreamHttpResult> DownloadArtifactAsync([AsParameters] ApiContext api, string project, string run, string path)
    {
        var (file, content) = await api.Registry.OpenRunArtifactAsync(api.Caller, project, run, path, api.Aborted).ConfigureAwait(false);
        return Downloads.Blob(api.Http, content, file.Digest, path);
    }
}
