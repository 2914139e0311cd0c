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
            var id = context.Request.Headers[Header].ToString();
            if (!IsAcceptable(id))
            {
                id = Guid.NewGuid().ToString("N");
            }

            context.TraceIdentifier = id;

            // Set as the response starts: the exception handler clears headers before writing a problem.
            context.Response.OnStarting(() =>
            {
                context.Response.Headers[Header] = id;
                return Task.CompletedTask;
            });
            return next(context);
        });

    private static bool IsAcceptable(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
