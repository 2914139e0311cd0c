using System.Buffers.Text;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer paced-load URL BODY_FILE RATE CONNECTIONS SECONDS [AUTHORIZATION]`: an open-loop load generator (wrk has no
    /// rate pacing and wrk2 is not packaged here). Each keep-alive connection sends POSTs of the body on a fixed
    /// schedule, RATE/CONNECTIONS a second, and a request's latency counts from when it was due, not from when it went
    /// out, so a server that falls behind is charged for the queue it causes (no coordinated omission).
    /// </summary>
    private static void RegisterPacedLoad() =>
        PeerMeasurements.Register("paced-load", async args =>
        {
            var url = new Uri(args[0]);
            var body = await File.ReadAllBytesAsync(args[1]).ConfigureAwait(false);
            var rate = double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
            var connections = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
            var seconds = double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture);
            var head = $"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Type: application/json\r\n"
                + (args.Length > 5 ? $"Authorization: {args[5]}\r\n" : "") + $"Content-Length: {body.Length}\r\n\r\n";
            var request = Encoding.ASCII.GetBytes(head).Concat(body).ToArray();
            var interval = connections / rate; // seconds between one connection's requests
            var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
            var end = start + (long)(seconds * Stopwatch.Frequency);
            var results = await Task.WhenAll(Enumerable.Range(0, connections).Select(c =>
                PacedConnectionAsync(url, request, start + (long)(c * interval / connections * Stopwatch.Frequency), interval, end))).ConfigureAwait(false);
            var latencies = results.SelectMany(r => r.Latencies).Order().ToArray();
            double Percentile(double p) => latencies.Length == 0 ? double.NaN : Math.Round(latencies[Math.Min(latencies.Length - 1, (int)(p * latencies.Length))] * 1000, 3);
            return new Dictionary<string, object>
            {
                ["operation"] = "paced-load",
                ["target_req_per_s"] = rate,
                ["req_per_s"] = Math.Round(latencies.Length / seconds, 1),
                ["connections"] = connections,
                ["p50_ms"] = Percentile(0.50),
                ["p99_ms"] = Percentile(0.99),
                ["p999_ms"] = Percentile(0.999),
                ["non_2xx"] = results.Sum(r => r.Failures),
            };
        });

    private static async Task<(List<double> Latencies, int Failures)> PacedConnectionAsync(Uri url, byte[] request, long first, double interval, long end)
    {
        var latencies = new List<double>();
        var failures = 0;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(url.Host, url.Port).ConfigureAwait(false);
        var buffer = new byte[64 * 1024];
        for (long i = 0; ; i++)
        {
            var due = first + (long)(i * interval * Stopwatch.Frequency);
            if (due >= end)
            {
                break;
            }

            // NOTE: timers are ~1 ms coarse and spinning would take the server's CPU, so a request may go out up to a
            // timer tick early; its latency then counts from when it went out. A late one counts from when it was due.
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait).ConfigureAwait(false);
            }

            var origin = Math.Min(due, Stopwatch.GetTimestamp());
            await socket.SendAsync(request, SocketFlags.None).ConfigureAwait(false);
            if (!await ReadResponseAsync(socket, buffer).ConfigureAwait(false))
            {
                failures++;
            }

            latencies.Add(Stopwatch.GetElapsedTime(origin).TotalSeconds);
        }

        return (latencies, failures);
    }

    /// <summary>Reads one HTTP/1.1 response with a Content-Length; true for a 2xx status.</summary>
    private static async Task<bool> ReadResponseAsync(Socket socket, byte[] buffer)
    {
        var filled = 0;
        int headerEnd;
        while ((headerEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("the server closed the connection");
            }

            filled += n;
        }

        var headers = buffer.AsSpan(0, headerEnd);
        var lengthAt = headers.IndexOf("Content-Length: "u8);
        var length = 0;
        if (lengthAt >= 0)
        {
            var digits = headers[(lengthAt + "Content-Length: ".Length)..];
            if (!Utf8Parser.TryParse(digits, out length, out _))
            {
                throw new IOException("the response's Content-Length is not a number");
            }
        }

        var total = headerEnd + 4 + length;
        while (filled < total)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("the server closed the connection");
            }

            filled += n;
        }

        return buffer[9] == (byte)'2'; // "HTTP/1.1 2xx"
    }
}
