using System.Buffers.Text;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer paced-load URL BODY_FILE RATE CONNECTIONS SECONDS [AUTHORIZATION]`: an open-loop load generator (wrk has no
    /// rate pacing and wrk2 is not packaged here). Requests are due on a fixed schedule, RATE a second, dealt to the
    /// keep-alive connections in turn; a request's latency counts from when it was due, not from when it went out, so a
    /// server that falls behind is charged for the queue it causes (no coordinated omission).
    /// </summary>
    /// <remarks>
    /// One thread drives every connection: it sends what is due and waits in <c>poll</c> for answers until the next
    /// request is due. An earlier version (a task per connection, waiting with <c>Task.Delay</c>) sent requests up to a
    /// timer tick late and charged that to the server: against the empty Kestrel endpoint at 15,000 requests a second it
    /// measured a p50 of 1.3 ms and a p99 of 40 ms.
    /// </remarks>
    private static void RegisterPacedLoad() =>
        PeerMeasurements.Register("paced-load", args =>
        {
            var url = new Uri(args[0]);
            var body = File.ReadAllBytes(args[1]);
            var rate = double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
            var connections = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
            var seconds = double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture);
            var head = $"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Type: application/json\r\n"
                + (args.Length > 5 ? $"Authorization: {args[5]}\r\n" : "") + $"Content-Length: {body.Length}\r\n\r\n";
            var request = Encoding.ASCII.GetBytes(head).Concat(body).ToArray();
            var (latencies, failures) = PacedLoad(url, request, rate, connections, seconds);
            latencies.Sort();
            double Percentile(double p) => latencies.Count == 0 ? double.NaN : Math.Round(latencies[Math.Min(latencies.Count - 1, (int)(p * latencies.Count))] * 1000, 3);
            return Task.FromResult(new Dictionary<string, object>
            {
                ["operation"] = "paced-load",
                ["target_req_per_s"] = rate,
                ["req_per_s"] = Math.Round(latencies.Count / seconds, 1),
                ["connections"] = connections,
                ["p50_ms"] = Percentile(0.50),
                ["p99_ms"] = Percentile(0.99),
                ["p999_ms"] = Percentile(0.999),
                ["non_2xx"] = failures,
                ["generator_gen0_collections"] = GC.CollectionCount(0),
            });
        });

    private static (List<double> Latencies, int Failures) PacedLoad(Uri url, byte[] request, double rate, int connections, double seconds)
    {
        var frequency = Stopwatch.Frequency;
        var sockets = new Socket[connections];
        var states = new PacedConnection[connections];
        for (var c = 0; c < connections; c++)
        {
            sockets[c] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            sockets[c].Connect(url.Host, url.Port);
            sockets[c].Blocking = false;
            states[c] = new PacedConnection(sockets[c], request);
        }

        var latencies = new List<double>((int)(rate * seconds) + 16);
        var failures = 0;
        // The first second is a warm-up, not measured: until both sides' code is compiled, requests go out late, and
        // charging that to the server (as the schedule does) put a 36 ms p99 on the empty endpoint at 2,000 requests a second.
        var warmUp = (long)rate;
        var total = warmUp + (long)(rate * seconds);
        var start = Stopwatch.GetTimestamp() + (frequency / 10);
        long Due(long i) => start + (long)(i * frequency / rate);
        var next = 0L;
        var answered = 0L;
        var readable = new List<Socket>(connections);
        var deadline = Due(total) + (30 * frequency); // a server that stops answering ends the run
        try
        {
            while (answered < total && Stopwatch.GetTimestamp() < deadline)
            {
                // Deal every request now due to its connection; an idle connection sends it at once.
                var now = Stopwatch.GetTimestamp();
                for (; next < total && Due(next) <= now; next++)
                {
                    states[next % connections].Enqueue(Due(next));
                }

                // Wait for answers until the next request is due: poll sleeps in the kernel to the microsecond, so there is
                // no timer tick to miss. Idle connections are polled too (they only turn readable if the server closes them).
                readable.Clear();
                readable.AddRange(sockets);
                var wait = next < total ? Math.Max(0, (Due(next) - Stopwatch.GetTimestamp()) * 1_000_000 / frequency) : 100_000;
                Socket.Select(readable, null, null, (int)Math.Min(wait, 100_000));
                foreach (var socket in readable)
                {
                    var state = states[Array.IndexOf(sockets, socket)];
                    state.Receive();
                    while (state.TryTakeResponse(out var ok, out var due))
                    {
                        if (due >= Due(warmUp))
                        {
                            latencies.Add((double)(Stopwatch.GetTimestamp() - due) / frequency);
                            failures += ok ? 0 : 1;
                        }

                        answered++;
                    }
                }
            }
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        return (latencies, failures);
    }

    /// <summary>One keep-alive connection of the paced load: its due requests, and the answer being read.</summary>
    private sealed class PacedConnection(Socket socket, byte[] request)
    {
        private readonly Queue<long> _due = new();
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _filled;

        public Socket Socket { get; } = socket;

        /// <summary>Queues a request due at a time; it goes out at once when none is in flight.</summary>
        public void Enqueue(long due)
        {
            _due.Enqueue(due);
            if (_due.Count == 1)
            {
                Send();
            }
        }

        /// <summary>Reads what has arrived on a connection poll found readable (nothing to read: the server closed it).</summary>
        public void Receive()
        {
            var n = Socket.Receive(_buffer, _filled, _buffer.Length - _filled, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("the server closed the connection");
            }

            _filled += n;
        }

        /// <summary>True (with the answered request's due time) when a whole response has been read.</summary>
        public bool TryTakeResponse(out bool ok, out long due)
        {
            ok = false;
            due = 0;
            if (_due.Count == 0)
            {
                return false;
            }

            var headerEnd = _buffer.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8);
            if (headerEnd < 0)
            {
                return false;
            }

            var headers = _buffer.AsSpan(0, headerEnd);
            var lengthAt = headers.IndexOf("Content-Length: "u8);
            var length = 0;
            if (lengthAt >= 0 && !Utf8Parser.TryParse(headers[(lengthAt + "Content-Length: ".Length)..], out length, out _))
            {
                throw new IOException("the response's Content-Length is not a number");
            }

            var size = headerEnd + 4 + length;
            if (_filled < size)
            {
                return false;
            }

            ok = _buffer[9] == (byte)'2'; // "HTTP/1.1 2xx"
            Array.Copy(_buffer, size, _buffer, 0, _filled - size);
            _filled -= size;
            due = _due.Dequeue();
            if (_due.Count > 0)
            {
                Send(); // a request that fell due while this one was answered goes out now (its latency still counts from due)
            }

            return true;
        }

        private void Send()
        {
            var sent = 0;
            while (sent < request.Length)
            {
                try
                {
                    sent += Socket.Send(request, sent, request.Length - sent, SocketFlags.None);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
                {
                    Thread.Yield();
                }
            }
        }
    }
}
