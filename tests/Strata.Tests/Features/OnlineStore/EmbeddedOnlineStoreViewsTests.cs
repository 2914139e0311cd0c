using Strata.Features;
using Strata.Features.OnlineStore;
using Strata.Testing;

namespace Strata.Tests.Features.OnlineStore;

public sealed class EmbeddedOnlineStoreViewsTests : IDisposable
{
    private static readonly FeatureViewLayout Drivers = new(
        "drivers",
        [new Field("driver_id", DataType.Int64)],
        "event_ts",
        [new Field("rate", DataType.Float64), new Field("trips", DataType.Int32), new Field("city", DataType.String)],
        createdTimestampColumn: "created_ts",
        ttl: TimeSpan.FromSeconds(10));

    private static readonly FeatureViewLayout Extra = new("extra", [new Field("id", DataType.Int64)], "event_ts", [new Field("x", DataType.Int64)]);

    private readonly TempFolder _folder = new("online-views");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Reads_of_a_kept_view_keep_answering_while_views_are_applied()
    {
        await using var store = EmbeddedOnlineStore.Open(_folder.Path, [Drivers]);
        await store.WriteAsync("drivers", OnlineStoreTests.DriverRows([1], [100], null, [1.5]));
        var longerTtl = new FeatureViewLayout("drivers", Drivers.JoinKeys, "event_ts", Drivers.Features, "created_ts", TimeSpan.FromSeconds(20));
        using var stop = new CancellationTokenSource();
        var failures = 0;
        var reads = 0;
        var reader = Task.Run(async () =>
        {
            var results = new FeatureValue[1];
            var keys = new EntityKeyPart[] { 1L };
            while (!stop.IsCancellationRequested)
            {
                await store.ReadAsync("drivers", ["rate"], keys, 100, results);
                failures += results[0].Status == FeatureStatus.Present && results[0].AsFloat64() == 1.5 ? 0 : 1;
                reads++;
            }
        });

        for (var i = 0; i < 50; i++)
        {
            await store.ApplyViewsAsync(i % 2 == 0 ? [longerTtl, Extra] : [Drivers]); // drops "extra" every other time: a snapshot each
        }

        await stop.CancelAsync();
        await reader;

        Assert.True(reads > 0);
        Assert.Equal(0, failures);
    }

    [Fact]
    public async Task A_changed_view_is_empty_after_restarts_and_its_old_log_records_are_not_replayed()
    {
        var changed = new FeatureViewLayout("drivers", [new Field("driver_id", DataType.Int64)], "event_ts", [new Field("rate", DataType.Float32)]);
        await using (var store = EmbeddedOnlineStore.Open(_folder.Path, [Drivers, Extra]))
        {
            await store.WriteAsync("drivers", OnlineStoreTests.DriverRows([1, 2], [100, 100], null, [1.5, 2.5]));
            await store.WriteAsync("extra", Table.From(("id", Columns.Int64(7L)), ("event_ts", Columns.Timestamp(5L)), ("x", Columns.Int64(70L))));
            await store.ApplyViewsAsync([changed, Extra]);
            await store.WriteAsync("drivers", Table.From(("driver_id", Columns.Int64(3L)), ("event_ts", Columns.Timestamp(5L)), ("rate", Columns.Float32(0.5f))));
        }

        for (var restart = 0; restart < 2; restart++)
        {
            await using var reopened = EmbeddedOnlineStore.Open(_folder.Path, [changed, Extra]);
            Assert.Equal(1, reopened.EntityCount("drivers"));
            Assert.Equal(0.5f, Read(reopened, "drivers", ["rate"], 3L)[0].AsFloat32());
            Assert.Equal(FeatureStatus.NotFound, Read(reopened, "drivers", ["rate"], 1L)[0].Status);
            Assert.Equal(70L, Read(reopened, "extra", ["x"], 7L)[0].AsInt64());
        }

        // The old layout is refused rather than served the new rows.
        Assert.Equal(ErrorCodes.SchemaInvalid, Assert.Throws<StrataException>(() => EmbeddedOnlineStore.Open(_folder.Path, [Drivers, Extra])).Code);
    }

    [Fact]
    public async Task A_read_through_the_store_allocates_nothing_once_its_reader_is_cached()
    {
        await using var store = EmbeddedOnlineStore.Open(_folder.Path, [Drivers]);
        await store.WriteAsync("drivers", OnlineStoreTests.DriverRows([1, 2], [100, 100], null, [1.5, 2.5]));
        string[] features = ["rate", "city"];
        var keys = new EntityKeyPart[] { 1L, 2L, 3L };
        var results = new FeatureValue[6];
        await store.ReadAsync("drivers", features, keys, 100, results);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            var pending = store.ReadAsync("drivers", features, keys, 100, results);
            Assert.True(pending.IsCompletedSuccessfully);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal("c2", results[3].AsString());
    }

    private static FeatureValue[] Read(EmbeddedOnlineStore store, string view, string[] features, EntityKeyPart key)
    {
        var results = new FeatureValue[features.Length];
        store.ReadAsync(view, features, new[] { key }, 100, results).AsTask().GetAwaiter().GetResult();
        return results;
    }
}
