using Microsoft.AspNetCore.Http.HttpResults;

namespace Strata.Server.Endpoints;

/// <summary>Streams a verified blob with its digest, so a client can check what it received.</summary>
internal static class Downloads
{
    public const string DigestHeader = "X-Strata-Digest";

    public static FileStreamHttpResult Blob(HttpContext http, Stream content, string digest, string logicalPath)
    {
        http.Response.Headers[DigestHeader] = digest;

        // The logical path passed the name rules (ASCII letters, digits, '-', '_', '.', '/'), so it is safe in a header.
        var name = logicalPath[(logicalPath.LastIndexOf('/') + 1)..];
        return TypedResults.Stream(content, "application/octet-stream", name);
    }
}
