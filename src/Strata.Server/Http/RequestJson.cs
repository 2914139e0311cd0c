using System.Buffers;
using System.Text.Json;
using Strata.Api;

namespace Strata.Server.Http;

/// <summary>
/// Reads a caller's JSON body into a document, refusing a field repeated in one object: of two values the server
/// would read one and the caller may have meant the other (typed bodies refuse it through the server's JSON options).
/// </summary>
internal static class RequestJson
{
    /// <summary>Parses <paramref name="body"/>, which the document may keep using until it is disposed.</summary>
    /// <exception cref="StrataException">A field appears twice in one object (naming its path); a field name that is not UTF-8.</exception>
    /// <exception cref="JsonException">Malformed JSON, or deeper than <paramref name="maxDepth"/>.</exception>
    public static JsonDocument Parse(ReadOnlySequence<byte> body, int maxDepth)
    {
        try
        {
            return JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = maxDepth, AllowDuplicateProperties = false });
        }
        catch (JsonException e) when (JsonErrors.IsRepeatedField(e))
        {
            // Only a refused body pays for a second read, which finds where the field is.
            using var lenient = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = maxDepth });
            var field = JsonErrors.RepeatedField(lenient.RootElement);
            throw new StrataException(ErrorCodes.ArgumentInvalid, field is null ? JsonErrors.Describe(e, "the request body") : $"field '{field}' appears more than once", e);
        }
        catch (InvalidOperationException e)
        {
            // The repeated-field check unescapes names as it parses, so a name with a lone surrogate escape fails here.
            throw NotUtf8(e);
        }
    }

    /// <summary>
    /// The 400 (<c>data.encoding</c>) for text that is not UTF-8: a raw byte such as 0xFF, or an escaped lone surrogate
    /// (<c>"\ud800"</c>). The JSON reader finds either only when a string is read, as an <see cref="InvalidOperationException"/>.
    /// </summary>
    public static StrataException NotUtf8(Exception e) => new(ErrorCodes.DataEncoding, "the body holds text that is not valid UTF-8", e);

    /// <summary>Reads the whole body (its route's size limit applies to the stream), then parses it.</summary>
    public static async Task<JsonDocument> ParseAsync(Stream body, int maxDepth, CancellationToken cancellationToken) =>
        Parse(await ReadAllAsync(body, cancellationToken).ConfigureAwait(false), maxDepth);

    /// <summary>
    /// An optional object body: null when the body is empty (a bare <c>curl -X POST</c> sends none, nor a Content-Length);
    /// a 400 showing <paramref name="example"/> when it is JSON but not an object.
    /// </summary>
    public static async Task<JsonDocument?> ParseOptionalObjectAsync(Stream body, int maxDepth, string example, CancellationToken cancellationToken)
    {
        var bytes = await ReadAllAsync(body, cancellationToken).ConfigureAwait(false);
        if (bytes.IsEmpty)
        {
            return null;
        }

        var document = Parse(bytes, maxDepth);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"the body must be an object, e.g. {example}");
        }

        return document;
    }

    /// <summary>The whole body in memory (its route's size limit applies to the stream).</summary>
    public static async Task<ReadOnlySequence<byte>> ReadAllAsync(Stream body, CancellationToken cancellationToken)
    {
        using var copy = new MemoryStream(); // its buffer outlives it: disposing a MemoryStream keeps the array
        await body.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
        return new ReadOnlySequence<byte>(copy.GetBuffer(), 0, (int)copy.Length);
    }
}
