using System.Globalization;
using Strata.Features;
using Strata.Features.OfflineStore;
using Strata.Testing;
using Xunit.Abstractions;

namespace Strata.IntegrationTests.Reliability;

/// <summary>
/// A child process appends batches to the embedded offline store (acknowledging each batch once AppendAsync returns)
/// while this test kills it with SIGKILL at random moments, in segment writes, fsyncs, renames and the manifest commit.
/// After every kill the store must open, hold every acknowledged batch whole, hold any other batch whole or not at all,
/// keep no file its manifest does not name, and take and return a new append. STRATA_CRASH_KILLS sets the count (10 by
/// default; the full run is 200).
/// </summary>
[Collection(Sequential.Name)]
public sealed class OfflineStoreCrashTests : IDisposable
{
    private static readonly int Kills = CrashWriterProcess.Kills(byDefault: 10);

    private const long T0 = 1_704_067_200_000_000; // 2024-01-01T00:00Z, the child's first event day
    private const long Day = 86_400_000_000;

    // The test's own appends land a month before the child's rows, so reading them back touches only their partitions.
    private const long ProbeFrom = T0 - (30 * Day);
    private const long ProbeTo = ProbeFrom + (2 * Day);

    // The child's view, repeated here (the test does not reference the child); the stored layout signature makes a
    // mismatch fail loudly.
    private static readonly FeatureViewLayout View = new(
        "crash",
        [new Field("id", DataType.Int64)],
        "event_ts",
        [
            new Field("batch", DataType.Int64),
            new Field("row", DataType.Int64),
            new Field("rows", DataType.Int64),
            new Field("value", DataType.Float64),
            new Field("label", DataType.String),
        ]);

    private readonly TempFolder _folder = new("offline-crash");
    private readonly ITestOutputHelper _output;

    public OfflineStoreCrashTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _folder.Dispose();

    [Fact(Timeout = 1_800_000)]
    public async Task Every_acknowledged_offline_append_survives_sigkill_and_no_append_is_partial()
    {
        var folder = Path.Combine(_folder.Path, "offline");
        var random = new Random(2468);

        // Batches that must be present and whole: acknowledged by the child, appended by this test, or seen committed
        // after an earlier kill (committed data never goes away).
        var required = new Dictionary<long, int>();
        var acknowledged = 0;
        var inflightCommitted = 0;
        for (var kill = 0; kill < Kills; kill++)
        {
            var acks = await RunAndKillAsync(folder, seed: kill, delay: TimeSpan.FromMilliseconds(random.Next(30, 600)));
            foreach (var (batch, rows) in acks)
            {
                required[batch] = rows;
            }

            acknowledged += acks.Count;
            var lastAcked = acks.Count == 0 ? -1 : acks[^1].Batch - (kill * 1_000_000L);
            inflightCommitted += await VerifyAsync(folder, required, kill, lastAcked);
        }

        Assert.True(acknowledged > Kills, $"only {acknowledged} batches acknowledged over {Kills} kills");
        _output.WriteLine($"offline crash test: {Kills} kills, {acknowledged} acknowledged appends, {inflightCommitted} unacknowledged appends found committed");
    }

    /// <summary>Checks the store after kill <paramref name="kill"/>; returns 1 if the child's in-flight append had committed.</summary>
    private static async Task<int> VerifyAsync(string folder, Dictionary<long, int> required, int kill, long lastAcked)
    {
        await using var store = await EmbeddedOfflineStore.OpenAsync(folder); // opens cleanly: no damaged manifest, recovery succeeds
        AssertOnlyCommittedFilesRemain(folder, kill);

        var found = await CountRowsPerBatchAsync(store, long.MinValue, long.MaxValue, kill);
        foreach (var (batch, rows) in required)
        {
            Assert.True(found.TryGetValue(batch, out var count), $"after kill {kill}: acknowledged batch {batch} is missing");
            Assert.True(count == rows, $"after kill {kill}: batch {batch} has {count} of {rows} rows");
        }

        // Anything else is what the kill interrupted: at most the one append after the last acknowledged one (or the
        // last one itself, if the kill fell between AppendAsync returning and the line reaching stdout).
        var extra = found.Keys.Where(b => !required.ContainsKey(b)).ToList();
        Assert.True(extra.Count <= 1, $"after kill {kill}: unacknowledged batches {string.Join(", ", extra)}");
        foreach (var batch in extra)
        {
            Assert.True(batch == (kill * 1_000_000L) + lastAcked + 1, $"after kill {kill}: unexpected batch {batch} (last acknowledged {lastAcked})");
            required[batch] = found[batch]; // whole (checked by the count), and from now on it must stay
        }

        // The store still takes appends, and they read back.
        var probe = -(kill + 1L);
        var probeRows = Probe(probe, 50 + kill % 50);
        await store.AppendAsync(View, probeRows);
        var probed = await CountRowsPerBatchAsync(store, ProbeFrom, ProbeTo, kill);
        Assert.True(probed.GetValueOrDefault(probe) == probeRows.RowCount, $"after kill {kill}: the probe append reads back {probed.GetValueOrDefault(probe)} of {probeRows.RowCount} rows");
        required[probe] = probeRows.RowCount;
        return extra.Count;
    }

