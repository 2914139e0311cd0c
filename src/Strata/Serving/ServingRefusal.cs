namespace Strata.Serving;

/// <summary>
/// A request the endpoint refuses to protect itself (too many waiting, a key over its rate, out of time): not the
/// caller's mistake in the request, and not a failure either, so it carries the status and the wait to suggest.
/// </summary>
public sealed class ServingRefusal : StrataException
{
    /// <summary>Too many requests are waiting: 503, retry shortly.</summary>
    public const string OverloadedCode = "serving.overloaded";

    /// <summary>The key is over its rate: 429.</summary>
    public const string RateLimitedCode = "serving.rate_limited";

    /// <summary>The request ran out of time: 504.</summary>
    public const string TimeoutCode = "serving.timeout";

    /// <summary>The endpoint has no model ready (still loading, or its model failed to load): 503.</summary>
    public const string UnavailableCode = "serving.unavailable";

    /// <summary>Creates a refusal.</summary>
    public ServingRefusal(string code, int status, int retryAfterSeconds, string message)
        : base(code, message)
    {
        Status = status;
        RetryAfterSeconds = retryAfterSeconds;
    }

    /// <summary>The HTTP status that says it: 429, 503 or 504.</summary>
    public int Status { get; }

    /// <inheritdoc />
    public override bool IsCallerError => false;

    // Each names the endpoint as the request's API calls it (naming).
    internal static ServingRefusal Overloaded(string endpoint, int maxConcurrency, int maxQueue, RequestNaming naming) =>
        new(OverloadedCode, 503, 1, $"{naming.Named(endpoint)} is at its limit of requests in progress and waiting (limits.max_concurrency {maxConcurrency}, limits.max_queue {maxQueue}); retry shortly");

    internal static ServingRefusal RateLimited(string endpoint, double rate, double burst, int retryAfter, RequestNaming naming) =>
        new(RateLimitedCode, 429, retryAfter, FormattableString.Invariant(
            $"this key is over its rate limit on {naming.Named(endpoint)} (limits.rate_per_second {rate}, burst {burst}); retry in {retryAfter} s"));

    internal static ServingRefusal Timeout(string endpoint, int milliseconds, RequestNaming naming) =>
        new(TimeoutCode, 504, 0, $"{naming.Named(endpoint)} did not answer within its limit of {milliseconds} ms");

    internal static ServingRefusal Unavailable(string endpoint, string why, RequestNaming naming) =>
        new(UnavailableCode, 503, 5, $"{naming.Named(endpoint)} has no {naming.ServedNoun} ready: {why}");
}
