using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Strata.Testing;

/// <summary>An HTTP listener on a free loopback port that records each POST body and answers 204: the alert tests' webhook.</summary>
public sealed class LoopbackWebhook : IDisposable
{
    private readonly HttpListener _listener = new();

    public LoopbackWebhook()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"http://127.0.0.1:{port}/hook/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _ = Task.Run(async () =>
        {
            while (_listener.IsListening)
            {
                try
                {
                    var context = await _listener.GetContextAsync();
                    using var reader = new StreamReader(context.Request.InputStream);
                    var body = await reader.ReadToEndAsync();
                    Bodies.Enqueue(body);
                    Received.TrySetResult(body);
                    context.Response.StatusCode = 204;
                    context.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
            }
        });
    }

    /// <summary>The URL to post to.</summary>
    public string Url { get; }

    /// <summary>The bodies received, in order.</summary>
    public ConcurrentQueue<string> Bodies { get; } = new();

    /// <summary>The first body received (delivery is queued: wait on it with a bound).</summary>
    public TaskCompletionSource<string> Received { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
    }
}
