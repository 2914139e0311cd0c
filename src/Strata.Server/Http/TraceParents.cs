using System.Diagnostics;
using Strata.Serving;

namespace Strata.Server.Http;

/// <summary>
/// Reads the caller's W3C trace context (<c>traceparent</c>, <c>tracestate</c>) for the prediction span. ASP.NET Core's
/// request Activity, which would carry it, is off (it cost more than a prediction; see StrataServer's logging), and the
/// inference fast path runs outside it anyway, so the inference routes read the headers themselves.
/// </summary>
internal static class TraceParents
{
    /// <summary>
    /// The remote parent a request's <c>strata.predict</c> span starts under; default when nothing listens to the
    /// serving spans (the headers are then not even looked up), when there is an Activity already (ASP.NET Core's, with
    /// its diagnostics turned on: it read the same headers), or when the header is missing or malformed.
    /// </summary>
    public static ActivityContext Of(HttpRequest request)
    {
        if (!ServingTelemetry.IsTracing || Activity.Current is not null)
        {
            return default;
        }

        // A request with more than one traceparent is invalid (W3C Trace Context); several tracestate lines are one list.
        var headers = request.Headers;
        var parent = headers.TraceParent;
        if (parent.Count != 1)
        {
            return default;
        }

        var state = headers.TraceState;
        return ActivityContext.TryParse(parent[0], state.Count == 0 ? null : state.ToString(), isRemote: true, out var context) ? context : default;
    }
}
