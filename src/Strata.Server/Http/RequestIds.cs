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
            id = NewId();
        }

        context.TraceIdentifier = id;
        return id;
    }

    private const int PoolBytes = 4096;

    [ThreadStatic]
    private static byte[]? t_pool;

    [ThreadStatic]
    private static int t_used;

    /// <summary>
    /// 32 lowercase hex digits from 128 cryptographically random bits, the shape of <c>Guid.ToString("N")</c> and of a
    /// W3C trace id.
    /// </summary>
    /// <remarks>
    /// Ids stay unguessable (feedback names a prediction by its id), but the random bits are drawn 4 KiB at a time per
    /// thread: a GUID per request, one call into the system's generator each, was 4% of the predict route's CPU.
    /// </remarks>
    internal static string NewId()
    {
        var pool = t_pool;
        if (pool is null || t_used > PoolBytes - 16)
        {
            pool = t_pool ??= new byte[PoolBytes];
            System.Security.Cryptography.RandomNumberGenerator.Fill(pool);
            t_used = 0;
        }

        var id = Convert.ToHexStringLower(pool, t_used, 16);
        pool.AsSpan(t_used, 16).Clear(); // an id's bits are not left behind for anything else to read
        t_used += 16;
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
