namespace Strata.Server.Http;

/// <summary>
/// Gives every request an id: the caller's <c>X-Request-Id</c> when it is a short token, else a new one. It becomes the
/// trace identifier, goes back in the <c>X-Request-Id</c> response header and in every problem document, and the audit
/// log records it beside each change.
/// </summary>
internal static class RequestIds
{
    public const string Header = "X-Request-Id";

    public static IApplicationBuilder UseRequestIds(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            var id = Assign(context);

            // Set as the response starts: the exception handler clears headers before writing a problem.
            context.Response.OnStarting(() =>
            {
                context.Response.Headers[Header] = id;
                return Task.CompletedTask;
            });
            return next(context);
        });

    /// <summary>Picks the request's id (the caller's when acceptable) and makes it the trace identifier.</summary>
    public static string Assign(HttpContext context)
    {
        var id = context.Request.Headers[Header].ToString();
        if (!IsAcceptable(id))
        {
            id = Guid.NewGuid().ToString("N");
        }

        context.TraceIdentifier = id;
        return id;
    }

    private static bool IsAcceptable(string id)
    {
        if (id.Length is 0 or > 64)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}
