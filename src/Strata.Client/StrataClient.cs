using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Strata.Api;

namespace Strata.Client;

/// <summary>
/// A typed client of the Strata server's API (<c>/api/v1</c>). Every method is async and passes its cancellation token
/// on; an error answer throws <see cref="StrataApiException"/> carrying the server's stable code and message. Names are
/// sent as escaped path segments, so a name can never change which route is called.
/// </summary>
public sealed partial class StrataClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly AuthenticationHeaderValue? _authorization;

    /// <summary>Uses <paramref name="http"/> (its <see cref="HttpClient.BaseAddress"/> is the server) with an API key.</summary>
    public StrataClient(HttpClient http, string? apiKey = null)
        : this(http, apiKey, ownsHttp: false)
    {
    }

    private StrataClient(HttpClient http, string? apiKey, bool ownsHttp)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.BaseAddress is null)
        {
            throw new ArgumentException("the HttpClient needs a BaseAddress (the server's URL)", nameof(http));
        }

        _http = http;
        _ownsHttp = ownsHttp;
        _authorization = string.IsNullOrEmpty(apiKey) ? null : new AuthenticationHeaderValue("Bearer", apiKey);
    }

    /// <summary>A client of the server at <paramref name="server"/> with its own HttpClient (disposed with this client).</summary>
    public static StrataClient Create(Uri server, string? apiKey = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        var http = new HttpClient { BaseAddress = server, Timeout = timeout ?? TimeSpan.FromMinutes(10) };
        return new StrataClient(http, apiKey, ownsHttp: true);
    }

    /// <summary>The server's URL.</summary>
    public Uri Server => _http.BaseAddress!;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    /// <summary>Liveness: the process answers.</summary>
    public Task<HealthReport> GetLiveAsync(CancellationToken cancellationToken = default) =>
        SendAsync<HealthReport>(HttpMethod.Get, "health/live", null, cancellationToken);

    /// <summary>Readiness: the metadata store answers.</summary>
    public Task<HealthReport> GetReadyAsync(CancellationToken cancellationToken = default) =>
        SendAsync<HealthReport>(HttpMethod.Get, "health/ready", null, cancellationToken);

    /// <summary>Who the API key belongs to.</summary>
    public Task<WhoAmI> WhoAmIAsync(CancellationToken cancellationToken = default) =>
        SendAsync<WhoAmI>(HttpMethod.Get, "api/v1/whoami", null, cancellationToken);

    /// <summary>Builds a relative URL from escaped path segments and optional query parameters (nulls left out).</summary>
    internal static string Url(IEnumerable<string> segments, params (string Name, string? Value)[] query)
    {
        var sb = new StringBuilder("api/v1");
        foreach (var segment in segments)
        {
            ArgumentNullException.ThrowIfNull(segment);
            sb.Append('/').Append(Uri.EscapeDataString(segment));
        }

        var first = true;
        foreach (var (name, value) in query)
        {
            if (value is null)
            {
                continue;
            }

            sb.Append(first ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
            first = false;
        }

        return sb.ToString();
    }

    private static string P(string project, params string[] rest) => Url(["projects", project, .. rest]);

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private async Task<T> SendAsync<T>(HttpMethod method, string url, HttpContent? content, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(method, url, content, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var value = await response.Content.ReadFromJsonAsync<T>(StrataJson.Options, cancellationToken).ConfigureAwait(false);
        return value ?? throw new StrataApiException(ErrorCodes.Io, $"the server sent an empty answer to {method} {url}", (int)response.StatusCode, RequestIdOf(response));
    }

    private async Task SendAsync(HttpMethod method, string url, HttpContent? content, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(method, url, content, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
    }

    private static JsonContent Json<T>(T value) => JsonContent.Create(value, options: StrataJson.Options);

    /// <summary>Sends a request and throws the server's error on anything but success; the caller disposes the response.</summary>
    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string url, HttpContent? content, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        request.Headers.Authorization = _authorization;
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new StrataApiException(ErrorCodes.Io, $"cannot reach the Strata server at {_http.BaseAddress}: {e.Message}", 0, null, e);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await ErrorOfAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<StrataApiException> ErrorOfAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var requestId = RequestIdOf(response);
        string? code = null;
        string? detail = null;
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (text.Length > 0 && response.Content.Headers.ContentType?.MediaType is "application/problem+json" or "application/json")
            {
                using var doc = JsonDocument.Parse(text);
                var root = doc.RootElement;
                code = root.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                detail = root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()
                    : root.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                requestId ??= root.TryGetProperty("requestId", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
            }
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's error page): the status alone says enough.
        }

        code ??= CodeOf(response.StatusCode);
        detail ??= $"the server answered {status} {response.ReasonPhrase}";
        return new StrataApiException(code, detail, status, requestId);
    }

    private static string CodeOf(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Unauthorized => ErrorCodes.Unauthorized,
        HttpStatusCode.Forbidden => ErrorCodes.Forbidden,
        HttpStatusCode.NotFound => ErrorCodes.NotFound,
        HttpStatusCode.Conflict => ErrorCodes.Conflict,
        HttpStatusCode.RequestEntityTooLarge => ErrorCodes.DataLimit,
        >= HttpStatusCode.BadRequest and < HttpStatusCode.InternalServerError => ErrorCodes.ArgumentInvalid,
        _ => ErrorCodes.Io,
    };

    private static string? RequestIdOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Request-Id", out var values) ? values.FirstOrDefault() : null;

    /// <summary>A response body stream that disposes its response when disposed.</summary>
    private sealed class ResponseStream(HttpResponseMessage response, Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => response.Content.Headers.ContentLength ?? throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private async Task<Stream> DownloadAsync(string url, CancellationToken cancellationToken)
    {
        var response = await SendRawAsync(HttpMethod.Get, url, null, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        try
        {
            return new ResponseStream(response, await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private static StreamContent Octets(Stream content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var body = new StreamContent(content, 1 << 16);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return body;
    }
}
