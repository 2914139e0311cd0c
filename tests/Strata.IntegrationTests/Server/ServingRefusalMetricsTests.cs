using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// Requests that fail before a model answers, as the metrics record them: a client that closes the connection mid-body
/// is a 499 (client closed request), not a 400, and every request to an endpoint counts in the serving metrics, on the
/// lean branch and the general pipeline of both APIs. Its own server, so its route counts are its own.
/// </summary>
public sealed class ServingRefusalMetricsTests : IAsyncLifetime
{
    private const string PredictRoute = "/v1/endpoints/{name}/predict";
    private const string InferRoute = "/v2/models/{name}/infer";

    private ServingServer _server = null!;

    public async Task InitializeAsync() => _server = await ServingServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_body_the_client_cuts_short_is_a_499_on_both_pipelines_of_both_apis()
    {
        await _server.DeployAsync("cut", new { project = "flights", model = "delay/1" });
        string[] paths = ["/v1/endpoints/cut/predict", "/v1/endpoints/cut/predict?explain=1", "/v2/models/cut/infer", "/v2/models/cut/infer/"];
        const int Each = 5; // Kestrel cancels RequestAborted a moment after it reports the body's end: repeated, both orders show

        foreach (var path in paths)
        {
            for (var i = 0; i < Each; i++)
            {
                await SendCutShortAsync(path);
            }
        }

        // Every such request is recorded once it is over, as 499; none as a 400 (a malformed request).
        using var http = _server.Http("root");
        var text = await WaitForMetricsAsync(http, t => Requests(t, PredictRoute).Values.Sum() == 2 * Each && Requests(t, InferRoute).Values.Sum() == 2 * Each);
        Assert.Equal(new Dictionary<string, double> { ["499"] = 2 * Each }, Requests(text, PredictRoute));
        Assert.Equal(new Dictionary<string, double> { ["499"] = 2 * Each }, Requests(text, InferRoute));
        // The endpoint counts those that got past its access checks before the connection was seen to be gone, also as 499.
        Assert.Equal(["none 499"], Serving(text, "cut").Keys);
    }

