using Strata.Features;
using Strata.Features.OnlineStore;
using Strata.Testing;

namespace Strata.Tests.Features.OnlineStore;

public sealed class OnlineStoreTests : IDisposable
{
    /// <summary>A view keyed by one int64, with a created-timestamp column and a TTL (shared with the group-write tests).</summary>
    internal static readonly FeatureViewLayout Drivers = new(
        "drivers",
        [new Field("driver_id", DataType.Int64)],
        "event_ts",
        [new Field("rate", DataType.Float64), new Field("trips", DataType.Int32), new Field("city", DataType.String)],
        createdTimestampColumn: "created_ts",
        ttl: TimeSpan.FromSeconds(10));

    /// <summary>A view keyed by two columns (string, int32).</summary>
    internal static readonly FeatureViewLayout Pairs = new(
        "pairs",
        [new Field("user", DataType.String), new Field("item", DataType.Int32)],
        "event_ts",
        [new Field("score", DataType.Float32), new Field("seen", DataType.Bool)]);

    private readonly TempFolder _folder = new("online");

    public void Dispose() => _folder.Dispose();

    private EmbeddedOnlineStore Open(OnlineStoreOptions? options = null) => EmbeddedOnlineStore.Open(_folder.Path, [Drivers, Pairs], options);

    internal static Table DriverRows(long[] ids, long[] events, long[]? created, double?[] rates, int?[]? trips = null, string?[]? cities = null) =>
        Table.From(
            ("driver_id", Columns.Int64(ids.Select(i => (long?)i).ToArray())),
            ("event_ts", Columns.Timestamp(events.Select(e => (long?)e).ToArray())),
            ("created_ts", Columns.Timestamp((created ?? new long[ids.Length]).Select(e => (long?)e).ToArray())),
            ("rate", Columns.Float64(rates)),
            ("trips", Columns.Int32(trips ?? ids.Select(i => (int?)i).ToArray())),
            ("city", Columns.String(cities ?? ids.Select(i => (string?)$"c{i}").ToArray())));

    private static FeatureValue[] Read(OnlineFeatureReader reader, EntityKeyPart key, long now = 0)
    {
        var results = new FeatureValue[reader.FeatureCount];
        Assert.True(reader.TryRead(key, now, results));
        return results;
    }

    [Fact]
    public async Task A_store_open_elsewhere_is_refused_with_a_clear_conflict_and_can_be_opened_once_closed()
    {
        var first = Open();
        await first.WriteAsync("drivers", DriverRows([1], [100], null, [0.5]));

        var e = Assert.Throws<StrataException>(() => Open());
        Assert.Equal(ErrorCodes.Conflict, e.Code);
        Assert.Contains("open in another process", e.Message, StringComparison.Ordinal);

        await first.DisposeAsync();
        await using var second = Open();
        Assert.Equal(1, second.EntityCount("drivers"));
    }

    [Fact]
    public async Task Newest_event_time_wins_even_when_an_older_row_arrives_later()
    {
        using var store = Open();
        await store.WriteAsync("drivers", DriverRows([1], [200], null, [2.0]));
        await store.WriteAsync("drivers", DriverRows([1], [100], null, [1.0]));

        var values = Read(store.CreateReader("drivers"), 1L, now: 200);

        Assert.Equal(2.0, values[0].AsFloat64());
        Assert.Equal(200, values[0].EventTimestamp);
    }

    [Fact]
    public async Task Within_one_batch_the_newest_row_of_a_key_wins_whatever_its_position()
    {
        using var store = Open();
        await store.WriteAsync("drivers", DriverRows([1, 1, 1, 2], [100, 300, 200, 50], null, [1.0, 3.0, 2.0, 9.0]));

        var reader = store.CreateReader("drivers", ["rate"]);

        Assert.Equal(3.0, Read(reader, 1L, 300)[0].AsFloat64());
        Assert.Equal(9.0, Read(reader, 2L, 50)[0].AsFloat64());
    }

