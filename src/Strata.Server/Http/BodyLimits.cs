using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Strata.Server.Http;

/// <summary>Endpoint metadata: the route accepts uploads up to the artifact limit instead of the JSON body limit.</summary>
internal sealed class ArtifactUploadMetadata
{
    public static ArtifactUploadMetadata Instance { get; } = new();
}

/// <summary>
/// Enforces a body size per route before the handler reads it: a declared length over the limit is refused at once
/// (413), and the body stream itself stops at the limit, so chunked uploads cannot slip past. Works the same on
/// Kestrel and on the test server.
/// </summary>
internal static class BodyLimits
{
    /// <summary>Lets a route take artifact-sized uploads.</summary>
    public static TBuilder AcceptsArtifactUpload<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(ArtifactUploadMetadata.Instance);

    public static IApplicationBuilder UseBodyLimits(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            var options = context.RequestServices.GetRequiredService<IOptions<StrataServerOptions>>().Value;
            var upload = context.GetEndpoint()?.Metadata.GetMetadata<ArtifactUploadMetadata>() is not null;

            // An upload may carry a little framing (multipart headers, the metadata part) around the artifact itself.
            var limit = upload ? options.MaxArtifactBytes + options.MaxRequestBodyBytes : options.MaxRequestBodyBytes;
            if (context.Request.ContentLength is { } length && length > limit)
            {
                throw new StrataException(ErrorCodes.DataLimit, $"the request body is {length} bytes; this route accepts at most {limit}");
            }

            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            {
                feature.MaxRequestBodySize = limit;
            }

            context.Request.Body = new LimitedStream(context.Request.Body, limit);
            return next(context);
        });
}
