using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Strata.Api;

namespace Strata.Server.Http;

/// <summary>
/// Turns every exception into RFC 9457 problem+json: a <see cref="StrataException"/>'s stable code picks the status
/// (the caller's mistakes are 4xx), request-reading failures (bad JSON, a wrong content type, a body too large) are
/// 4xx, and anything unexpected is a 500 that names the request id but nothing of the server's internals.
/// </summary>
internal sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    /// <summary>The code of a 503 while the metadata store does not answer (PostgreSQL down, a connection refused).</summary>
    internal const string Unavailable = "unavailable";

    /// <summary>
    /// Kestrel's message for a request body that ended before its declared length (Content-Length, or a chunked body
    /// without its last chunk): the client closed the connection mid-body. Its reason code is internal, and a malformed
    /// chunk is a 400 of the same type, so the message is what tells them apart (ASP.NET Core ships it in English only).
    /// </summary>
    internal const string BodyEndedEarly = "Unexpected end of request content.";

    // SQLSTATE lock_not_available: a statement waited for a lock longer than the session's lock_timeout allows.
    private const string LockNotAvailable = "55P03";

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (ClientLeft(httpContext, exception))
        {
            // Nobody is left to read an answer: recorded as 499 (client closed request), as an abort is, not as a 400.
            httpContext.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
            return true;
        }

        var (status, code, detail) = Map(exception, exception is JsonException or BadHttpRequestException { InnerException: JsonException } ? BodyType(httpContext) : null, Operation(httpContext));
        // A refusal under load (503, 504) is counted in the metrics and the access log; a stack trace for each would grow
        // the log fastest exactly while the server sheds load. So would one per request while the metadata store is down.
        if (IsLockTimeout(exception))
        {
            httpContext.Response.Headers.RetryAfter = StrataException.LockBusyRetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (exception is DbException { IsTransient: true })
        {
            LogStoreUnavailable(logger, httpContext.TraceIdentifier, exception.Message);
            httpContext.Response.Headers.RetryAfter = "1";
        }
        else if (status >= 500 && exception is not Strata.Serving.ServingRefusal)
        {
            LogUnexpected(logger, exception, httpContext.TraceIdentifier);
        }

        if (status == StatusCodes.Status401Unauthorized)
        {
            httpContext.Response.Headers.WWWAuthenticate = "Bearer";
        }

        // A refusal under load, or a conflict that passes (a feature view another replica holds for its merge).
        if (exception is StrataException { RetryAfterSeconds: > 0 } retry)
        {
            httpContext.Response.Headers.RetryAfter = retry.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        httpContext.Response.StatusCode = status;
        var problem = new ProblemDetails
        {
            Status = status,
            Detail = detail,
            Extensions = { ["code"] = code },

            // ASP.NET gives every status a client error maps to a type but 429: RFC 6585 defines it.
            Type = status == StatusCodes.Status429TooManyRequests ? "https://tools.ietf.org/html/rfc6585#section-4" : null,
        };
        if (exception is Strata.Serving.InputProblemsException { Problems: var list })
        {
            problem.Extensions["errors"] = list; // every field that does not fit, one entry each
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = problem,
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// The route's body type, so a JSON error can say what a field of it must be: looked up only for those (a refusal
    /// under overload takes this path too). The exception handler middleware has cleared the endpoint from the context
    /// by now; its feature keeps it.
    /// </summary>
    private JsonTypeInfo? BodyType(HttpContext httpContext)
    {
        var endpoint = httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? httpContext.GetEndpoint();
        return endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType is { } type ? json.Value.SerializerOptions.GetTypeInfo(type) : null;
    }

    /// <summary>
    /// True when the exception means the client went away: the request was aborted, the connection was reset, or the
    /// body ended before its declared length. Kestrel reports that last one as a 400 <see cref="BadHttpRequestException"/>
    /// when the connection's input ends, usually before it cancels <see cref="HttpContext.RequestAborted"/>.
    /// </summary>
    internal static bool ClientLeft(HttpContext context, Exception exception) =>
        exception is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested
        || exception is Microsoft.AspNetCore.Connections.ConnectionResetException
        || exception is BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest, Message: BodyEndedEarly };

    /// <summary>The status a failed request is answered (or, when the client left, recorded) with.</summary>
    internal static int StatusFor(HttpContext context, Exception exception) =>
        ClientLeft(context, exception) ? StatusCodes.Status499ClientClosedRequest : Map(exception).Status;

    /// <summary>
    /// The status, stable code and message for an exception; <paramref name="body"/> is the type the request's body was
    /// read as, when known, and <paramref name="operation"/> names the request (method and path) where a message needs it.
    /// </summary>
    internal static (int Status, string Code, string Detail) Map(Exception exception, JsonTypeInfo? body = null, string? operation = null) => exception switch
    {
        Strata.Serving.ServingRefusal e => (e.Status, e.Code, e.Message),
        StrataException e when e.IsCallerError => (StatusOf(e.Code), e.Code, e.Message),
        StrataException e => (StatusCodes.Status500InternalServerError, e.Code, "the server failed to do this; the request id identifies it in the server's log"),

        // A lock wait cut short by the database's lock_timeout (set on the connection string, role or database) outside
        // the stores' own bounded waits: another replica or process holds the lock while its work goes on, so it passes.
        // Npgsql counts it transient, which answered it as a 503 saying the metadata store did not answer.
        DbException e when IsLockTimeout(e) => (
            StatusCodes.Status409Conflict,
            ErrorCodes.Conflict,
            $"{operation ?? "the request"} waited for a lock that another server replica or process holds longer than the database's lock_timeout allows, and was stopped; retry shortly"),
        DbException { IsTransient: true } => (StatusCodes.Status503ServiceUnavailable, Unavailable, "the metadata store does not answer; retry shortly"),
        BadHttpRequestException e when e.StatusCode == StatusCodes.Status413PayloadTooLarge => (e.StatusCode, ErrorCodes.DataLimit, "the request body is larger than this route accepts"),
        BadHttpRequestException e => (e.StatusCode, ErrorCodes.ArgumentInvalid, Describe(e, body)),
        JsonException e => (StatusCodes.Status400BadRequest, ErrorCodes.ArgumentInvalid, JsonErrors.Describe(e, "the request body", body)),
        _ => (StatusCodes.Status500InternalServerError, "internal", "an unexpected error occurred; the request id identifies it in the server's log"),
    };

    /// <summary>A database statement stopped by <c>lock_timeout</c> (SQLSTATE 55P03).</summary>
    private static bool IsLockTimeout(Exception exception) => exception is DbException { SqlState: LockNotAvailable };

    /// <summary>The request as its method and path (no query: it may carry what the access log leaves out).</summary>
    private static string Operation(HttpContext context) => $"{ServerMetrics.Method(context.Request.Method)} {context.Request.Path}";

    /// <summary>
    /// Fills in the code and message of a problem the framework answers on its own (an unknown path, a wrong method or
    /// content type), which would otherwise carry a bare title, unlike every other error a client gets.
    /// </summary>
    internal static void DescribeStatus(HttpContext context, ProblemDetails problem)
    {
        if (problem.Extensions.ContainsKey("code"))
        {
            return;
        }

        var allowed = context.Response.Headers.Allow.ToString();
        (string Code, string Detail)? described = (problem.Status ?? context.Response.StatusCode) switch
        {
            StatusCodes.Status404NotFound => (ErrorCodes.NotFound, "no route answers this path"),
            StatusCodes.Status405MethodNotAllowed => (ErrorCodes.ArgumentInvalid, $"this route does not take {ServerMetrics.Method(context.Request.Method)}{(allowed.Length > 0 ? $" (it takes {allowed})" : "")}"),
            StatusCodes.Status415UnsupportedMediaType => (ErrorCodes.ArgumentInvalid, "this route takes a JSON body (Content-Type: application/json)"),
            _ => null,
        };
        if (described is { } d)
        {
            problem.Extensions["code"] = d.Code;
            problem.Detail ??= d.Detail;
        }
    }

    /// <summary>The HTTP status of a stable error code.</summary>
    internal static int StatusOf(string code) => code switch
    {
        ErrorCodes.DataLimit => StatusCodes.Status413PayloadTooLarge,
        ErrorCodes.Unauthorized => StatusCodes.Status401Unauthorized,
        ErrorCodes.Forbidden => StatusCodes.Status403Forbidden,
        ErrorCodes.NotFound => StatusCodes.Status404NotFound,
        ErrorCodes.Conflict => StatusCodes.Status409Conflict,
        _ when ErrorCodes.IsCallerError(code) => StatusCodes.Status400BadRequest,
        _ => StatusCodes.Status500InternalServerError,
    };

    // Binding failures say which parameter and, for JSON, where in the body; both are the caller's own input.
    private static string Describe(BadHttpRequestException e, JsonTypeInfo? body) =>
        e.InnerException is JsonException json ? JsonErrors.Describe(json, "the request body", body)
        : e.Message.Contains("no body was provided", StringComparison.Ordinal) ? "the request body is empty; this route takes a JSON object"
        : Parameter(e.Message) ?? e.Message;

    /// <summary>
    /// A query or route value of the wrong type, in the caller's terms: the framework's message names the .NET type
    /// (<c>Failed to bind parameter "Nullable&lt;int&gt; explain" from "abc".</c>), this one what the value must be.
    /// </summary>
    internal static string? Parameter(string message)
    {
        var match = BindFailure().Match(message);
        if (!match.Success)
        {
            return null;
        }

        var expected = ValueWords.Of(match.Groups["type"].Value);
        if (expected is null)
        {
            return null;
        }

        var value = match.Groups["value"].Value;
        return $"parameter '{match.Groups["name"].Value}' must be {expected}, not \"{(value.Length > 64 ? value[..63] + "…" : value)}\"";
    }

    [GeneratedRegex("^Failed to bind parameter \"(?<type>[^\"]+) (?<name>[^\" ]+)\" from \"(?<value>.*)\"\\.$", RegexOptions.Singleline)]
    private static partial Regex BindFailure();

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected failure of request {RequestId}")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} refused: the metadata store does not answer ({Reason})")]
    private static partial void LogStoreUnavailable(ILogger logger, string requestId, string reason);
}
