using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Api;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>API keys: a project's admins manage its keys; admins of every project manage all, including "*" keys.</summary>
internal static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var project = app.MapGroup("/api/v1/projects/{project}/keys").WithTags("keys");
        project.MapGet("/", ListProjectAsync).RequireRole(Role.Admin);
        project.MapPost("/", CreateProjectAsync).RequireRole(Role.Admin);
        project.MapDelete("/{key}", RevokeProjectAsync).RequireRole(Role.Admin);

        var global = app.MapGroup("/api/v1/keys").WithTags("keys");
        global.MapGet("/", ListAsync).RequireGlobalRole(Role.Admin);
        global.MapPost("/", CreateAsync).RequireGlobalRole(Role.Admin);
        global.MapDelete("/{key}", RevokeAsync).RequireGlobalRole(Role.Admin);
        return app;
    }

    private static async Task<Ok<List<ApiKeyInfo>>> ListProjectAsync([AsParameters] ApiContext api, string project) =>
        TypedResults.Ok((await api.Registry.ListKeysAsync(api.Caller, project, api.Aborted).ConfigureAwait(false)).Select(ApiKeyInfo.From).ToList());

    private static Task<Created<CreatedKey>> CreateProjectAsync([AsParameters] ApiContext api, string project, CreateKeyRequest body)
    {
        if (body.Project is not null && body.Project != project)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'project' ('{body.Project}') differs from the route's project ('{project}')");
        }

        return CreateKeyAsync(api, project, body);
    }

    private static async Task<NoContent> RevokeProjectAsync([AsParameters] ApiContext api, string project, string key)
    {
        await api.Registry.RevokeKeyAsync(api.Caller, project, key, api.Aborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<List<ApiKeyInfo>>> ListAsync([AsParameters] ApiContext api) =>
        TypedResults.Ok((await api.Registry.ListKeysAsync(api.Caller, null, api.Aborted).ConfigureAwait(false)).Select(ApiKeyInfo.From).ToList());

    private static Task<Created<CreatedKey>> CreateAsync([AsParameters] ApiContext api, CreateKeyRequest body) =>
        CreateKeyAsync(api, body.Project ?? throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'project' is required (a project's name, or '*' for every project)"), body);

    private static async Task<NoContent> RevokeAsync([AsParameters] ApiContext api, string key)
    {
        await api.Registry.RevokeKeyAsync(api.Caller, null, key, api.Aborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<Created<CreatedKey>> CreateKeyAsync(ApiContext api, string project, CreateKeyRequest body)
    {
        var issued = await api.Registry.CreateKeyAsync(api.Caller, project, body.Principal, body.Role, body.Description, api.Aborted).ConfigureAwait(false);
        return TypedResults.Created((string?)null, new CreatedKey(ApiKeyInfo.From(issued.Key), issued.Token));
    }
}

/// <summary>Maintenance for admins of every project.</summary>
internal static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/admin").WithTags("admin");
        api.MapPost("/gc", CollectAsync).RequireGlobalRole(Role.Admin);
        return app;
    }

    private static async Task<Ok<GarbageCollectionReport>> CollectAsync([AsParameters] ApiContext api, bool? dryRun, double? graceHours, double? retentionDays)
    {
        var grace = TimeSpan.FromHours(Check("graceHours", graceHours ?? 24));
        var retention = TimeSpan.FromDays(Check("retentionDays", retentionDays ?? 30));
        var report = await api.Registry.CollectGarbageAsync(api.Caller, grace, retention, dryRun ?? false, api.Aborted).ConfigureAwait(false);
        return TypedResults.Ok(new GarbageCollectionReport(report.Blobs, report.Referenced, report.Deleted, report.BytesFreed, report.KeptForGrace, dryRun ?? false));
    }

    private static double Check(string field, double value) =>
        double.IsFinite(value) && value is >= 0 and <= 100_000
            ? value
            : throw new StrataException(ErrorCodes.ArgumentInvalid, $"field '{field}' must be between 0 and 100000");
}
