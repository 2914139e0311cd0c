using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Strata.Api;
using Strata.Registry;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>Model versions: register from an uploaded package's digest, or upload and register in one streamed call.</summary>
internal static class VersionsApi
{
    public static IEndpointRouteBuilder MapVersionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{project}/models/{model}/versions").WithTags("versions");
        api.MapGet("/", ListAsync).RequireRole(Role.Viewer);
        api.MapPost("/", RegisterAsync).RequireRole(Role.Editor);
        api.MapPost("/upload", UploadAsync).RequireRole(Role.Editor).AcceptsArtifactUpload();
        api.MapGet("/{version}", GetAsync).RequireRole(Role.Viewer);
        api.MapGet("/{version}/package", DownloadAsync).RequireRole(Role.Viewer);
        api.MapPut("/{version}/status", SetStatusAsync).RequireRole(Role.Editor);
        api.MapGet("/{version}/lineage", LineageAsync).RequireRole(Role.Viewer);
        return app;
    }

    private static async Task<Ok<IReadOnlyList<ModelVersion>>> ListAsync([AsParameters] ApiContext api, string project, string model) =>
        TypedResults.Ok(await api.Registry.ListVersionsAsync(api.Caller, project, model, api.Aborted).ConfigureAwait(false));

    private static async Task<Created<ModelVersion>> RegisterAsync([AsParameters] ApiContext api, string project, string model, RegisterVersionRequest body)
    {
        var version = await api.Registry.RegisterVersionAsync(api.Caller, project, model, VersionRegistration.From(body), api.Aborted).ConfigureAwait(false);
        return Created(project, version);
    }

    /// <summary>
    /// multipart/form-data: a <c>metadata</c> part (JSON, a <see cref="RegisterVersionRequest"/> without the digest)
    /// first, then a <c>package</c> part streamed straight into the artifact store.
    /// </summary>
    private static async Task<Created<ModelVersion>> UploadAsync([AsParameters] ApiContext api, string project, string model, IOptions<StrataServerOptions> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
    {
        var request = api.Http.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(type.Boundary).Value is not { Length: > 0 and <= 70 } boundary)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "send multipart/form-data with a 'metadata' part (JSON) and then a 'package' part");
        }

        var reader = new MultipartReader(boundary, request.Body) { HeadersCountLimit = 16, HeadersLengthLimit = 16 * 1024 };
        var metadataSection = await reader.ReadNextSectionAsync(api.Aborted).ConfigureAwait(false);
        if (NameOf(metadataSection) != "metadata")
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'metadata': the first part must be named 'metadata' (JSON)");
        }

        RegisterVersionRequest? metadata;
        try
        {
            var limited = new LimitedStream(metadataSection!.Body, options.Value.MaxRequestBodyBytes);
            // The server's options for callers' bodies: an unknown or repeated field is refused, as in a JSON body.
            metadata = await JsonSerializer.DeserializeAsync<RegisterVersionRequest>(limited, json.Value.SerializerOptions, api.Aborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'metadata': {JsonErrors.Describe(e, "the part", json.Value.SerializerOptions.GetTypeInfo(typeof(RegisterVersionRequest)))}");
        }

        if (metadata is null || metadata.ArtifactDigest is not null)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'metadata' must be a JSON object without 'artifactDigest' (the uploaded package is the artifact)");
        }

        var packageSection = await reader.ReadNextSectionAsync(api.Aborted).ConfigureAwait(false);
        if (NameOf(packageSection) != "package")
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'package': the second part must be named 'package' (the model package's bytes)");
        }

        var version = await api.Registry.UploadVersionAsync(api.Caller, project, model, VersionRegistration.From(metadata), packageSection!.Body, api.Aborted).ConfigureAwait(false);
        return Created(project, version);
    }

    private static async Task<Ok<ModelVersion>> GetAsync([AsParameters] ApiContext api, string project, string model, int version) =>
        TypedResults.Ok(await api.Registry.GetVersionAsync(api.Caller, project, model, version, api.Aborted).ConfigureAwait(false));

    private static async Task<FileStreamHttpResult> DownloadAsync([AsParameters] ApiContext api, string project, string model, int version)
    {
        var (v, content) = await api.Registry.OpenPackageAsync(api.Caller, project, model, version, api.Aborted).ConfigureAwait(false);
        return Downloads.Blob(api.Http, content, v.ArtifactDigest, $"{model}-{version.ToString(CultureInfo.InvariantCulture)}.stpkg");
    }

    private static async Task<Ok<ModelVersion>> SetStatusAsync([AsParameters] ApiContext api, string project, string model, int version, SetVersionStatusRequest body) =>
        TypedResults.Ok(await api.Registry.SetVersionStatusAsync(api.Caller, project, model, version, body.Status, api.Aborted).ConfigureAwait(false));

    private static async Task<Ok<LineageGraph>> LineageAsync([AsParameters] ApiContext api, string project, string model, int version, string? direction, int? depth)
    {
        var upstream = direction switch
        {
            null or "upstream" => true,
            "downstream" => false,
            _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'direction' must be upstream or downstream, not '{direction}'"),
        };
        return TypedResults.Ok(await api.Registry.GetVersionLineageAsync(api.Caller, project, model, version, upstream, depth ?? 32, api.Aborted).ConfigureAwait(false));
    }

    private static string? NameOf(MultipartSection? section) =>
        section?.GetContentDispositionHeader() is { } disposition ? HeaderUtilities.RemoveQuotes(disposition.Name).Value : null;

    private static Created<ModelVersion> Created(string project, ModelVersion version) =>
        TypedResults.Created($"/api/v1/projects/{project}/models/{version.Model}/versions/{version.Version.ToString(CultureInfo.InvariantCulture)}", version);
}
