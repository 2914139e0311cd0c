using System.Buffers.Binary;
using Strata.Features;
using Strata.Features.OnlineStore;
using Strata.Testing;

namespace Strata.Tests.Features.OnlineStore;

/// <summary>A write of several views (a push feeding them) on the embedded store: one log record, so all of them or none.</summary>
public sealed class OnlineStoreGroupWriteTests : IDisposable
{
    private static readonly FeatureViewLayout Drivers = OnlineStoreTests.Drivers;

    private static readonly FeatureViewLayout Pairs = OnlineStoreTests.Pairs;

    private readonly TempFolder _folder = new("online-group");

    public void Dispose() => _folder.Dispose();

    private EmbeddedOnlineStore Open() => EmbeddedOnlineStore.Open(_folder.Path, [Drivers, Pairs]);

    private static Table PairRows(string user, int item, long at, float score) => Table.From(
        ("user", Columns.String(user)),
        ("item", Columns.Int32(item)),
        ("event_ts", Columns.Timestamp(at)),
        ("score", Columns.Float32(score)),
        ("seen", Columns.Bool(true)));

    [Fact]
    public async Task A_write_of_several_views_cut_anywhere_by_a_crash_leaves_all_of_them_or_none()
    {
        // Each view's rows were a log record of their own, so a crash between two records of one push left the first
        // view with rows the second lacks.
        await using (var store = Open())
        {
            await store.WriteAsync("drivers", OnlineStoreTests.DriverRows([1], [10], null, [1.0]));
            await store.WriteAsync([new OnlineWrite("drivers", OnlineStoreTests.DriverRows([2], [10], null, [2.0])), new OnlineWrite("pairs", PairRows("a", 1, 10, 0.5f))]);
        }

        var log = Directory.GetFiles(_folder.Path, "log-*.wal").Single();
        var whole = await File.ReadAllBytesAsync(log);
        var firstEnd = LogRecords.HeaderSize + BinaryPrimitives.ReadInt32LittleEndian(whole);
        for (var cut = firstEnd; cut < whole.Length; cut++)
        {
            await File.WriteAllBytesAsync(log, whole[..cut]);
            using var store = Open();
            var drivers = store.CreateReader("drivers", ["rate"]);
            Assert.Equal(1.0, Read(drivers, 1L)[0].AsFloat64());
            Assert.True(Read(drivers, 2L)[0].Status == FeatureStatus.NotFound, $"cut at byte {cut} of {whole.Length}: driver 2 kept without its pair");
            Assert.Equal(0, store.EntityCount("pairs"));
        }

        // Whole, the record is replayed into both views.
        await File.WriteAllBytesAsync(log, whole);
        using (var store = Open())
        {
            Assert.Equal(2.0, Read(store.CreateReader("drivers", ["rate"]), 2L)[0].AsFloat64());
            Assert.Equal(0.5f, Read(store.CreateReader("pairs", ["score"]), "a", 1)[0].AsFloat32());
        }
    }

    [Fact]
    public async Task A_write_of_several_views_with_one_bad_table_writes_none_of_them()
    {
        await using var store = Open();
        var bad = PairRows("a", 1, 10, 0.5f).Select("user", "item", "event_ts", "score"); // no "seen"

        var error = await Assert.ThrowsAsync<StrataException>(() => store.WriteAsync([new OnlineWrite("drivers", OnlineStoreTests.DriverRows([2], [10], null, [2.0])), new OnlineWrite("pairs", bad)]));

        Assert.Equal(ErrorCodes.SchemaInvalid, error.Code);
        Assert.Equal(0, store.EntityCount("drivers"));
        Assert.Equal(0, store.EntityCount("pairs"));
        Assert.Equal(0, store.LastSequence);
    }

    private static FeatureValue[] Read(OnlineFeatureReader reader, params EntityKeyPart[] key)
    {
        var results = new FeatureValue[reader.FeatureCount];
        Assert.True(reader.TryRead(key, 10, results));
        return results;
    }
}
