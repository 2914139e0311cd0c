using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Strata.Features;
using Strata.Features.OnlineStore;

namespace Strata.Benchmarks.Features;

/// <summary>
/// Online store reads for serving: 50 features (40 float64, 5 int64, 5 string) of one entity, and of 100 entities in a
/// batch, from a store of 100,000 entities; keys change from call to call, as they do in serving.
/// </summary>
[MemoryDiagnoser]
public class OnlineStoreBenchmarks : IDisposable
{
    private OnlineStoreFixture _fixture = null!;
    private FeatureValue[] _one = [];
    private FeatureValue[] _batch = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new OnlineStoreFixture(100_000);
        _one = new FeatureValue[_fixture.Reader.FeatureCount];
        _batch = new FeatureValue[100 * _fixture.Reader.FeatureCount];
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _fixture?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>50 features of one entity.</summary>
    [Benchmark]
    public FeatureStatus SingleEntity50Features()
    {
        _fixture.Reader.TryRead(_fixture.Keys[_next++ & OnlineStoreFixture.KeyMask], _fixture.Now, _one);
        return _one[0].Status;
    }

    /// <summary>50 features of 100 entities.</summary>
    [Benchmark]
    public FeatureStatus Batch100Entities50Features()
    {
        var start = (_next += 100) & (OnlineStoreFixture.KeyMask - 127);
        _fixture.Reader.TryReadBatch(_fixture.Keys.AsSpan(start, 100), _fixture.Now, _batch);
        return _batch[^1].Status;
    }
}

/// <summary>A store of wide rows in a temporary folder, and a pool of keys to read (some of them absent).</summary>
public sealed class OnlineStoreFixture : IDisposable
{
    /// <summary>Keys in the pool minus one (a power of two).</summary>
    public const int KeyMask = (1 << 16) - 1;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"strata-online-bench-{Guid.NewGuid():N}");
    private readonly EmbeddedOnlineStore _store;

    /// <summary>Writes <paramref name="entities"/> rows of 50 features.</summary>
    public OnlineStoreFixture(int entities)
    {
        var features = Enumerable.Range(0, 50)
            .Select(i => new Field($"f{i}", i < 40 ? DataType.Float64 : i < 45 ? DataType.Int64 : DataType.String))
            .ToArray();
        var view = new FeatureViewLayout("wide", [new Field("id", DataType.Int64)], "ts", features, ttl: TimeSpan.FromDays(1));
        _store = EmbeddedOnlineStore.Open(_folder, [view], new OnlineStoreOptions { SnapshotAfterLogBytes = 0 });
        var random = new Random(7);
        for (var start = 0; start < entities; start += 10_000)
        {
            var n = Math.Min(10_000, entities - start);
            var columns = new List<(string, Column)>
            {
                ("id", Columns.Int64([.. Enumerable.Range(start, n).Select(i => (long?)i)])),
                ("ts", Columns.Timestamp([.. Enumerable.Range(0, n).Select(_ => (long?)Now)])),
            };
            foreach (var f in features)
            {
                columns.Add((f.Name, f.Type switch
                {
                    DataType.Float64 => Columns.Float64([.. Enumerable.Range(0, n).Select(_ => (double?)random.NextDouble())]),
                    DataType.Int64 => Columns.Int64([.. Enumerable.Range(0, n).Select(_ => (long?)random.Next())]),
                    _ => Columns.String([.. Enumerable.Range(0, n).Select(_ => (string?)$"v{random.Next(100)}")]),
                }));
            }

            _store.WriteAsync("wide", Table.From([.. columns])).GetAwaiter().GetResult();
        }

        Reader = _store.CreateReader("wide");

        // One key in 20 is absent, as some entities of a request are new.
        Keys = [.. Enumerable.Range(0, KeyMask + 1).Select(_ => EntityKeyPart.FromInt64(random.Next(entities + (entities / 20))))];
    }

    /// <summary>The read instant (inside every row's TTL).</summary>
    public long Now { get; } = Timestamp.FromDateTime(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));

    /// <summary>A reader of all 50 features.</summary>
    public OnlineFeatureReader Reader { get; }

    /// <summary>Keys to read, in a random order.</summary>
    public EntityKeyPart[] Keys { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>
/// A quick latency distribution (not BenchmarkDotNet): each read timed with two Stopwatch timestamps, so the figures
/// include the ~20–30 ns of the timestamps themselves. `peer online-latency` runs it; tests never assert timings.
/// </summary>
public static class OnlineStoreLatency
{
    /// <summary>Times <paramref name="reads"/> single-entity reads (after a warm-up) and returns p50, p99, p99.9 and max in µs.</summary>
    public static (double P50, double P99, double P999, double Max) MeasureSingle(OnlineStoreFixture fixture, int reads)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        var results = new FeatureValue[fixture.Reader.FeatureCount];
        for (var i = 0; i < 200_000; i++)
        {
            fixture.Reader.TryRead(fixture.Keys[i & OnlineStoreFixture.KeyMask], fixture.Now, results);
        }

        var ticks = new long[reads];
        for (var i = 0; i < reads; i++)
        {
            var start = Stopwatch.GetTimestamp();
            fixture.Reader.TryRead(fixture.Keys[i & OnlineStoreFixture.KeyMask], fixture.Now, results);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        return Percentiles(ticks);
    }

    /// <summary>The same for batches of 100 entities.</summary>
    public static (double P50, double P99, double P999, double Max) MeasureBatch(OnlineStoreFixture fixture, int batches)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        var results = new FeatureValue[100 * fixture.Reader.FeatureCount];
        var ticks = new long[batches];
        for (var i = 0; i < batches; i++)
        {
            var at = (i * 100) & (OnlineStoreFixture.KeyMask - 127);
            var start = Stopwatch.GetTimestamp();
            fixture.Reader.TryReadBatch(fixture.Keys.AsSpan(at, 100), fixture.Now, results);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        return Percentiles(ticks);
    }

    private static (double, double, double, double) Percentiles(long[] ticks)
    {
        Array.Sort(ticks);
        double Micros(long t) => Math.Round(t * 1e6 / Stopwatch.Frequency, 3);
        return (Micros(ticks[ticks.Length / 2]), Micros(ticks[(int)(ticks.Length * 0.99)]), Micros(ticks[(int)(ticks.Length * 0.999)]), Micros(ticks[^1]));
    }
}
