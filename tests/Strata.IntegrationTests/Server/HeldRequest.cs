using System.Net.Sockets;
using System.Text;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// A POST sent over a raw connection but for the second half of its body: the server is reading it, so the request is in
/// flight until <see cref="FinishAsync"/> sends the rest (a request that takes as long as the test wants).
/// </summary>
internal sealed class HeldRequest : IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly byte[] _body;

    private HeldRequest(TcpClient client, byte[] body)
    {
        _client = client;
        _stream = client.GetStream();
        _body = body;
    }

    /// <summary>Connects to <paramref name="server"/> (a loopback address) and sends the head and half the body.</summary>
    public static async Task<HeldRequest> StartAsync(Uri server, string path, string apiKey, byte[] body)
    {
        var client = new TcpClient();
        try
        {
            await client.ConnectAsync(server.Host, server.Port);
            var request = new HeldRequest(client, body);
            var head = $"POST {path} HTTP/1.1\r\nHost: {server.Authority}\r\nAuthorization: Bearer {apiKey}\r\n" +
                $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
            await request._stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await request._stream.WriteAsync(body.AsMemory(0, body.Length / 2));
            await Task.Delay(500); // the server has the head and is reading the body
            return request;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Sends the rest of the body and reads the answer: the whole response, or "" when the server cut the connection instead.</summary>
    public async Task<string> FinishAsync()
    {
        try
        {
            await _stream.WriteAsync(_body.AsMemory(_body.Length / 2));
            using var reader = new StreamReader(_stream, Encoding.UTF8, leaveOpen: true);
            return await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (IOException)
        {
            return ""; // reset by the server
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>
    /// Asserts that the server stopped with the prediction log whole: no segment left open, and the prediction of
    /// <paramref name="answer"/> (a raw HTTP response) logged under its request id.
    /// </summary>
    public static void AssertLogged(string home, string answer)
    {
        var predictions = Path.Combine(home, "predictions");
        Assert.Empty(Directory.GetFiles(predictions, "*.open"));
        var requestId = System.Text.Json.JsonDocument.Parse(answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]).RootElement.GetProperty("requestId").GetString()!;
        Assert.Contains(Directory.GetFiles(predictions, "*.jsonl"), f => File.ReadAllText(f).Contains(requestId, StringComparison.Ordinal));
    }

}
