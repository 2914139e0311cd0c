using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Strata.Server.Hosting;
using Strata.Server.Http;
using Strata.Server.Serving;
using Strata.Serving;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>
/// The Open Inference Protocol (KServe V2 / Triton / MLServer REST): server and model health and metadata, inference,
/// and the model-repository extension. A "model" here is an endpoint; its versions are the ones it serves. Errors are
/// the protocol's <c>{"error": "…"}</c> with a 4xx status, not problem+json.
/// </summary>
internal static class InferenceApi
{
    private static readonly string[] Extensions = ["model_repository", InferenceJson.BinaryExtension];

    public static IEndpointRouteBuilder MapInferenceApi(this IEndpointRouteBuilder app)
    {
        var v2 = app.MapGroup("/v2").WithTags("inference");
        v2.MapGet("/", ServerMetadata).RequireAnyKey();
        v2.MapMethods("/health/live", HealthApi.Probes, Live).AllowAnonymous();
        v2.MapMethods("/health/ready", HealthApi.Probes, Ready).AllowAnonymous();
        v2.MapGet("/models/{name}", ([AsParameters] ApiContext api, string name) => Guard(() => ModelMetadata(api, name, null))).RequireAnyKey();
        v2.MapGet("/models/{name}/versions/{version}", ([AsParameters] ApiContext api, string name, string version) => Guard(() => ModelMetadata(api, name, version))).RequireAnyKey();
        v2.MapGet("/models/{name}/ready", ([AsParameters] ApiContext api, string name) => Guard(() => ModelReady(api, name, null))).RequireAnyKey();
        v2.MapGet("/models/{name}/versions/{version}/ready", ([AsParameters] ApiContext api, string name, string version) => Guard(() => ModelReady(api, name, version))).RequireAnyKey();
        v2.MapPost("/models/{name}/infer", ([AsParameters] ApiContext api, string name) => GuardAsync(api.Http, () => InferAsync(api, name, null))).RequireAnyKey().WithCachedKeyCheck();
        v2.MapPost("/models/{name}/versions/{version}/infer", ([AsParameters] ApiContext api, string name, string version) => GuardAsync(api.Http, () => InferAsync(api, name, version))).RequireAnyKey().WithCachedKeyCheck();
        v2.MapPost("/repository/index", ([AsParameters] ApiContext api) => GuardAsync(api.Http, () => IndexAsync(api))).RequireAnyKey();
        v2.MapPost("/repository/models/{name}/load", ([AsParameters] ApiContext api, string name) => GuardAsync(api.Http, () => LoadAsync(api, name, load: true))).RequireAnyKey();
        v2.MapPost("/repository/models/{name}/unload", ([AsParameters] ApiContext api, string name) => GuardAsync(api.Http, () => LoadAsync(api, name, load: false))).RequireAnyKey();
        return app;
    }

    private static IResult ServerMetadata() => Results.Json(new Dictionary<string, object>
    {
        ["name"] = "strata",
        ["version"] = typeof(InferenceApi).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        ["extensions"] = Extensions,
    });

    private static IResult Live() => Results.Json(new Dictionary<string, bool> { ["live"] = true });

