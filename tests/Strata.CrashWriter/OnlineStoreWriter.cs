using System.Globalization;
using System.Text;
using Strata.Features;
using Strata.Features.OnlineStore;

namespace Strata.CrashWriter;

/// <summary>
/// `online FOLDER SEED`: writes batches to an embedded online store forever (until killed), with small snapshot thresholds
/// so kills also land in snapshots and log rotations. After each write is acknowledged (fsynced) it prints
/// `ACK key:ts key:ts …`. Event times grow with the seed and a counter, so a later incarnation's rows are newer; each row's
/// value is a function of its key and time, so the test can tell a real row from garbage.
/// </summary>
internal static class OnlineStoreWriter
{
    public static readonly FeatureViewLayout View = new(
        "crash",
        [new Field("id", DataType.Int64)],
        "ts",
        [new Field("value", DataType.Int64), new Field("label", DataType.String)]);

    public static long ValueOf(long key, long ts) => (ts * 31) + key;

    public static async Task RunAsync(string[] args)
    {
        var folder = args[0];
        var seed = int.Parse(args[1], CultureInfo.InvariantCulture);
        var random = new Random(seed);
        await using var store = EmbeddedOnlineStore.Open(folder, [View], new OnlineStoreOptions { SnapshotAfterLogBytes = 32 * 1024 });
        var stdout = Console.Out;
        var ts = (seed + 1) * 1_000_000_000L;
        var line = new StringBuilder();
        while (true)
        {
            var n = random.Next(1, 40);
            var ids = new long?[n];
            var times = new long?[n];
            var values = new long?[n];
            var labels = new string?[n];
            for (var i = 0; i < n; i++)
            {
                ids[i] = random.Next(200);
                times[i] = ++ts;
                values[i] = ValueOf(ids[i]!.Value, ts);
                labels[i] = random.Next(5) == 0 ? null : new string('x', random.Next(0, 300));
            }

            await store.WriteAsync("crash", Table.From(
                ("id", Columns.Int64(ids)), ("ts", Columns.Timestamp(times)), ("value", Columns.Int64(values)), ("label", Columns.String(labels))));
            line.Clear().Append("ACK");
            for (var i = 0; i < n; i++)
            {
                line.Append(CultureInfo.InvariantCulture, $" {ids[i]}:{times[i]}");
            }

            await stdout.WriteLineAsync(line.ToString());
            await stdout.FlushAsync();
        }
    }
}
