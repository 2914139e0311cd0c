using Strata.Features;
using Strata.Features.OfflineStore;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.Tests.Features.OfflineStore;

public sealed class EmbeddedOfflineStoreTests : OfflineStoreConformance, IDisposable
{
    private readonly TempFolder _folder = new("strata-offline");

    private string StoreFolder => Path.Combine(_folder.Path, "offline", "demo");

    protected override async Task<IOfflineStore> OpenStoreAsync() => await EmbeddedOfflineStore.OpenAsync(StoreFolder);

    protected override async Task<IOfflineStore> ReopenStoreAsync(IOfflineStore store)
    {
        await store.DisposeAsync();
        return await EmbeddedOfflineStore.OpenAsync(StoreFolder);
    }

    public void Dispose() => _folder.Dispose();

    [BackendFact]
    public async Task An_append_splits_rows_into_one_segment_per_event_day()
    {
        var view = Layout("daily");
        var rows = RandomRows(new Random(4), view, 500, days: 3);

        await Store.AppendAsync(view, rows);

        Assert.Equal(3, Directory.GetFiles(Path.Combine(StoreFolder, "daily"), "seg-*.arrow").Length);
    }

    [BackendFact]
    public async Task Two_stores_on_one_folder_see_each_others_appends_and_lose_none()
    {
        // What a server and a CLI command on one home do: each append re-reads the manifest under the view's lock file.
        var view = Layout("shared");
        await using var other = await EmbeddedOfflineStore.OpenAsync(StoreFolder);
        var random = new Random(8);
        var writes = Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? Store : other).AppendAsync(view, RandomRows(random, view, 50, days: 2))).ToArray();
        await Task.WhenAll(writes); // concurrently: the two stores' appends interleave on the lock file

        foreach (var store in new[] { Store, other })
        {
            var count = 0;
            await foreach (var batch in store.ReadAsync(view, long.MinValue, long.MaxValue, 1000))
            {
                count += batch.RowCount;
            }

            Assert.Equal(1000, count);
        }

        await using var reopened = await EmbeddedOfflineStore.OpenAsync(StoreFolder);
        Assert.NotNull(await reopened.GetEventTimeRangeAsync(view));
    }

    [BackendFact]
    public async Task Leftovers_of_an_interrupted_append_are_ignored_and_deleted_on_open()
    {
        var view = Layout("crashy");
        var rows = RandomRows(new Random(6), view, 200, days: 2);
        await Store.AppendAsync(view, rows);
        var folder = Path.Combine(StoreFolder, "crashy");

        // A segment written but never named by the manifest, and a temporary file of an unfinished write.
        var stray = Path.Combine(folder, "seg-0000009999-p" + EmbeddedOfflineStore.Partition(T0) + ".arrow");
        await Strata.Data.Arrow.ArrowFile.WriteAsync(rows, stray);
        var temp = Path.Combine(folder, ".manifest.123.abc.tmp");
        await File.WriteAllTextAsync(temp, "torn");

        await using var reopened = await EmbeddedOfflineStore.OpenAsync(StoreFolder);

        Assert.False(File.Exists(stray));
        Assert.False(File.Exists(temp));
        var count = 0;
        await foreach (var batch in reopened.ReadAsync(view, long.MinValue, long.MaxValue, 1000))
        {
            count += batch.RowCount;
        }

        Assert.Equal(200, count);
    }

    [BackendFact]
    public async Task A_damaged_manifest_is_reported_not_silently_dropped()
    {
        var view = Layout("damaged");
        await Store.AppendAsync(view, RandomRows(new Random(7), view, 20, days: 1));
        var manifest = Path.Combine(StoreFolder, "damaged", "manifest");
        var bytes = await File.ReadAllBytesAsync(manifest);
        bytes[30] ^= 1;
        await File.WriteAllBytesAsync(manifest, bytes);

        var e = await Assert.ThrowsAsync<StrataException>(() => EmbeddedOfflineStore.OpenAsync(StoreFolder));

        Assert.Equal(ErrorCodes.DataMalformed, e.Code);
    }

    [BackendFact]
    public async Task Concurrent_appends_to_one_view_all_land()
    {
        var view = Layout("busy");
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Store.AppendAsync(view, RandomRows(new Random(i), view, 50, days: 2))));

        var count = 0;
        await foreach (var batch in Store.ReadAsync(view, long.MinValue, long.MaxValue, 1000))
        {
            count += batch.RowCount;
        }

        Assert.Equal(400, count);
    }
}
