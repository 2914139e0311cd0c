namespace Strata.Client;

/// <summary>
/// An error the server answered with (RFC 9457 problem+json): the same stable <see cref="StrataException.Code"/> the
/// engine would have thrown, plus the HTTP status and the request id to quote when reporting it.
/// </summary>
public sealed class StrataApiException : StrataException
{
    /// <summary>Creates the error from a server's answer.</summary>
    public StrataApiException(string code, string message, int status, string? requestId, Exception? innerException = null)
        : base(code, message, innerException)
    {
        Status = status;
        RequestId = requestId;
    }

    /// <summary>The HTTP status.</summary>
    public int Status { get; }

    /// <summary>The server's id for the request (also in its audit log and logs).</summary>
    public string? RequestId { get; }
}