    /// <summary>200 when every endpoint has its models loaded; 400 (the protocol's "false") while one does not.</summary>
    private static IResult Ready(ServerState state)
    {
        var ready = state.Serving.Ready;
        return Results.Json(new Dictionary<string, bool> { ["ready"] = ready }, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }

    private static IResult ModelMetadata([AsParameters] ApiContext api, string name, string? version)
    {
        ServingApi.Authorize(api, name, Role.Viewer, InferenceJson.Naming);
        var (inputs, outputs) = api.State.Serving.Describe(name, ParseVersion(version), InferenceJson.Naming);
        return Results.Json(new Dictionary<string, object>
        {
            ["name"] = name,
            ["versions"] = api.State.Serving.Versions(name, InferenceJson.Naming).Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray(),
            ["platform"] = "strata",
            ["inputs"] = inputs.Select(i => Metadata(i.Name, InferenceJson.Datatype(i.Type, i.Kind))).ToArray(),
            ["outputs"] = outputs.Select(o => Metadata(o.Name, InferenceJson.Datatype(o.Type))).ToArray(),
        });

        static Dictionary<string, object> Metadata(string name, string datatype) => new()
        {
            ["name"] = name,
            ["datatype"] = datatype,
            ["shape"] = new[] { -1 },
        };
    }

    private static IResult ModelReady([AsParameters] ApiContext api, string name, string? version)
    {
        ServingApi.Authorize(api, name, Role.Viewer, InferenceJson.Naming);
        var number = ParseVersion(version);
        var versions = api.State.Serving.Versions(name, InferenceJson.Naming);
        var ready = number is null ? versions.Count > 0 : versions.Contains(number.Value);
        return Results.Json(new Dictionary<string, object> { ["name"] = name, ["ready"] = ready }, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }

    private static async Task<IResult> InferAsync([AsParameters] ApiContext api, string name, string? version)
    {
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        ServingApi.Authorize(api, name, Role.Viewer, InferenceJson.Naming);
        int? number;
        InferenceJson.InferRequest request;
        try
        {
            number = ParseVersion(version);
            var (inputs, outputs) = api.State.Serving.Describe(name, number, InferenceJson.Naming);
            var body = await RequestJson.ReadAllAsync(api.Http.Request.Body, api.Aborted).ConfigureAwait(false);
            var (json, binary) = InferenceJson.Split(body, api.Http.Request.Headers[InferenceJson.HeaderLengthHeader]);
            using (var document = RequestJson.Parse(json, InferenceJson.MaxDepth))
            {
                request = InferenceJson.Parse(document.RootElement, name, inputs, binary);
            }

            InferenceJson.CheckOutputs(request, outputs);
        }
        catch (Exception e)
        {
            ServingApi.CountRefused(api.State.Serving, api.Http, name, e, start);
            throw;
        }

        var predict = ServingApi.Request(api, name, request.Input, 0, number) with { Naming = request.Naming };
        var output = await api.State.Serving.PredictAsync(predict, api.Aborted).ConfigureAwait(false);
        AccessLog.Served(api.Http, output);
        var buffer = new ArrayBufferWriter<byte>(256);
        if (InferenceJson.WriteResponse(buffer, name, request.Id ?? api.Http.TraceIdentifier, output, output.Outputs, request) is { } header)
        {
            api.Http.Response.Headers[InferenceJson.HeaderLengthHeader] = header.ToString(CultureInfo.InvariantCulture);
            return Results.Bytes(buffer.WrittenMemory.ToArray(), "application/octet-stream");
        }

        return Results.Bytes(buffer.WrittenMemory.ToArray(), "application/json");
    }

    /// <summary>
    /// The repository index: every endpoint the key can see, with its state (READY or UNAVAILABLE) and the reason of its
    /// last failed load, if any (an endpoint still serving an older version is READY with the reason).
    /// </summary>
    private static async Task<IResult> IndexAsync([AsParameters] ApiContext api)
    {
        bool? onlyReady = null;
        using var document = await RequestJson.ParseOptionalObjectAsync(api.Http.Request.Body, 4, "{\"ready\": true}", api.Aborted).ConfigureAwait(false);
        if (document is not null) // the body is optional, as on Triton
        {
            if (document.RootElement.TryGetProperty("ready", out var ready))
            {
                onlyReady = ready.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'ready' must be a boolean"),
                };
            }
        }

        var entries = new List<Dictionary<string, string>>();
        foreach (var e in api.State.Serving.List().Where(e => ServingApi.Visible(api, e)))
        {
            if (onlyReady == true && !e.Ready)
            {
                continue;
            }

            var entry = new Dictionary<string, string> { ["name"] = e.Name, ["state"] = e.Ready ? "READY" : "UNAVAILABLE" };
            if (e.Champion is { } champion)
            {
                entry["version"] = champion[(champion.LastIndexOf('/') + 1)..];
            }

            // A READY endpoint may still carry a reason: a failed swap it survives on its old version, a challenger left out.
            entry["reason"] = e.Error ?? (e.Ready ? "" : "loading");
            entries.Add(entry);
        }

        return Results.Json(entries);
    }

    private static async Task<IResult> LoadAsync([AsParameters] ApiContext api, string name, bool load)
    {
        ServingApi.Authorize(api, name, Role.Deployer, InferenceJson.Naming);
        await CheckLoadParametersAsync(api, load).ConfigureAwait(false);
        if (load)
        {
            try
            {
                await api.State.Serving.LoadAsync(name, InferenceJson.Naming, api.Aborted).ConfigureAwait(false);
            }
            catch (StrataException e) when (e.Code == ErrorCodes.Conflict)
            {
                // Triton answers a model that failed to load with 400 and the reason; its clients look for that.
                throw new StrataException(ErrorCodes.ArgumentInvalid, e.Message, e);
            }
        }
        else
        {
            await api.State.Serving.UnloadAsync(name, InferenceJson.Naming, api.Aborted).ConfigureAwait(false);
        }

        return Results.Ok();
    }

    /// <summary>
    /// Reads a load or unload body: none, or <c>{"parameters": {…}}</c>. Triton's client sends <c>unload_dependents</c>
    /// with every unload (an endpoint has no dependents, so either value is met); a <c>config</c> or file override on load
    /// is refused rather than ignored, since an endpoint loads its stored deployment as it is.
    /// </summary>
    private static async Task CheckLoadParametersAsync(ApiContext api, bool load)
    {
        using var document = await RequestJson.ParseOptionalObjectAsync(api.Http.Request.Body, 4, "{\"parameters\": {}}", api.Aborted).ConfigureAwait(false);
        if (document is null)
        {
            return;
        }

        foreach (var field in document.RootElement.EnumerateObject())
        {
            if (field.Name != "parameters" || field.Value.ValueKind != JsonValueKind.Object)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, field.Name == "parameters"
                    ? "field 'parameters' must be an object"
                    : $"unknown field '{field.Name}' (known: parameters)");
            }

            foreach (var parameter in field.Value.EnumerateObject())
            {
                if (load)
                {
                    throw new StrataException(
                        ErrorCodes.ArgumentInvalid,
                        $"parameter '{parameter.Name}' cannot be applied: the model is a Strata endpoint, which loads its stored deployment (change it with PUT /v1/endpoints/{{name}})");
                }

                if (parameter.Name != "unload_dependents" || parameter.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw new StrataException(ErrorCodes.ArgumentInvalid, parameter.Name == "unload_dependents"
                        ? "parameter 'unload_dependents' must be true or false"
                        : $"unknown parameter '{parameter.Name}' (unload takes unload_dependents)");
                }
            }
        }
    }

    internal static int? ParseVersion(string? version) =>
        version is null ? null
        : !version.StartsWith('0') && int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0 ? number // "01" is no version name, as Triton reads it
        : throw new StrataException(ErrorCodes.NotFound, $"no version '{version}' (versions are whole numbers from 1)");

    private static IResult Guard(Func<IResult> handler)
    {
        try
        {
            return handler();
        }
        catch (Exception e) when (e is StrataException or JsonException or BadHttpRequestException)
        {
            return Error(e);
        }
    }

    /// <summary>Answers a handler's caller error with the protocol's error object; a client that left is the exception handler's (499).</summary>
    private static async Task<IResult> GuardAsync(HttpContext context, Func<Task<IResult>> handler)
    {
        try
        {
            return await handler().ConfigureAwait(false);
        }
        catch (Exception e) when (e is StrataException or JsonException or BadHttpRequestException && !ProblemExceptionHandler.ClientLeft(context, e))
        {
            return Error(e);
        }
    }

    /// <summary>The protocol's error object, with the status Strata gives the same error elsewhere.</summary>
    internal static IResult Error(Exception e)
    {
        var (status, _, detail) = ProblemExceptionHandler.Map(e);
        if (status >= 500 && e is not ServingRefusal)
        {
            throw e is StrataException strata ? strata : new InvalidOperationException("unexpected inference failure", e);
        }

        var headers = e is StrataException { RetryAfterSeconds: > 0 } retry ? retry.RetryAfterSeconds : 0;
        return new ErrorResult(status, detail, headers);
    }

    /// <summary>Writes <c>{"error": "…"}</c> with a status (and Retry-After for a refusal that advises one).</summary>
    private sealed class ErrorResult(int status, string message, int retryAfter) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            if (retryAfter > 0)
            {
                httpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            }

            return httpContext.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = message });
        }
    }
}
