using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>The audit log: a project's entries (its admins), everything and the chain check (admins of every project).</summary>
internal static class AuditApi
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var project = app.MapGroup("/api/v1/projects/{project}/audit").WithTags("audit");
        project.MapGet("/", ReadProjectAsync).RequireRole(Role.Admin);
        project.MapGet("/verify", VerifyProjectAsync).RequireRole(Role.Admin);

        var global = app.MapGroup("/api/v1/audit").WithTags("audit");
        global.MapGet("/", ReadAsync).RequireGlobalRole(Role.Admin);
        global.MapGet("/verify", VerifyAsync).RequireGlobalRole(Role.Admin);
        return app;
    }

    private static async Task<Ok<IReadOnlyList<AuditEntry>>> ReadProjectAsync([AsParameters] ApiContext api, string project, long? from, int? count) =>
        TypedResults.Ok(await api.Registry.ReadAuditAsync(api.Caller, project, from ?? 1, count ?? 100, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<AuditVerification>> VerifyProjectAsync([AsParameters] ApiContext api, string project) =>
        TypedResults.Ok(await api.Registry.VerifyAuditAsync(api.Caller, project, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<IReadOnlyList<AuditEntry>>> ReadAsync([AsParameters] ApiContext api, long? from, int? count) =>
        TypedResults.Ok(await api.Registry.ReadAuditAsync(api.Caller, null, from ?? 1, count ?? 100, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<AuditVerification>> VerifyAsync([AsParameters] ApiContext api) =>
        TypedResults.Ok(await api.Registry.VerifyAuditAsync(api.Caller, null, api.Aborted).ConfigureAwait(false));
}
