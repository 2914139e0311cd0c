using Microsoft.AspNetCore.WebUtilities;

namespace Strata.Server.Http;

/// <summary>
/// Writes the Open Inference Protocol's <c>{"error": "…"}</c> for every error under <c>/v2</c> that the pipeline answers
/// before a route's own handler can: a missing key, a body over the limit, an unknown query parameter, a wrong method,
/// an unknown route. The protocol's clients read that object, not problem+json; status and headers stay as they are.
/// </summary>
internal sealed class InferenceProblemWriter : IProblemDetailsWriter
{
    /// <summary>True for the protocol's paths: <c>/v2</c> and below, in any case, as routing matches them (<c>/V2/…</c> is served too).</summary>
    public static bool IsProtocolPath(PathString path) => path.StartsWithSegments("/v2", StringComparison.OrdinalIgnoreCase);

    public bool CanWrite(ProblemDetailsContext context) => IsProtocolPath(context.HttpContext.Request.Path);

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var response = context.HttpContext.Response;
        var problem = context.ProblemDetails;
        ProblemExceptionHandler.DescribeStatus(context.HttpContext, problem);
        var message = problem.Detail ?? problem.Title ?? ReasonPhrases.GetReasonPhrase(response.StatusCode);
        return new ValueTask(response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = message }));
    }
}
