using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Strata.Security;
using Strata.Server.Endpoints;
using Strata.Server.Hosting;
using Strata.Server.Http;
using Strata.Serving;
using Strata.Stores;

namespace Strata.Server.Serving;

/// <summary>
/// The inference routes' lean branch: <c>POST /v1/endpoints/{name}/predict</c> and
/// <c>POST /v2/models/{name}[/versions/{v}]/infer</c> are answered ahead of the general pipeline, because at tens of
/// thousands of requests a second its routing, endpoint metadata, per-request service scope, body stream wrapper and
/// response copy cost more than the prediction. It does the same steps in one place: request id, HTTP metrics under
/// the same route labels, the cached key check, the endpoint's access check, the body limit, and the same errors
/// (problem+json; the protocol's <c>{"error"}</c> on <c>/v2</c>). Anything unusual — a query string (<c>?explain=</c>),
/// an escaped or non-canonical path, a name the name rules refuse — goes the general way, which answers alike.
/// </summary>
internal sealed class InferenceFastPath
{
    /// <summary>The route labels, as the general pipeline derives them from the mapped patterns.</summary>
    internal const string PredictRoute = "/v1/endpoints/{name}/predict";

    internal const string InferRoute = "/v2/models/{name}/infer";

    internal const string InferVersionRoute = "/v2/models/{name}/versions/{version}/infer";

    private const int MaxKeptBuffer = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static string? t_name;

    private readonly ServerState _state;
    private readonly ServerMetrics _metrics;
    private readonly ProblemExceptionHandler _problems;
    private readonly long _limit;
    private readonly RouteMetrics _predict;
    private readonly RouteMetrics _infer;
    private readonly RouteMetrics _inferVersion;
    private readonly AccessLog _access;

    public InferenceFastPath(IServiceProvider services)
    {
        _state = services.GetRequiredService<ServerState>();
        _metrics = services.GetRequiredService<ServerMetrics>();
        _problems = services.GetServices<IExceptionHandler>().OfType<ProblemExceptionHandler>().Single();
        _limit = services.GetRequiredService<IOptions<StrataServerOptions>>().Value.MaxRequestBodyBytes;
        _predict = new RouteMetrics(_metrics, PredictRoute);
        _infer = new RouteMetrics(_metrics, InferRoute);
        _inferVersion = new RouteMetrics(_metrics, InferVersionRoute);
        _access = services.GetRequiredService<AccessLog>();
    }

    /// <summary>A matched inference request: the endpoint, and for <c>/v2</c> whether and which version it names.</summary>
    internal readonly record struct Match(bool Infer, string Name, string? Version);

    /// <summary>True when the request is one of the inference routes in its plain form.</summary>
    public static bool TryMatch(HttpContext context, out Match match)
    {
        match = default;
        var request = context.Request;
        var path = request.Path.Value;
        if (path is null || !HttpMethods.IsPost(request.Method) || request.QueryString.HasValue || request.PathBase.HasValue)
        {
            return false;
        }

        // The raw target must be the path as routed: no escapes, no dot segments the server would normalize away.
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (!string.IsNullOrEmpty(raw) && !string.Equals(raw, path, StringComparison.Ordinal))
        {
            return false;
        }

        var span = path.AsSpan();
        // NOTE: the length checks keep the prefix and suffix from overlapping ("/v1/endpoints/predict").
        if (span.Length > "/v1/endpoints//predict".Length && span.StartsWith("/v1/endpoints/") && span.EndsWith("/predict"))
        {
            var name = Name(span["/v1/endpoints/".Length..^"/predict".Length]);
            return Names.IsValid(name) && Set(out match, new Match(false, name, null));
        }

        if (span.Length > "/v2/models//infer".Length && span.StartsWith("/v2/models/") && span.EndsWith("/infer"))
        {
            var rest = span["/v2/models/".Length..^"/infer".Length];
            var slash = rest.IndexOf('/');
            if (slash < 0)
            {
                var whole = Name(rest);
                return Names.IsValid(whole) && Set(out match, new Match(true, whole, null));
            }

            var name = Name(rest[..slash]);
            var tail = rest[slash..];
            if (tail.StartsWith("/versions/") && Names.IsValid(name))
            {
                var version = tail["/versions/".Length..];
                return version.Length > 0 && version.IndexOf('/') < 0 && Set(out match, new Match(true, name, version.ToString()));
            }
        }

        return false;
    }

    /// <summary>A name from the path: the thread's last one when it is the same (a client sends to one endpoint), else a new string.</summary>
    private static string Name(ReadOnlySpan<char> text)
    {
        var last = t_name;
        return last is not null && text.SequenceEqual(last) ? last : t_name = text.ToString();
    }