    /// <summary>Rows per batch id; every batch found is checked whole (all indices 0..rows−1 once) and every row real.</summary>
    private static async Task<Dictionary<long, int>> CountRowsPerBatchAsync(EmbeddedOfflineStore store, long from, long to, int kill)
    {
        var seen = new Dictionary<long, (long Rows, HashSet<long> Indices)>();
        await foreach (var table in store.ReadAsync(View, from, to, batchRows: 8192))
        {
            var ids = table.GetColumn<long>("id").Values;
            var batches = table.GetColumn<long>("batch").Values;
            var rowIndex = table.GetColumn<long>("row").Values;
            var rows = table.GetColumn<long>("rows").Values;
            var values = table.GetColumn<double>("value").Values;
            for (var i = 0; i < table.RowCount; i++)
            {
                var batch = batches[i];
                Assert.True(ids[i] == KeyOf(batch, rowIndex[i]) && values[i] == ValueOf(batch, rowIndex[i]), $"after kill {kill}: batch {batch} row {rowIndex[i]} is not a row the writer made");
                if (!seen.TryGetValue(batch, out var entry))
                {
                    seen[batch] = entry = (rows[i], []);
                }

                Assert.True(entry.Rows == rows[i] && rowIndex[i] >= 0 && rowIndex[i] < rows[i], $"after kill {kill}: batch {batch} disagrees on its row count");
                Assert.True(entry.Indices.Add(rowIndex[i]), $"after kill {kill}: batch {batch} row {rowIndex[i]} is stored twice");
            }
        }

        foreach (var (batch, (rows, indices)) in seen)
        {
            Assert.True(indices.Count == rows, $"after kill {kill}: batch {batch} is partial ({indices.Count} of {rows} rows)");
        }

        return seen.ToDictionary(p => p.Key, p => p.Value.Indices.Count);
    }

    /// <summary>After open, the view folder holds its manifest, its lock file and exactly the segments it names: no temporaries, no orphans.</summary>
    private static void AssertOnlyCommittedFilesRemain(string folder, int kill)
    {
        Assert.Empty(Directory.GetFiles(folder));
        var viewFolder = Path.Combine(folder, View.Name);
        if (!Directory.Exists(viewFolder))
        {
            return; // killed before the first append created it
        }

        var files = Directory.GetFiles(viewFolder).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        var manifestPath = Path.Combine(viewFolder, OfflineManifest.FileName);
        var named = File.Exists(manifestPath)
            ? OfflineManifest.Parse(File.ReadAllBytes(manifestPath), manifestPath).Segments.Select(s => s.File).ToHashSet(StringComparer.Ordinal)
            : [];
        var stray = files.Where(f => f != OfflineManifest.FileName && f != EmbeddedOfflineStore.LockFile && !named.Contains(f!)).ToList();
        var missing = named.Where(f => !files.Contains(f)).ToList();
        Assert.True(stray.Count == 0, $"after kill {kill}: files the manifest does not name survived open: {string.Join(", ", stray)}");
        Assert.True(missing.Count == 0, $"after kill {kill}: segments named by the manifest are missing: {string.Join(", ", missing)}");
    }

    private static async Task<List<(long Batch, int Rows)>> RunAndKillAsync(string folder, int seed, TimeSpan delay)
    {
        var (lines, exitedByItself, errors) = await CrashWriterProcess.RunAndKillAsync(["offline", folder, seed.ToString(CultureInfo.InvariantCulture)], delay);
        Assert.False(exitedByItself, $"the writer stopped by itself: {errors}");

        // The child prints only after AppendAsync returns; a line the kill cut lacks its trailing "ok" and claims nothing.
        var acks = new List<(long, int)>();
        foreach (var line in lines)
        {
            if (line.Split(' ') is ["ACK", var batch, var rows, "ok"])
            {
                acks.Add((long.Parse(batch, CultureInfo.InvariantCulture), int.Parse(rows, CultureInfo.InvariantCulture)));
            }
        }

        return acks;
    }

    private static long KeyOf(long batch, long row) => ((batch * 7919) + row) % 1000;

    private static double ValueOf(long batch, long row) => batch + (row / 1024.0);

    private static Table Probe(long batch, int count)
    {
        var rows = Enumerable.Range(0, count).ToArray();
        return Table.From(
            ("id", Columns.Int64(rows.Select(i => (long?)KeyOf(batch, i)).ToArray())),
            ("event_ts", Columns.Timestamp(rows.Select(i => (long?)(ProbeFrom + (i * (2 * Day - 1) / count))).ToArray())),
            ("batch", Columns.Int64(rows.Select(_ => (long?)batch).ToArray())),
            ("row", Columns.Int64(rows.Select(i => (long?)i).ToArray())),
            ("rows", Columns.Int64(rows.Select(_ => (long?)count).ToArray())),
            ("value", Columns.Float64(rows.Select(i => (double?)ValueOf(batch, i)).ToArray())),
            ("label", Columns.String(rows.Select(i => i % 3 == 0 ? null : "probe").ToArray())));
    }
}