    [Fact]
    public async Task Event_time_ties_go_to_the_newer_created_time_then_to_the_later_write()
    {
        using var store = Open();
        var reader = store.CreateReader("drivers", ["rate"]);
        await store.WriteAsync("drivers", DriverRows([1], [100], [50], [1.0]));
        await store.WriteAsync("drivers", DriverRows([1], [100], [40], [2.0]));
        Assert.Equal(1.0, Read(reader, 1L, 100)[0].AsFloat64());

        await store.WriteAsync("drivers", DriverRows([1], [100], [60], [3.0]));
        Assert.Equal(3.0, Read(reader, 1L, 100)[0].AsFloat64());

        await store.WriteAsync("drivers", DriverRows([1], [100], [60], [4.0]));
        Assert.Equal(4.0, Read(reader, 1L, 100)[0].AsFloat64());

        await store.WriteAsync("drivers", DriverRows([1, 1], [100, 100], [60, 60], [5.0, 6.0]));
        Assert.Equal(6.0, Read(reader, 1L, 100)[0].AsFloat64());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Random_out_of_order_writes_agree_with_a_naive_newest_wins_reference(int seed)
    {
        var random = new Random(seed);
        var expected = new Dictionary<long, (long Event, long Created, long Order, double Rate)>();
        long order = 0;
        await using (var store = Open())
        {
            for (var b = 0; b < 30; b++)
            {
                var n = random.Next(1, 30);
                var ids = Enumerable.Range(0, n).Select(_ => (long)random.Next(20)).ToArray();
                var events = Enumerable.Range(0, n).Select(_ => (long)random.Next(4)).ToArray();
                var created = Enumerable.Range(0, n).Select(_ => (long)random.Next(3)).ToArray();
                var rates = Enumerable.Range(0, n).Select(_ => (double?)random.Next(1000)).ToArray();
                await store.WriteAsync("drivers", DriverRows(ids, events, created, rates));
                for (var i = 0; i < n; i++)
                {
                    var row = (events[i], created[i], ++order, rates[i]!.Value);
                    if (!expected.TryGetValue(ids[i], out var old) || (row.Item1, row.Item2, row.Item3).CompareTo((old.Event, old.Created, old.Order)) > 0)
                    {
                        expected[ids[i]] = row;
                    }
                }

                if (b == 20)
                {
                    await store.SnapshotAsync();
                }
            }
        }

        using var reopened = Open();
        var reader = reopened.CreateReader("drivers", ["rate"]);
        for (long id = 0; id < 20; id++)
        {
            var value = Read(reader, id, 3)[0];
            if (expected.TryGetValue(id, out var row))
            {
                Assert.True(row.Rate == value.AsFloat64(), $"seed {seed}, key {id}: expected {row.Rate}, read {value}");
                Assert.Equal(row.Event, value.EventTimestamp);
            }
            else
            {
                Assert.Equal(FeatureStatus.NotFound, value.Status);
            }
        }
    }

    [Fact]
    public async Task Statuses_are_present_null_value_not_found_and_outside_max_age_at_the_exact_boundary()
    {
        using var store = Open();
        var ttl = Drivers.TtlMicros;
        await store.WriteAsync("drivers", DriverRows([1], [1_000_000], null, [null], [7], ["x"]));
        var reader = store.CreateReader("drivers", ["rate", "trips"]);

        var atBoundary = Read(reader, 1L, now: 1_000_000 + ttl);
        Assert.Equal(FeatureStatus.NullValue, atBoundary[0].Status);
        Assert.Equal(FeatureStatus.Present, atBoundary[1].Status);
        Assert.Equal(7, atBoundary[1].AsInt32());
        Assert.Equal(1_000_000, atBoundary[1].EventTimestamp);

        var past = Read(reader, 1L, now: 1_000_000 + ttl + 1);
        Assert.All(past, v => Assert.Equal(FeatureStatus.OutsideMaxAge, v.Status));
        Assert.Null(past[1].Value);
        Assert.Equal(1_000_000, past[1].EventTimestamp);

        var missing = Read(reader, 2L, now: 1_000_000);
        Assert.All(missing, v => Assert.Equal(FeatureStatus.NotFound, v.Status));
    }

    [Fact]
    public async Task Multi_column_string_keys_find_exactly_their_entity()
    {
        using var store = Open();
        await store.WriteAsync("pairs", Table.From(
            ("user", Columns.String("ann", "ann", "bob", "")),
            ("item", Columns.Int32(1, 2, 1, 1)),
            ("event_ts", Columns.Timestamp(1L, 1L, 1L, 1L)),
            ("score", Columns.Float32(0.5f, 0.25f, 0.75f, 1f)),
            ("seen", Columns.Bool(true, false, true, null))));
        var reader = store.CreateReader("pairs");
        var results = new FeatureValue[2];

        Assert.True(reader.TryRead(["ann", 2], 1, results));
        Assert.Equal(0.25f, results[0].AsFloat32());
        Assert.False(results[1].AsBool());

        Assert.True(reader.TryRead(["bob", 1], 1, results));
        Assert.Equal(0.75f, results[0].AsFloat32());

        Assert.True(reader.TryRead(["", 1], 1, results));
        Assert.Equal(FeatureStatus.NullValue, results[1].Status);

        Assert.True(reader.TryRead(["bob", 2], 1, results));
        Assert.Equal(FeatureStatus.NotFound, results[0].Status);
    }

    [Fact]
    public void A_hash_collision_never_returns_another_entitys_values()
    {
        var index = new ViewIndex(Drivers, new CollidingComparer());
        index.Apply(new byte[] { 1 }, new EntityRow(1, 0, 1, [new FeatureCell(10, null, true)]));
        index.Apply(new byte[] { 2 }, new EntityRow(1, 0, 1, [new FeatureCell(20, null, true)]));

        Assert.True(index.TryGet(new byte[] { 2 }, out var row));
        Assert.Equal(20, row!.Cell(0).Bits);
        Assert.False(index.TryGet(new byte[] { 3 }, out _));
    }

    [Fact]
    public async Task Batch_reads_return_each_entity_in_its_own_slice()
    {
        using var store = Open();
        await store.WriteAsync("drivers", DriverRows([1, 2, 3], [5, 5, 5], null, [1.0, 2.0, 3.0]));
        var reader = store.CreateReader("drivers", ["city", "rate"]);
        var results = new FeatureValue[8];

        Assert.False(reader.TryReadBatch([3L, 9L, 1L, 2L, 4L], 5, results));
        Assert.True(reader.TryReadBatch([3L, 9L, 1L, 2L], 5, results));

        Assert.Equal("c3", results[0].AsString());
        Assert.Equal(3.0, results[1].AsFloat64());
        Assert.Equal(FeatureStatus.NotFound, results[2].Status);
        Assert.Equal("c1", results[4].AsString());
        Assert.Equal(2.0, results[7].AsFloat64());
    }

    [Fact]
    public async Task Reopening_after_close_returns_the_same_values()
    {
        await using (var store = Open())
        {
            await store.WriteAsync("drivers", DriverRows([1, 2], [10, 20], [1, 2], [1.5, null], [3, 4], ["a", null]));
            await store.WriteAsync("pairs", Table.From(
                ("user", Columns.String("ann")), ("item", Columns.Int32(7)), ("event_ts", Columns.Timestamp(3L)),
                ("score", Columns.Float32(-2f)), ("seen", Columns.Bool(true))));
        }

        using var reopened = Open();
        var drivers = reopened.CreateReader("drivers");
        var one = Read(drivers, 1L, 10);
        Assert.Equal([1.5, 3, "a"], one.Select(v => v.Value!));
        var two = Read(drivers, 2L, 20);
        Assert.Equal([FeatureStatus.NullValue, FeatureStatus.Present, FeatureStatus.NullValue], two.Select(v => v.Status));
        var pair = new FeatureValue[2];
        Assert.True(reopened.CreateReader("pairs").TryRead(["ann", 7], 3, pair));
        Assert.Equal(-2f, pair[0].AsFloat32());
        Assert.True(pair[1].AsBool());
    }

    [Fact]
    public async Task A_torn_last_record_is_dropped_at_every_cut_and_earlier_records_are_kept()
    {
        await using (var store = Open())
        {
            await store.WriteAsync("drivers", DriverRows([1], [10], null, [1.0]));
            await store.WriteAsync("drivers", DriverRows([2], [10], null, [2.0]));
        }

        var log = Directory.GetFiles(_folder.Path, "log-*.wal").Single();
        var whole = await File.ReadAllBytesAsync(log);
        var firstEnd = FirstRecordLength(whole);
        for (var cut = firstEnd; cut < whole.Length; cut++)
        {
            await File.WriteAllBytesAsync(log, whole[..cut]);
            using (var store = Open())
            {
                var reader = store.CreateReader("drivers", ["rate"]);
                Assert.Equal(1.0, Read(reader, 1L, 10)[0].AsFloat64());
                Assert.Equal(FeatureStatus.NotFound, Read(reader, 2L, 10)[0].Status);
            }

            Assert.Equal(firstEnd, new FileInfo(log).Length); // the tail is cut on disk, so new appends follow a whole record
        }

        // After the truncation the store takes new writes and keeps them.
        await using (var store = Open())
        {
            await store.WriteAsync("drivers", DriverRows([3], [10], null, [3.0]));
        }

        using var last = Open();
        Assert.Equal(3.0, Read(last.CreateReader("drivers", ["rate"]), 3L, 10)[0].AsFloat64());
    }

    [Fact]
    public async Task A_flipped_byte_in_a_middle_record_is_a_clear_error()
    {
        await using (var store = Open())
        {
            await store.WriteAsync("drivers", DriverRows([1], [10], null, [1.0]));
            await store.WriteAsync("drivers", DriverRows([2], [10], null, [2.0]));
        }

        var log = Directory.GetFiles(_folder.Path, "log-*.wal").Single();
        var whole = await File.ReadAllBytesAsync(log);
        var firstEnd = FirstRecordLength(whole);
        for (var at = 0; at < firstEnd; at++)
        {
            var damaged = (byte[])whole.Clone();
            damaged[at] ^= 0x20;
            await File.WriteAllBytesAsync(log, damaged);

            var error = Assert.Throws<StrataException>(() => Open());
            Assert.Contains("corrupted", error.Message, StringComparison.Ordinal);
            Assert.Contains(Path.GetFileName(log), error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Snapshot_plus_log_replay_gives_the_same_values_as_the_log_alone()
    {
        var random = new Random(42);
        var batches = Enumerable.Range(0, 40).Select(_ =>
        {
            var n = random.Next(1, 20);
            return DriverRows(
                Enumerable.Range(0, n).Select(_ => (long)random.Next(50)).ToArray(),
                Enumerable.Range(0, n).Select(_ => (long)random.Next(5)).ToArray(),
                Enumerable.Range(0, n).Select(_ => (long)random.Next(3)).ToArray(),
                Enumerable.Range(0, n).Select(_ => random.Next(4) == 0 ? (double?)null : random.NextDouble()).ToArray());
        }).ToList();

        using var other = new TempFolder("online-log-only");
        await using (var logOnly = EmbeddedOnlineStore.Open(other.Path, [Drivers, Pairs]))
        await using (var snapshotted = Open())
        {
            for (var b = 0; b < batches.Count; b++)
            {
                await logOnly.WriteAsync("drivers", batches[b]);
                await snapshotted.WriteAsync("drivers", batches[b]);
                if (b % 13 == 12)
                {
                    await snapshotted.SnapshotAsync();
                }
            }
        }

        Assert.Single(Directory.GetFiles(_folder.Path, "snapshot-*.snap"));
        using var a = EmbeddedOnlineStore.Open(other.Path, [Drivers, Pairs]);
        using var b2 = Open();
        Assert.Equal(a.EntityCount("drivers"), b2.EntityCount("drivers"));
        var ra = a.CreateReader("drivers");
        var rb = b2.CreateReader("drivers");
        for (long id = 0; id < 50; id++)
        {
            Assert.Equal(Read(ra, id, 5), Read(rb, id, 5));
        }
    }

    [Fact]
    public async Task A_damaged_snapshot_is_refused_rather_than_silently_skipped()
    {
        await using (var store = Open())
        {
            await store.WriteAsync("drivers", DriverRows([1, 2, 3], [10, 10, 10], null, [1.0, 2.0, 3.0]));
            await store.SnapshotAsync();
        }

        var snapshot = Directory.GetFiles(_folder.Path, "snapshot-*.snap").Single();
        var bytes = await File.ReadAllBytesAsync(snapshot);
        bytes[bytes.Length / 2] ^= 1;
        await File.WriteAllBytesAsync(snapshot, bytes);

        var error = Assert.Throws<StrataException>(() => Open());
        Assert.Contains(Path.GetFileName(snapshot), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reopening_with_a_changed_view_layout_is_a_clear_error()
    {
        await using (var store = Open())
        {
            await store.WriteAsync("drivers", DriverRows([1], [10], null, [1.0]));
        }

        var changed = new FeatureViewLayout("drivers", Drivers.JoinKeys, "event_ts", [new Field("rate", DataType.Float32)], "created_ts");

        var error = Assert.Throws<StrataException>(() => EmbeddedOnlineStore.Open(_folder.Path, [changed, Pairs]));

        Assert.Contains("'drivers'", error.Message, StringComparison.Ordinal);
        Assert.Contains("another layout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Automatic_snapshots_rotate_the_log_and_keep_every_value()
    {
        await using (var store = Open(new OnlineStoreOptions { SnapshotAfterLogBytes = 2_000 }))
        {
            for (var i = 0; i < 100; i++)
            {
                await store.WriteAsync("drivers", DriverRows([i % 30], [i], null, [i]));
            }
        }

        Assert.Single(Directory.GetFiles(_folder.Path, "snapshot-*.snap"));
        Assert.True(new FileInfo(Directory.GetFiles(_folder.Path, "log-*.wal").Single()).Length < 2_000);
        using var reopened = Open();
        var reader = reopened.CreateReader("drivers", ["rate"]);
        for (var id = 0; id < 30; id++)
        {
            Assert.Equal(id < 10 ? 90 + id : 60 + id, Read(reader, (long)id, 100)[0].AsFloat64());
        }
    }

    [Fact]
    public async Task Concurrent_readers_see_whole_writes_never_features_of_two_writes()
    {
        var view = new FeatureViewLayout("wide", [new Field("id", DataType.Int64)], "ts",
            Enumerable.Range(0, 20).Select(i => new Field($"f{i}", DataType.Int64)).ToArray());
        using var store = EmbeddedOnlineStore.Open(_folder.Path, [view]);
        var reader = store.CreateReader("wide");
        using var stop = new CancellationTokenSource();
        using var started = new CountdownEvent(2);
        long reads = 0;
        long mixedWrites = 0;

        // Dedicated threads, so the readers run during the writes even when the thread pool is busy.
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(() =>
        {
            var results = new FeatureValue[20];
            started.Signal();
            while (!stop.IsCancellationRequested)
            {
                reader.TryRead(7L, 0, results);
                if (results[0].Status == FeatureStatus.Present)
                {
                    var first = results[0].AsInt64();
                    for (var i = 1; i < results.Length; i++)
                    {
                        if (results[i].AsInt64() != first || results[i].EventTimestamp != first)
                        {
                            Interlocked.Increment(ref mixedWrites);
                        }
                    }
                }

                Interlocked.Increment(ref reads);
            }
        }, stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
        long w = 0;
        while (w < 200 || (Interlocked.Read(ref reads) < 10_000 && w < 20_000))
        {
            w++;
            var columns = new List<(string, Column)> { ("id", Columns.Int64(7L)), ("ts", Columns.Timestamp(w)) };
            columns.AddRange(Enumerable.Range(0, 20).Select(i => ($"f{i}", (Column)Columns.Int64(w))));
            await store.WriteAsync("wide", Table.From(columns.ToArray()));
        }

        await stop.CancelAsync();
        await Task.WhenAll(readers);
        Assert.Equal(0, Interlocked.Read(ref mixedWrites));
        Assert.True(reads >= 10_000, $"only {reads} reads during {w} writes");
        Assert.Equal(w, Read(reader, 7L)[5].AsInt64());
    }

    [Fact]
    public async Task Concurrent_writers_share_commits_and_every_acknowledged_write_is_kept()
    {
        await using (var store = Open(new OnlineStoreOptions { SnapshotAfterLogBytes = 20_000 }))
        {
            var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                for (var i = 1; i <= 25; i++)
                {
                    await store.WriteAsync("drivers", DriverRows([w], [i], null, [(w * 1000) + i]));
                }
            }));
            await Task.WhenAll(writers);
            Assert.Equal(200, store.LastSequence);
        }

        using var reopened = Open();
        var reader = reopened.CreateReader("drivers", ["rate"]);
        for (var w = 0; w < 8; w++)
        {
            Assert.Equal((w * 1000) + 25, Read(reader, (long)w, 25)[0].AsFloat64());
        }
    }

    [Theory]
    [InlineData("missing", "rate")]
    [InlineData("wrong type", "trips")]
    [InlineData("extra", "bonus")]
    [InlineData("null key", "driver_id")]
    public async Task A_write_that_does_not_match_the_view_names_the_column_and_changes_nothing(string problem, string column)
    {
        using var store = Open();
        await store.WriteAsync("drivers", DriverRows([1], [1], null, [1.0]));
        var good = DriverRows([1, 2], [5, 5], null, [5.0, 6.0]);
        var bad = problem switch
        {
            "missing" => good.Select("driver_id", "event_ts", "created_ts", "trips", "city"),
            "wrong type" => new Table(
                new Schema(good.Schema.Select(f => f.Name == "trips" ? f.WithType(DataType.Int64) : f)),
                good.Columns.Select(c => c.Type == DataType.Int32 ? Columns.Int64(1L, 2L) : c)),
            "extra" => Table.From(good.Schema.Names.Select(n => (n, good[n])).Append(("bonus", Columns.Int64(1L, 2L))).ToArray()),
            _ => new Table(good.Schema, good.Columns.Select((c, i) => i == 0 ? Columns.Int64(1L, null) : c)),
        };
        var sequence = store.LastSequence;

        var error = await Assert.ThrowsAsync<StrataException>(() => store.WriteAsync("drivers", bad));

        Assert.Contains($"'{column}'", error.Message, StringComparison.Ordinal);
        Assert.True(error.IsCallerError);
        Assert.Equal(sequence, store.LastSequence);
        var reader = store.CreateReader("drivers", ["rate"]);
        Assert.Equal(1.0, Read(reader, 1L, 1)[0].AsFloat64());
        Assert.Equal(FeatureStatus.NotFound, Read(reader, 2L, 1)[0].Status);
    }

    [Fact]
    public async Task Reading_one_entity_allocates_nothing()
    {
        using var store = Open();
        await store.WriteAsync("drivers", DriverRows([1], [1], null, [1.0]));
        var reader = store.CreateReader("drivers");
        var results = new FeatureValue[reader.FeatureCount];
        reader.TryRead(1L, 1, results);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            reader.TryRead(1L, 1, results);
            reader.TryRead(2L, 1, results);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void An_unknown_view_or_feature_is_a_clear_error()
    {
        using var store = Open();
        Assert.Contains("'nope'", Assert.Throws<StrataException>(() => store.CreateReader("nope")).Message, StringComparison.Ordinal);
        Assert.Contains("'speed'", Assert.Throws<StrataException>(() => store.CreateReader("drivers", ["speed"])).Message, StringComparison.Ordinal);
    }

    private static int FirstRecordLength(byte[] log) => LogRecords.HeaderSize + BitConverter.ToInt32(log, 0);

    private sealed class CollidingComparer : ByteKeyComparer
    {
        protected override int Hash(ReadOnlySpan<byte> key) => 42;
    }
}