    /// <summary>Answers a matched request completely (the rest of the pipeline never sees it).</summary>
    public async Task HandleAsync(HttpContext context, Match match)
    {
        var start = Stopwatch.GetTimestamp();
        var route = !match.Infer ? _predict : match.Version is null ? _infer : _inferVersion;
        var inFlight = _metrics.InFlight.Unlabelled;
        inFlight.Inc();
        var failed = false;
        try
        {
            var id = RequestIds.Assign(context);
            context.Response.Headers[RequestIds.Header] = id;
            try
            {
                await (match.Infer ? InferAsync(context, id, match, start) : PredictAsync(context, id, match.Name, start)).ConfigureAwait(false);
            }
            catch (Exception e) when (ProblemExceptionHandler.ClientLeft(context, e))
            {
                // The client left (an abort, or a body cut short): 499 as the exception handler says, unless the answer
                // had started (its status was sent).
                if (!context.Response.HasStarted)
                {
                    context.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
                }
            }
            catch (Exception e) when (!context.Response.HasStarted)
            {
                context.Response.Clear();
                context.Response.Headers[RequestIds.Header] = id;
                if (!await _problems.TryHandleAsync(context, e, context.RequestAborted).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }
        catch
        {
            failed = true;
            throw;
        }
        finally
        {
            inFlight.Dec();
            route.Record(HttpMethods.Post, failed ? StatusCodes.Status500InternalServerError : context.Response.StatusCode, start);
            _access.Record(context, route.Route, match.Name, failed, start);
        }
    }

    private async Task PredictAsync(HttpContext context, string id, string name, long start)
    {
        var serving = _state.Serving;
        var principal = await AuthenticateAsync(serving, context).ConfigureAwait(false);
        AccessLog.Caller(context, principal);
        CheckLength(context.Request);
        ServingApi.Authorize(serving, principal, name, Role.Viewer);
        var reader = context.Request.BodyReader;
        PredictionInput input;
        try
        {
            var body = await ReadBodyAsync(reader, context.RequestAborted).ConfigureAwait(false);
            try
            {
                if (!PredictJson.TryParseRows(body.Buffer, out var parsed))
                {
                    using var document = JsonDocument.Parse(body.Buffer, new JsonDocumentOptions { MaxDepth = PredictJson.MaxDepth });
                    parsed = PredictJson.ParseRows(document.RootElement);
                }

                input = parsed;
            }
            finally
            {
                reader.AdvanceTo(body.Buffer.End);
            }
        }
        catch (Exception e)
        {
            ServingApi.CountRefused(serving, context, name, e, start);
            throw;
        }

        var output = await serving.PredictAsync(Request(context, name, input, id, principal, null, null), context.RequestAborted).ConfigureAwait(false);
        AccessLog.Served(context, output);
        var buffer = Buffer();
        PredictJson.WriteResponse(buffer, id, name, output);
        await SendAsync(context, buffer).ConfigureAwait(false);
    }

    private async Task InferAsync(HttpContext context, string id, Match match, long start)
    {
        var serving = _state.Serving;
        var principal = await AuthenticateAsync(serving, context).ConfigureAwait(false);
        AccessLog.Caller(context, principal);
        CheckLength(context.Request);
        IResult? error = null;
        try
        {
            ServingApi.Authorize(serving, principal, match.Name, Role.Viewer, InferenceJson.Naming);
            int? number;
            InferenceJson.InferRequest request;
            try
            {
                number = InferenceApi.ParseVersion(match.Version);
                var (inputs, outputs) = serving.Describe(match.Name, number, InferenceJson.Naming);
                var reader = context.Request.BodyReader;
                var body = await ReadBodyAsync(reader, context.RequestAborted).ConfigureAwait(false);
                try
                {
                    var (json, binary) = InferenceJson.Split(body.Buffer, context.Request.Headers[InferenceJson.HeaderLengthHeader]);
                    using var document = RequestJson.Parse(json, InferenceJson.MaxDepth);
                    request = InferenceJson.Parse(document.RootElement, match.Name, inputs, binary);
                }
                finally
                {
                    reader.AdvanceTo(body.Buffer.End);
                }

                InferenceJson.CheckOutputs(request, outputs);
            }
            catch (Exception e)
            {
                ServingApi.CountRefused(serving, context, match.Name, e, start);
                throw;
            }

            var output = await serving.PredictAsync(Request(context, match.Name, request.Input, id, principal, number, request.Naming), context.RequestAborted).ConfigureAwait(false);
            AccessLog.Served(context, output);
            var buffer = Buffer();
            var header = InferenceJson.WriteResponse(buffer, match.Name, request.Id ?? id, output, output.Outputs, request);
            await SendAsync(context, buffer, header).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StrataException or JsonException or BadHttpRequestException && !context.Response.HasStarted && !ProblemExceptionHandler.ClientLeft(context, e))
        {
            error = InferenceApi.Error(e); // the protocol's error object; a server fault is rethrown and becomes a problem
        }

        if (error is not null)
        {
            await error.ExecuteAsync(context).ConfigureAwait(false);
        }
    }

    private static PredictionRequest Request(
        HttpContext context, string name, PredictionInput input, string id, Principal principal, int? version, RequestNaming? naming) => new()
    {
        Endpoint = name,
        Input = input,
        RequestId = id,
        KeyId = principal.KeyId,
        Version = version,
        Naming = naming,
        TraceParent = TraceParents.Of(context.Request),
    };

    /// <summary>
    /// Authenticates the request's key, remembering the answer on the connection: a client sends the same key on every
    /// request of a keep-alive connection, and hashing it each time was 2% of the route's CPU. The key is compared in
    /// fixed time (a proxy may carry several clients' requests on one connection), and the answer is dropped when the
    /// keys change.
    /// </summary>
    private static async ValueTask<Principal> AuthenticateAsync(ServingRuntime serving, HttpContext context)
    {
        // The header as sent is compared, not the key cut out of it: the same client sends the same header every time.
        string? header = context.Request.Headers.Authorization;
        var state = context.Features.Get<IPersistentStateFeature>()?.State;
        var generation = serving.KeyGeneration;
        if (header is { Length: > 0 } && state is not null && state.TryGetValue(typeof(ConnectionKey), out var kept)
            && kept is ConnectionKey known && known.Generation == generation && known.Matches(header))
        {
            return known.Principal;
        }

        var token = ApiKeys.FromAuthorizationHeader(header);
        var principal = await serving.AuthenticateAsync(token, context.RequestAborted).ConfigureAwait(false);
        if (token is { Length: > 0 } && state is not null)
        {
            state[typeof(ConnectionKey)] = new ConnectionKey(header!, principal, generation);
        }

        return principal;
    }

    /// <summary>The authorization header a connection last authenticated with, and who it was.</summary>
    private sealed record ConnectionKey(string Header, Principal Principal, int Generation)
    {
        // NOTE: Kestrel hands out the same string when a connection's next request sends the same header bytes (its own
        // comparison of them is the only one that tells), so the same reference needs no comparison of the text.
        public bool Matches(string header) =>
            ReferenceEquals(Header, header) || System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(Header.AsSpan()), System.Runtime.InteropServices.MemoryMarshal.AsBytes(header.AsSpan()));
    }

    private void CheckLength(HttpRequest request)
    {
        if (request.ContentLength is { } length && length > _limit)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"the request body is {length} bytes; this route accepts at most {_limit}");
        }
    }

    /// <summary>Reads the whole body, refusing it once it passes the limit; the caller advances the reader past it.</summary>
    private async ValueTask<ReadResult> ReadBodyAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.Buffer.Length > _limit)
            {
                reader.AdvanceTo(result.Buffer.Start);
                throw new StrataException(ErrorCodes.DataLimit, $"the request body is larger than this route accepts ({_limit} bytes)");
            }

            if (result.IsCompleted)
            {
                return result;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>This thread's response buffer, emptied; used synchronously, then copied to the response.</summary>
    private static ArrayBufferWriter<byte> Buffer()
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        return buffer;
    }

    /// <summary>Sends the buffer as the answer: JSON, or with <paramref name="binaryHeader"/> the JSON's length ahead of binary tensor data.</summary>
    private static Task SendAsync(HttpContext context, ArrayBufferWriter<byte> buffer, int? binaryHeader = null)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = binaryHeader is null ? "application/json" : "application/octet-stream";
        if (binaryHeader is { } length)
        {
            response.Headers[InferenceJson.HeaderLengthHeader] = length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        response.ContentLength = buffer.WrittenCount;
        response.BodyWriter.Write(buffer.WrittenSpan); // copied into the response's own buffers before anything awaits
        if (buffer.Capacity > MaxKeptBuffer)
        {
            t_buffer = null; // one large answer does not pin its buffer to the thread
        }

        var flush = response.BodyWriter.FlushAsync(context.RequestAborted);
        return flush.IsCompletedSuccessfully ? Task.CompletedTask : flush.AsTask();
    }

    private static bool Set(out Match match, Match value)
    {
        match = value;
        return true;
    }
}

/// <summary>Puts the inference routes' lean branch in front of the general pipeline.</summary>
internal static class InferenceFastPathExtensions
{
    public static IApplicationBuilder UseInferenceFastPath(this IApplicationBuilder app)
    {
        var fast = new InferenceFastPath(app.ApplicationServices);
        return app.Use(next => context => InferenceFastPath.TryMatch(context, out var match) ? fast.HandleAsync(context, match) : next(context));
    }
}
