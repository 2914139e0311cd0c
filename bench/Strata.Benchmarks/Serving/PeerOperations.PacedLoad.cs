using System.Buffers.Text;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer paced-load URL BODY_FILE RATE CONNECTIONS SECONDS [AUTHORIZATION]`: an open-loop load generator (wrk has no
    /// rate pacing and wrk2 is not packaged here). Requests are due on a fixed schedule, RATE a second, dealt to the
    /// keep-alive connections in turn (as wrk2 gives each connection its share of the rate); a request's latency counts
    /// from when it was due, not from when it went out, so a server that falls behind is charged for the queue it causes
    /// (no coordinated omission).
    /// </summary>
    /// <remarks>
    /// The generator shares the machine's two cores with the server, so its own cost decides whether the server can be
    /// offered 80% of its peak at all. It works on a fixed beat, <c>STRATA_PACED_TICK_US</c> (default 250 µs): each tick
    /// it reads every answer that has arrived (<c>epoll</c> without waiting), sends every request now due, and sleeps to
    /// the next tick. A wake-up costs this virtual machine about 30 µs of CPU (as much as the server spends on a request),
    /// so waking for each request or answer (tried: waiting in <c>epoll_pwait2</c> until the next due time) took 45-55 µs
    /// of CPU per request at 10,000 a second, where wrk takes about 15; on the beat it takes about wrk's. The price is in
    /// the figures, against the server: a request goes out up to a tick after it falls due, and its answer is read up to
    /// a tick after it arrives (a tick in all, on average). The empty endpoint measured the same way shows that floor.
    /// <c>STRATA_PACED_THREADS</c> (default 1) threads may share the connections and the schedule.
    /// The version before this one (one thread polling every connection on each pass with <c>Socket.Select</c>) fell
    /// seconds behind its schedule at 80% of Strata's peak against the empty endpoint too; one before that (a task per
    /// connection, waiting with <c>Task.Delay</c>) sent requests up to a timer tick late.
    /// </remarks>
    private static void RegisterPacedLoad() =>
        PeerMeasurements.Register("paced-load", args =>
        {
            var url = new Uri(args[0]);
            var body = File.ReadAllBytes(args[1]);
            var rate = double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
            var connections = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
            var seconds = double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture);
            var threads = int.TryParse(Environment.GetEnvironmentVariable("STRATA_PACED_THREADS"), out var t) && t > 0 ? t : 1;
            var tickMicroseconds = int.TryParse(Environment.GetEnvironmentVariable("STRATA_PACED_TICK_US"), out var us) && us > 0 ? us : 250;
            threads = Math.Min(threads, connections);
            var head = $"POST {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Type: application/json\r\n"
                + (args.Length > 5 ? $"Authorization: {args[5]}\r\n" : "") + $"Content-Length: {body.Length}\r\n\r\n";
            var request = Encoding.ASCII.GetBytes(head).Concat(body).ToArray();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var steal = StealMilliseconds();
            var result = PacedLoad.Run(url, request, rate, connections, seconds, threads, tickMicroseconds * 1000L);
            cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            steal = StealMilliseconds() - steal;
            var latencies = result.Latencies;
            latencies.Sort();
            double Percentile(double p) => latencies.Count == 0 ? double.NaN : Math.Round(latencies[Math.Min(latencies.Count - 1, (int)(p * latencies.Count))] * 1000, 3);
            return Task.FromResult(new Dictionary<string, object>
            {
                ["operation"] = "paced-load",
                ["target_req_per_s"] = rate,
                ["req_per_s"] = Math.Round(latencies.Count / seconds, 1),
                ["connections"] = connections,
                ["threads"] = threads,
                ["tick_us"] = tickMicroseconds,
                ["p50_ms"] = Percentile(0.50),
                ["p99_ms"] = Percentile(0.99),
                ["p999_ms"] = Percentile(0.999),
                ["non_2xx"] = result.Failures,
                ["unanswered"] = result.Unanswered,
                ["generator_cpu_us_per_request"] = result.Answered == 0 ? double.NaN : Math.Round(cpu.TotalMicroseconds / result.Answered, 2),
                ["generator_gen0_collections"] = GC.CollectionCount(0),
                ["machine_steal_ms"] = steal,
            });
        });

    // Time the hypervisor ran something else while this machine's CPUs wanted to run (all CPUs, /proc/stat's eighth
    // column, in USER_HZ = 1/100 s): a virtual machine's pauses show here, and land on the latency of whatever was due.
    private static long StealMilliseconds()
    {
        var cpu = File.ReadLines("/proc/stat").FirstOrDefault(l => l.StartsWith("cpu ", StringComparison.Ordinal));
        var fields = cpu?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is { Length: > 8 } && long.TryParse(fields[8], System.Globalization.CultureInfo.InvariantCulture, out var ticks) ? ticks * 10 : -1;
    }

    /// <summary>The open-loop generator's threads: each drives its own connections from its own epoll set.</summary>
    private static class PacedLoad
    {
        public sealed record Result(List<double> Latencies, int Failures, long Answered, long Unanswered);

        public static Result Run(Uri url, byte[] request, double rate, int connections, double seconds, int threads, long tick)
        {
            var sockets = new Socket[connections];
            try
            {
                for (var c = 0; c < connections; c++)
                {
                    sockets[c] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    sockets[c].Connect(url.Host, url.Port);
                    sockets[c].Blocking = false;
                }

                // The first second is a warm-up, not measured: until both sides' code is compiled, requests go out late,
                // and charging that to the server (as the schedule does) put a 36 ms p99 on the empty endpoint at 2,000
                // requests a second. Thread k takes requests k, k + threads, …: the same schedule, dealt among them.
                var warmUp = (long)rate;
                var total = warmUp + (long)(rate * seconds);
                var start = Native.Now() + 100_000_000L;
                var workers = new Worker[threads];
                for (var k = 0; k < threads; k++)
                {
                    var own = sockets.Where((_, c) => c % threads == k).ToArray();
                    workers[k] = new Worker(own, request, rate, start, k, threads, warmUp, total, tick);
                }

                var running = workers.Select(w => new Thread(w.Run) { IsBackground = true, Name = "paced-load" }).ToArray();
                foreach (var thread in running)
                {
                    thread.Start();
                }

                foreach (var thread in running)
                {
                    thread.Join();
                }

                var failed = workers.FirstOrDefault(w => w.Error is not null);
                if (failed is not null)
                {
                    throw new IOException("a paced-load thread failed: " + failed.Error!.Message, failed.Error);
                }

                // STRATA_PACED_TRACE names a file for each measured request's due time and latency (ms since the start):
                // slow requests that come in bunches, on any server, are the machine pausing, not the server queueing.
                if (Environment.GetEnvironmentVariable("STRATA_PACED_TRACE") is { Length: > 0 } trace)
                {
                    File.WriteAllLines(trace, workers.SelectMany(w => w.Dues!.Zip(w.Latencies, (d, l) => $"{d / 1e6:F3} {l * 1000:F3}")));
                }

                var latencies = new List<double>(workers.Sum(w => w.Latencies.Count));
                foreach (var w in workers)
                {
                    latencies.AddRange(w.Latencies);
                }

                return new Result(latencies, workers.Sum(w => w.Failures), workers.Sum(w => w.Answered), total - workers.Sum(w => w.Answered));
            }
            finally
            {
                foreach (var socket in sockets)
                {
                    socket?.Dispose();
                }
            }
        }

        /// <summary>One thread's connections, its share of the schedule and what it measured.</summary>
        private sealed class Worker(Socket[] sockets, byte[] request, double rate, long start, int first, int stride, long warmUp, long total, long tick)
        {
            public List<double> Latencies { get; } = new((int)Math.Min(int.MaxValue / 2, (total / stride) + 16));

            /// <summary>Each measured request's due time, when STRATA_PACED_TRACE asks for them; else null.</summary>
            public List<long>? Dues { get; } = Environment.GetEnvironmentVariable("STRATA_PACED_TRACE") is { Length: > 0 } ? [] : null;

            public int Failures { get; private set; }

            public long Answered { get; private set; }

            public Exception? Error { get; private set; }

            private long Due(long i) => start + (long)(i * 1e9 / rate);

            public void Run()
            {
                var epoll = -1;
                try
                {
                    // The beat is kept to the microsecond; Linux would otherwise let each wake-up slip by up to 50 µs (timer slack).
                    _ = Native.Prctl(Native.PrSetTimerslack, 1, 0, 0, 0);
                    epoll = Native.Check(Native.EpollCreate1(Native.EpollCloexec), "epoll_create1");
                    var connections = new PacedConnection[sockets.Length];
                    for (var c = 0; c < sockets.Length; c++)
                    {
                        connections[c] = new PacedConnection((int)sockets[c].Handle, request);
                        Native.Add(epoll, connections[c].Fd, (ulong)c);
                    }

                    Loop(epoll, connections);
                }
#pragma warning disable CA1031 // the error is handed to the main thread, which fails the measurement with it
                catch (Exception e)
#pragma warning restore CA1031
                {
                    Error = e;
                }
                finally
                {
                    if (epoll >= 0)
                    {
                        _ = Native.Close(epoll);
                    }
                }
            }

            private void Loop(int epoll, PacedConnection[] connections)
            {
                var events = new Native.EpollEvent[connections.Length];
                var next = (long)first; // this thread's next request of the shared schedule
                var dealt = 0L;
                var mine = ((total - first) + stride - 1) / stride;
                var deadline = Due(total) + (30 * 1_000_000_000L); // a server that stops answering ends the run
                var measuredFrom = Due(warmUp);
                var wake = Native.Now();
                while (Answered < mine)
                {
                    // Read every answer that has arrived, then send every request now due (an idle connection sends at once).
                    var n = Native.Ready(epoll, events);
                    var now = Native.Now();
                    for (var e = 0; e < n; e++)
                    {
                        var connection = connections[(int)events[e].Data];
                        connection.Receive();
                        while (connection.TryTakeResponse(out var ok, out var due))
                        {
                            if (due >= measuredFrom)
                            {
                                Latencies.Add((now - due) / 1e9);
                                Dues?.Add(due - start);
                                Failures += ok ? 0 : 1;
                            }

                            Answered++;
                        }
                    }

                    for (; next < total && Due(next) <= now; next += stride)
                    {
                        connections[dealt++ % connections.Length].Enqueue(Due(next));
                    }

                    if (now > deadline)
                    {
                        return;
                    }

                    // Then sleep to the next tick: a fixed beat, not a wake-up per request or per answer (each costs this
                    // virtual machine about as much CPU as the server spends on a request).
                    wake = Math.Max(wake + tick, now);
                    Native.SleepUntil(wake);
                }
            }
        }
    }

    /// <summary>One keep-alive connection of the paced load: its due requests, and the answer being read.</summary>
    private sealed class PacedConnection(int fd, byte[] request)
    {
        private readonly Queue<long> _due = new();
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _filled;

        public int Fd { get; } = fd;

        /// <summary>Queues a request due at a time; it goes out at once when none is in flight.</summary>
        public void Enqueue(long due)
        {
            _due.Enqueue(due);
            if (_due.Count == 1)
            {
                Send();
            }
        }

        /// <summary>Reads what has arrived on a connection epoll found readable (nothing to read: the server closed it).</summary>
        public void Receive()
        {
            if (_filled == _buffer.Length)
            {
                throw new IOException($"an answer is larger than {_buffer.Length} bytes");
            }

            while (true)
            {
                var n = Native.Recv(Fd, ref _buffer[_filled], _buffer.Length - _filled, 0);
                if (n > 0)
                {
                    _filled += (int)n;
                    return;
                }

                if (n == 0)
                {
                    throw new IOException("the server closed the connection");
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == Native.Eagain)
                {
                    return; // woken for nothing (spurious), or already read
                }

                if (errno != Native.Eintr)
                {
                    throw new IOException($"recv failed (errno {errno})");
                }
            }
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
                var n = Native.Send(Fd, ref request[sent], request.Length - sent, Native.MsgNosignal);
                if (n >= 0)
                {
                    sent += (int)n;
                    continue;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno is not (Native.Eagain or Native.Eintr))
                {
                    throw new IOException($"send failed (errno {errno})");
                }

                Thread.Yield(); // the socket's send buffer is full: a request is a few hundred bytes, so this is rare
            }
        }
    }

    /// <summary>The Linux calls the paced load waits and moves bytes with.</summary>
    private static partial class Native
    {
        public const int EpollCloexec = 0x80000;
        public const int MsgNosignal = 0x4000;
        public const int PrSetTimerslack = 29;
        public const int Eintr = 4;
        public const int Eagain = 11;
        private const int ClockMonotonic = 1;
        private const int EpollCtlAdd = 1;
        private const uint EpollIn = 0x001;
        private const int TimerAbstime = 1;

        /// <summary>The kernel's <c>struct epoll_event</c>, packed on x86-64 (12 bytes).</summary>
        [StructLayout(LayoutKind.Sequential, Pack = 4)]
        public struct EpollEvent
        {
            public uint Events;
            public ulong Data;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct Timespec
        {
            public long Seconds;
            public long Nanoseconds;
        }

        /// <summary>CLOCK_MONOTONIC in nanoseconds.</summary>
        public static long Now()
        {
            _ = ClockGettime(ClockMonotonic, out var now);
            return (now.Seconds * 1_000_000_000L) + now.Nanoseconds;
        }

        public static int Check(int result, string call) =>
            result >= 0 ? result : throw new IOException($"{call} failed (errno {Marshal.GetLastPInvokeError()})");

        public static void Add(int epoll, int fd, ulong data)
        {
            var e = new EpollEvent { Events = EpollIn, Data = data };
            Check(EpollCtl(epoll, EpollCtlAdd, fd, ref e), "epoll_ctl");
        }

        /// <summary>The connections readable now (epoll without waiting).</summary>
        public static int Ready(int epoll, EpollEvent[] events)
        {
            var n = EpollWait(epoll, ref events[0], events.Length, 0);
            if (n < 0 && Marshal.GetLastPInvokeError() != Eintr)
            {
                throw new IOException($"epoll_wait failed (errno {Marshal.GetLastPInvokeError()})");
            }

            return Math.Max(n, 0);
        }

        /// <summary>Sleeps until an absolute CLOCK_MONOTONIC time (returns at once when it is past).</summary>
        public static void SleepUntil(long at)
        {
            var time = new Timespec { Seconds = at / 1_000_000_000L, Nanoseconds = at % 1_000_000_000L };
            while (ClockNanosleep(ClockMonotonic, TimerAbstime, ref time, IntPtr.Zero) == Eintr)
            {
            }
        }

        [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
        public static partial int EpollCreate1(int flags);

        [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
        public static partial nint Send(int fd, ref byte buffer, nint length, int flags);

        [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
        public static partial nint Recv(int fd, ref byte buffer, nint length, int flags);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);

        [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
        public static partial int Prctl(int option, nint a, nint b, nint c, nint d);

        [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
        private static partial int EpollCtl(int epoll, int op, int fd, ref EpollEvent e);

        [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
        private static partial int EpollWait(int epoll, ref EpollEvent events, int maxEvents, int timeout);

        // Returns the error number itself (not through errno).
        [LibraryImport("libc", EntryPoint = "clock_nanosleep")]
        private static partial int ClockNanosleep(int clock, int flags, ref Timespec time, IntPtr remaining);

        [LibraryImport("libc", EntryPoint = "clock_gettime")]
        private static partial int ClockGettime(int clock, out Timespec time);
    }
}