    [Fact]
    public async Task A_malformed_request_body_is_still_a_400()
    {
        await _server.DeployAsync("broken", new { project = "flights", model = "delay/1" });
        using var http = _server.Http();
        foreach (var path in new[] { "/v1/endpoints/broken/predict", "/v1/endpoints/broken/predict?explain=1" })
        {
            // A whole body that is not JSON, and a chunked body whose chunk size is not hexadecimal.
            using var garbled = await http.PostAsync(path, new StringContent("{\"rows\": [", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, garbled.StatusCode);
            Assert.StartsWith("HTTP/1.1 400", await SendBadChunkAsync(path), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_inference_request_to_an_endpoint_is_counted_for_it_whatever_refused_it()
    {
        await _server.DeployAsync("counted", new { project = "flights", model = "delay/1" });
        using var http = _server.Http();
        var (header, rows) = ServingServer.Sample(1);
        var inputs = Enumerable.Range(0, 11).Select(f => new { name = header[f], shape = new[] { 1 }, datatype = "FP32", data = new[] { double.IsNaN(rows[0][f]) ? 0 : rows[0][f] } }).ToArray();
        var good = JsonSerializer.Serialize(new { inputs });
        var badOutput = JsonSerializer.Serialize(new { inputs, outputs = new[] { new { name = "no_such_output" } } });

        // Each on the lean branch and on the general pipeline (a trailing slash, a query string).
        (string Path, string Body, HttpStatusCode Status)[] requests =
        [
            ("/v2/models/counted/infer", good, HttpStatusCode.OK),
            ("/v2/models/counted/infer", badOutput, HttpStatusCode.BadRequest), ("/v2/models/counted/infer/", badOutput, HttpStatusCode.BadRequest),
            ("/v2/models/counted/versions/7/infer", good, HttpStatusCode.NotFound), ("/v2/models/counted/versions/7/infer/", good, HttpStatusCode.NotFound),
            ("/v1/endpoints/counted/predict", "{\"rows\": [", HttpStatusCode.BadRequest), ("/v1/endpoints/counted/predict?explain=1", "{\"rows\": [", HttpStatusCode.BadRequest),
            ("/v2/models/no-such-endpoint/infer", good, HttpStatusCode.NotFound),
        ];
        foreach (var (path, body, status) in requests)
        {
            using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.True(response.StatusCode == status, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        // Refused before a model was chosen: version none, under the status answered; the histogram counts the same.
        using var root = _server.Http("root");
        var text = await root.GetStringAsync("/metrics");
        Assert.Equal(new Dictionary<string, double> { ["1 200"] = 1, ["none 400"] = 4, ["none 404"] = 2 }, Serving(text, "counted"));
        Assert.Equal(
            Serving(text, "counted").GroupBy(p => p.Key.Split(' ')[0]).ToDictionary(g => g.Key, g => g.Sum(p => p.Value)),
            Timed(text, "counted"));
        Assert.DoesNotContain("endpoint=\"no-such-endpoint\"", text, StringComparison.Ordinal); // no series for a name sent
    }

    /// <summary>Sends a request whose headers promise 1000 bytes of body, sends 8 and closes, then waits for the server to close too.</summary>
    private async Task SendCutShortAsync(string path)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_server.Address.Host, _server.Address.Port);
        var request = $"POST {path} HTTP/1.1\r\nHost: {_server.Address.Authority}\r\nAuthorization: Bearer {_server.Keys["viewer"]}\r\n" +
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"rows\":";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        socket.Shutdown(SocketShutdown.Send);
        await ReadToEndAsync(socket);
    }

    /// <summary>Sends a chunked body whose chunk size is not hexadecimal; returns what the server answers.</summary>
    private async Task<string> SendBadChunkAsync(string path)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_server.Address.Host, _server.Address.Port);
        var request = $"POST {path} HTTP/1.1\r\nHost: {_server.Address.Authority}\r\nAuthorization: Bearer {_server.Keys["viewer"]}\r\n" +
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{\"rows\": []}\r\n0\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        return await ReadToEndAsync(socket);
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30)); // a server that never closes fails the test, not hangs it
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, stop.Token) is > 0 and var read)
            {
                answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (SocketException)
        {
            // The server may reset the connection it gave up on.
        }

        return answer.ToString();
    }

    /// <summary>Scrapes until <paramref name="done"/> holds (each request is recorded just after its connection closes).</summary>
    private static async Task<string> WaitForMetricsAsync(HttpClient http, Func<string, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var text = await http.GetStringAsync("/metrics");
            if (done(text))
            {
                return text;
            }

            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for the requests to be recorded:\n{text}");
            await Task.Delay(20);
        }
    }

    /// <summary>A route's POST requests by status.</summary>
    private static Dictionary<string, double> Requests(string text, string route) =>
        Values(text, "^strata_http_requests_total\\{route=\"" + Regex.Escape(route) + "\",method=\"POST\",status=\"(?<k>\\d+)\"\\} (?<n>\\S+)$");

    /// <summary>An endpoint's serving requests by "version status".</summary>
    private static Dictionary<string, double> Serving(string text, string endpoint) =>
        Values(text, "^strata_serving_requests_total\\{endpoint=\"" + endpoint + "\",version=\"(?<v>[^\"]+)\",status=\"(?<s>\\d+)\"\\} (?<n>\\S+)$", m => $"{m.Groups["v"].Value} {m.Groups["s"].Value}");

    /// <summary>An endpoint's latency observations by version.</summary>
    private static Dictionary<string, double> Timed(string text, string endpoint) =>
        Values(text, "^strata_serving_request_duration_seconds_count\\{endpoint=\"" + endpoint + "\",version=\"(?<k>[^\"]+)\"\\} (?<n>\\S+)$");

    private static Dictionary<string, double> Values(string text, string pattern, Func<Match, string>? key = null) =>
        Regex.Matches(text, pattern, RegexOptions.Multiline)
            .ToDictionary(m => key?.Invoke(m) ?? m.Groups["k"].Value, m => double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture));
}
