using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Strata.Monitoring;

namespace Strata.Cli.Commands;

/// <summary>
/// The time the quickstart's server lives in: the replayed hour of 2001, set by the replay. Timers stay on real time
/// (only <see cref="GetUtcNow"/> is replayed), so polling and timeouts behave as usual.
/// </summary>
internal sealed class ReplayClock(long micros) : TimeProvider
{
    private long _micros = micros;

    /// <summary>The replayed time, UTC microseconds.</summary>
    public long Micros => Interlocked.Read(ref _micros);

    public void Set(long micros) => Interlocked.Exchange(ref _micros, micros);

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(Micros / 1000);
}

/// <summary>A webhook receiver on a free loopback port: what an alert's webhook action delivers, kept for the summary.</summary>
internal sealed class LoopbackHook : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public LoopbackHook()
    {
        Url = $"http://127.0.0.1:{FreePort()}/hook/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(ListenAsync);
    }

    public string Url { get; }

    /// <summary>The bodies received, in order.</summary>
    public ConcurrentQueue<string> Bodies { get; } = new();

    /// <summary>A free TCP port on 127.0.0.1 (free when asked; the caller binds it at once).</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _ = _loop;
    }

    private async Task ListenAsync()
    {
        while (_listener.IsListening)
        {
            try
            {
                var context = await _listener.GetContextAsync().ConfigureAwait(false);
                using (var reader = new StreamReader(context.Request.InputStream))
                {
                    // An alert body is small; anything bigger than 64 KiB is cut (the listener only shows what arrived).
                    var buffer = new char[64 * 1024];
                    var read = await reader.ReadBlockAsync(buffer).ConfigureAwait(false);
                    Bodies.Enqueue(new string(buffer, 0, read));
                }

                context.Response.StatusCode = 204;
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
        }
    }
}

/// <summary>An alert's pipeline action through the server's API: <c>POST /api/v1/projects/{p}/pipelines/runs</c>.</summary>
internal sealed class ServerPipelineTrigger(HttpClient client, string project) : IPipelineTrigger
{
    public async Task<string> TriggerAsync(string pipeline, AlertEvent alert, CancellationToken cancellationToken = default)
    {
        using var response = await client.PostAsJsonAsync($"/api/v1/projects/{project}/pipelines/runs", new { pipeline }, cancellationToken).ConfigureAwait(false);
        var body = await QuickstartHttp.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        return body["id"]?.GetValue<string>() ?? throw new StrataException(Quickstart.StageFailed, $"the server started no run: {body.ToJsonString()}");
    }
}

/// <summary>The few HTTP calls the quickstart makes to its server, with errors that say what the server answered.</summary>
internal static class QuickstartHttp
{
    public static async Task<JsonNode> PostAsync(HttpClient client, string path, object body, CancellationToken cancellationToken)
    {
        using var response = await client.PostAsJsonAsync(path, body, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<JsonNode> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new StrataException(Quickstart.StageFailed, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath} answered {(int)response.StatusCode}: {text}");
        }

        return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text) ?? new JsonObject();
    }

    /// <summary>The value at a percentile (0-100) of sorted values (nearest rank).</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double percentile) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(percentile / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
}
