using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Security;
using Strata.Server.Http;
using Strata.Server.Serving;
using Strata.Serving;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>The key-to-endpoints limit's request body.</summary>
/// <param name="Endpoints">The endpoints the key may call (each must exist); empty lifts the limit; required.</param>
public sealed record KeyEndpointsRequest(IReadOnlyList<string>? Endpoints);

/// <summary>
/// Serving endpoints: the native predict route, and the routes that declare, show and remove deployments. An endpoint
/// belongs to a project: predicting needs a viewer of it, changing a deployment a deployer; a key limited to a set of
/// endpoints may call only those.
/// </summary>
internal static class ServingApi
{
    /// <summary>Most TreeSHAP contributions per row a request may ask for.</summary>
    public const int MaxExplain = 100;

    public static IEndpointRouteBuilder MapServingApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/endpoints").WithTags("serving");
        api.MapGet("/", List).RequireAnyKey();
        api.MapGet("/{name}", Get).RequireAnyKey();
        api.MapPut("/{name}", PutAsync).RequireAnyKey();
        api.MapDelete("/{name}", DeleteAsync).RequireAnyKey();
        api.MapPost("/{name}/predict", PredictAsync).RequireAnyKey().WithCachedKeyCheck();
        app.MapPut("/v1/keys/{key}/endpoints", SetKeyEndpointsAsync).RequireGlobalRole(Role.Admin).WithTags("serving");
        return app;
    }

    private static Ok<List<EndpointStatus>> List([AsParameters] ApiContext api) =>
        TypedResults.Ok(api.State.Serving.List().Where(e => Visible(api, e)).ToList());

    /// <summary>An endpoint the caller may see: in a project it can read, and one its key may call (as the repository index shows them).</summary>
    internal static bool Visible(ApiContext api, EndpointStatus endpoint) =>
        api.Caller.Principal.CanSee(endpoint.Deployment.Project) && api.State.Serving.KeyMayCall(api.Caller.Principal.KeyId, endpoint.Name);

    private static Ok<EndpointStatus> Get([AsParameters] ApiContext api, string name)
    {
        Authorize(api, name, Role.Viewer);
        return TypedResults.Ok(api.State.Serving.Get(name));
    }

    /// <summary>Creates or replaces a deployment (the same fields as <c>strata.yaml</c>'s endpoints, snake_case); its models load first.</summary>
    private static async Task<Ok<EndpointStatus>> PutAsync([AsParameters] ApiContext api, string name)
    {
        Names.Check("name", name);
        using var document = await RequestJson.ParseAsync(api.Http.Request.Body, 8, api.Aborted).ConfigureAwait(false);
        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(document.RootElement.GetRawText());
        }
        catch (InvalidOperationException e)
        {
            throw RequestJson.NotUtf8(e);
        }

        if (parsed is not JsonObject body)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "the body must be a deployment object (project, model, …)");
        }

        if (body["name"] is { } given && given.GetValueKind() == JsonValueKind.String && given.GetValue<string>() != name)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'name' is '{given}', but the URL names endpoint '{name}'");
        }

        body["name"] = name;
        var deployment = Deployment.FromCallerJson(body.ToJsonString());
        AccessPolicy.Require(api.Caller.Principal, deployment.Project, Role.Deployer);
        if (api.State.Serving.List().FirstOrDefault(e => e.Name == name) is { } existing)
        {
            AccessPolicy.Require(api.Caller.Principal, existing.Deployment.Project, Role.Deployer);
        }

        return TypedResults.Ok(await api.State.Serving.PutAsync(deployment, api.Caller.Actor, api.Aborted).ConfigureAwait(false));
    }

    private static async Task<NoContent> DeleteAsync([AsParameters] ApiContext api, string name)
    {
        Authorize(api, name, Role.Deployer);
        await api.State.Serving.DeleteAsync(name, api.Caller.Actor, api.Aborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<NoContent> SetKeyEndpointsAsync([AsParameters] ApiContext api, string key, KeyEndpointsRequest body)
    {
        // Only an explicit [] lifts the limit: a missing or misspelt field read as "no limit" would open every endpoint to the key.
        var endpoints = body.Endpoints ?? throw new StrataException(
            ErrorCodes.ArgumentInvalid, "field 'endpoints' is required: the endpoints the key may call, or [] to lift its limit");
        await api.State.Serving.SetKeyEndpointsAsync(key, endpoints, api.Caller.Actor, api.Aborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    /// <summary>Predicts the rows of <c>{"rows": [{…}, …]}</c>; <c>?explain=k</c> adds each row's top k TreeSHAP contributions.</summary>
    private static async Task<IResult> PredictAsync([AsParameters] ApiContext api, string name, int? explain)
    {
        var start = Stopwatch.GetTimestamp();
        Authorize(api, name, Role.Viewer);
        PredictionInput input;
        try
        {
            if (explain is < 0 or > MaxExplain)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"parameter 'explain' must be between 0 and {MaxExplain}");
            }

            using var document = await JsonDocument.ParseAsync(api.Http.Request.Body, new JsonDocumentOptions { MaxDepth = PredictJson.MaxDepth }, api.Aborted).ConfigureAwait(false);
            input = PredictJson.ParseRows(document.RootElement);
        }
        catch (Exception e)
        {
            CountRefused(api.State.Serving, api.Http, name, e, start);
            throw;
        }

        var output = await api.State.Serving.PredictAsync(Request(api, name, input, explain ?? 0, null), api.Aborted).ConfigureAwait(false);
        AccessLog.Served(api.Http, output);
        var buffer = new ArrayBufferWriter<byte>(256);
        PredictJson.WriteResponse(buffer, api.Http.TraceIdentifier, name, output);
        return TypedResults.Bytes(buffer.WrittenMemory.ToArray(), "application/json");
    }

    /// <summary>The request to the runtime, with the caller's key (rate limits are per key).</summary>
    internal static PredictionRequest Request(ApiContext api, string name, PredictionInput input, int explain, int? version) => new()
    {
        Endpoint = name,
        Input = input,
        RequestId = api.Http.TraceIdentifier,
        KeyId = api.Caller.Principal.KeyId,
        Explain = explain,
        Version = version,
        TraceParent = TraceParents.Of(api.Http.Request),
    };

    /// <summary>
    /// Counts in the serving metrics a request to an endpoint its caller may call that failed before it reached the
    /// runtime (a body it could not read or parse, an unknown output or version), with the status it is answered (or,
    /// when the client left, recorded) with: the runtime counts the rest, so every such request is counted once.
    /// </summary>
    internal static void CountRefused(ServingRuntime serving, HttpContext context, string name, Exception e, long start) =>
        serving.CountRefused(name, ProblemExceptionHandler.StatusFor(context, e), Stopwatch.GetElapsedTime(start));

    /// <summary>
    /// Checks the caller's role in the endpoint's project and the key's endpoint limit; the errors name the endpoint as
    /// <paramref name="naming"/> does (the native API's words when null; /v2 calls it a model).
    /// </summary>
    /// <exception cref="StrataException">No such endpoint (not found), or not allowed (forbidden).</exception>
    internal static Deployment Authorize(ApiContext api, string name, Role minimum, RequestNaming? naming = null) =>
        Authorize(api.State.Serving, api.Caller.Principal, name, minimum, naming);

    /// <inheritdoc cref="Authorize(ApiContext, string, Role, RequestNaming?)"/>
    internal static Deployment Authorize(ServingRuntime serving, Principal principal, string name, Role minimum, RequestNaming? naming = null)
    {
        Names.Check("name", name);
        naming ??= RequestNaming.Rows;
        var deployment = serving.GetDeployment(name, naming);
        AccessPolicy.Require(principal, deployment.Project, minimum);
        if (!serving.KeyMayCall(principal.KeyId, name))
        {
            throw new StrataException(ErrorCodes.Forbidden, $"this key may not call {naming.Named(name)} (it is limited to other {naming.EndpointNoun}s)");
        }

        return deployment;
    }
}
