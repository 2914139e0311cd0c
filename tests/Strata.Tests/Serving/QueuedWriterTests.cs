using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Strata.Serving;
using Strata.Serving.Metrics;

namespace Strata.Tests.Serving;

public sealed class QueuedWriterTests
{
    [Fact]
    public async Task Records_are_encoded_by_the_caller_and_written_on_the_writers_own_thread_at_a_lower_priority()
    {
        var before = OperatingSystem.IsLinux() ? ThreadNiceness() : 0;
        await using var writer = new Probe();

        Assert.True(writer.TryWrite(7));
        Assert.Equal(Environment.CurrentManagedThreadId, writer.AppendThread); // while the record's data is in this core's cache
        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("7\n", writer.Text);
        Assert.StartsWith("Strata Probe", writer.WriteThread, StringComparison.Ordinal);
        if (OperatingSystem.IsLinux())
        {
            // Nice 5 by default (a test run already niced further may keep its value: going back up needs privileges).
            Assert.Contains(writer.WriteNiceness, new[] { 5, Math.Max(5, before) });
            Assert.Equal(before, ThreadNiceness()); // only the writer's thread steps back, not the process
        }
    }

    [Fact]
    public async Task A_record_that_cannot_be_encoded_is_counted_as_a_failure_and_frees_its_place()
    {
        await using var writer = new Probe(capacity: 1);

        Assert.False(writer.TryWrite(-1)); // the probe refuses to encode negatives
        Assert.True(writer.TryWrite(1));
        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, writer.Failures);
        Assert.Equal(0, writer.Dropped);
        Assert.Equal("1\n", writer.Text);
    }

    [Fact]
    public async Task A_writer_whose_sink_fails_counts_the_failure_and_goes_on_writing()
    {
        await using var writer = new Probe { FailNext = true };

        writer.TryWrite(1);
        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        writer.TryWrite(2);
        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, writer.Failures);
        Assert.Equal("2\n", writer.Text);
    }

    [Fact]
    public async Task Records_a_failed_write_loses_are_each_counted_as_failures_never_as_written()
    {
        // They were counted as written, and the failure once per tick: 500 lost predictions read as 500 logged.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var writer = new Probe(beforeWrite: () => gate.Task) { FailNext = true };

        for (var i = 1; i <= 3; i++)
        {
            Assert.True(writer.TryWrite(i)); // queued while the writer waits, so one write takes all three
        }

        gate.SetResult();
        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        writer.TryWrite(4);
        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((1d, 3d), (writer.Written, writer.Failures));
        Assert.Equal("4\n", writer.Text);
    }

    [Fact]
    public async Task A_sink_failing_in_an_unexpected_way_is_counted_and_never_ends_the_writer()
    {
        await using var writer = new Probe { FailWith = new InvalidOperationException("a sink in a state it did not expect") };

        writer.TryWrite(1);
        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        writer.TryWrite(2);
        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((1d, 1d), (writer.Written, writer.Failures));
        Assert.Equal("2\n", writer.Text);
    }

    [Fact]
    public async Task An_encoder_that_fails_unexpectedly_gives_its_place_back_so_disposing_still_ends()
    {
        var writer = new Probe(capacity: 1);

        Assert.Throws<NotSupportedException>(() => writer.TryWrite(-2)); // a bug in an encoder surfaces
        Assert.True(writer.TryWrite(1));
        await writer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("1\n", writer.Text);
    }

    [Fact]
    public async Task A_writer_that_falls_behind_leaves_the_requests_buffers_to_be_reused_not_grown_again()
    {
        // NOTE: a thread's records were kept in one buffer that grew by doubling and, once over a MiB (a writer a fraction
        // of a second behind at full load), was dropped after the write and grown again from 4 KiB: megabytes a second
        // of large arrays at full load, each few of them setting off a full (gen-2) collection that paused requests.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var writer = new Probe(beforeWrite: () => Volatile.Read(ref gate).Task);
        const int Records = 6000, Width = 500; // 3 MB, queued while the writer waits
        try
        {
            await QueueTwiceAsync();
        }
        finally
        {
            Volatile.Read(ref gate).TrySetResult(); // the writer goes on, so disposing ends whatever failed
        }

        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2d * Records, writer.Written);
        Assert.Equal(2 * Records * (Width + 1), writer.Text.Length);
        Assert.Equal(new string('a', Width) + "\n", writer.Text[..(Width + 1)]);

        async Task QueueTwiceAsync()
        {
            for (var round = 0; round < 2; round++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < Records; i++)
                {
                    Assert.True(writer.TryWrite(Probe.Wide + Width));
                }

                var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (round == 1)
                {
                    // The second time the bytes go into the chunks the first round's write gave back.
                    Assert.True(allocated < Records * Width / 10, $"queuing {Records * Width} bytes again allocated {allocated} bytes");
                }

                var held = gate;
                Volatile.Write(ref gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                held.SetResult(); // one pass takes everything queued, then the writer waits again
                var waited = Stopwatch.StartNew();
                while (writer.Queued > 0 && waited.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(5);
                }

                Assert.Equal(0, writer.Queued);
            }
        }
    }

    [Fact]
    public async Task A_full_queue_drops_and_counts_new_records_and_keeps_the_queued_ones()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var writer = new Probe(capacity: 3, beforeWrite: () => release.Task);

        var accepted = Enumerable.Range(1, 5).Select(writer.TryWrite).ToList();

        Assert.Equal([true, true, true, false, false], accepted);
        Assert.Equal(2, writer.Dropped);
        Assert.Equal(3, writer.Queued);
        release.SetResult();
        await writer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("1\n2\n3\n", writer.Text);
        Assert.Equal(0, writer.Queued);
        Assert.True(writer.TryWrite(6)); // room again once written
    }

    [Fact]
    public async Task Disposing_while_requests_write_writes_every_accepted_record_and_refuses_the_rest()
    {
        var writer = new Probe(capacity: 1_000_000);
        var accepted = new System.Collections.Concurrent.ConcurrentBag<int>();
        using var go = new ManualResetEventSlim();
        var writers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            go.Wait();
            for (var i = 0; i < 20_000; i++)
            {
                var record = (t * 1_000_000) + i;
                if (writer.TryWrite(record))
                {
                    accepted.Add(record);
                }
            }
        })).ToArray();

        go.Set();
        await Task.Delay(5);
        await writer.DisposeAsync();
        await Task.WhenAll(writers);

        var written = writer.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).Order().ToList();
        Assert.Equal([.. accepted.Order()], written);
        Assert.Equal(80_000 - accepted.Count, writer.Dropped);
        Assert.False(writer.TryWrite(5));
    }

    /// <summary>This thread's nice value, from /proc (the field after the command name's closing parenthesis + 16).</summary>
    private static int ThreadNiceness()
    {
        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[16], CultureInfo.InvariantCulture);
    }

    private sealed class Probe : QueuedWriter<int>
    {
        private static readonly MetricRegistry Metrics = new();
        private readonly StringBuilder _written = new();
        private readonly Counter.Child _failures;

        public Probe(int capacity = 16_384, Func<Task>? beforeWrite = null)
            : this(Metrics.CreateCounter($"probe_failures_{Guid.NewGuid():N}", "Probe write failures.").Unlabelled, capacity, beforeWrite)
        {
        }

        private Probe(Counter.Child failures, int capacity, Func<Task>? beforeWrite)
            : base(
                new QueuedWriterOptions { WriteInterval = TimeSpan.FromMilliseconds(1), Capacity = capacity, BeforeWrite = beforeWrite },
                new QueuedWriterCounters(
                    Metrics.CreateCounter($"probe_written_{Guid.NewGuid():N}", "Probe records.").Unlabelled,
                    Metrics.CreateCounter($"probe_dropped_{Guid.NewGuid():N}", "Probe drops.").Unlabelled,
                    failures))
        {
            _failures = failures;
            Start();
        }

        /// <summary>A record of this plus n is a line of n letters.</summary>
        public const int Wide = 1_000_000_000;

        public bool FailNext { get; set; }

        /// <summary>Thrown by the next write, once (an I/O failure when null and <see cref="FailNext"/> is set).</summary>
        public Exception? FailWith { get; set; }

        public int AppendThread { get; private set; }

        public string? WriteThread { get; private set; }

        public int WriteNiceness { get; private set; }

        public double Failures => _failures.Value;

        public string Text
        {
            get
            {
                lock (_written)
                {
                    return _written.ToString();
                }
            }
        }

        protected override RecordEncoder CreateEncoder() => new Encoder(this);

        protected override void Write(ReadOnlySpan<byte> bytes)
        {
            WriteThread = Thread.CurrentThread.Name;
            WriteNiceness = OperatingSystem.IsLinux() ? ThreadNiceness() : 0;
            if (FailNext)
            {
                FailNext = false;
                throw new IOException("the disk is full");
            }

            if (FailWith is { } failure)
            {
                FailWith = null;
                throw failure;
            }

            lock (_written)
            {
                _written.Append(Encoding.UTF8.GetString(bytes));
            }
        }

        private sealed class Encoder(Probe probe) : RecordEncoder
        {
            public override void Append(int record, ArrayBufferWriter<byte> buffer)
            {
                if (record == -2)
                {
                    throw new NotSupportedException("a bug in the encoder");
                }

                if (record >= Wide)
                {
                    // A line of that many letters, encoded without allocating.
                    var width = record - Wide;
                    var span = buffer.GetSpan(width + 1);
                    span[..width].Fill((byte)'a');
                    span[width] = (byte)'\n';
                    buffer.Advance(width + 1);
                    return;
                }

                ArgumentOutOfRangeException.ThrowIfNegative(record);
                probe.AppendThread = Environment.CurrentManagedThreadId;

                buffer.Write(Encoding.UTF8.GetBytes(record.ToString(CultureInfo.InvariantCulture) + "\n"));
            }
        }
    }
}
