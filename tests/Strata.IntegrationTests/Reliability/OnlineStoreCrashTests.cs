using System.Globalization;
using Strata.Features;
using Strata.Features.OnlineStore;
using Strata.Testing;

namespace Strata.IntegrationTests.Reliability;

/// <summary>
/// A child process writes batches to the embedded online store (acknowledging each fsynced batch on stdout) while this
/// test kills it with SIGKILL at random moments, in writes, log appends, snapshots and log rotations. After every kill
/// the store must open and hold, for every key, a row at least as new as the newest acknowledged one, and only real
/// rows. STRATA_CRASH_KILLS sets the count (10 by default).
/// </summary>
[Collection(Sequential.Name)]
public sealed class OnlineStoreCrashTests : IDisposable
{
    private static readonly int Kills = CrashWriterProcess.Kills(byDefault: 10);

    // The child's view, repeated here (the test does not reference the child); the layout fingerprint in every record
    // makes a mismatch fail loudly.
    private static readonly FeatureViewLayout View = new(
        "crash",
        [new Field("id", DataType.Int64)],
        "ts",
        [new Field("value", DataType.Int64), new Field("label", DataType.String)]);

    private readonly TempFolder _folder = new("online-crash");

    public void Dispose() => _folder.Dispose();

    [Fact(Timeout = 900_000)]
    public async Task Every_acknowledged_online_write_survives_sigkill()
    {
        var store = Path.Combine(_folder.Path, "online");
        var random = new Random(4321);
        var newest = new Dictionary<long, long>();
        var acknowledged = 0;
        for (var kill = 0; kill < Kills; kill++)
        {
            var lines = await RunAndKillAsync(store, seed: kill, delay: TimeSpan.FromMilliseconds(random.Next(50, 700)));
            foreach (var line in lines)
            {
                foreach (var pair in line.Split(' ').Skip(1))
                {
                    var parts = pair.Split(':');
                    var key = long.Parse(parts[0], CultureInfo.InvariantCulture);
                    var ts = long.Parse(parts[1], CultureInfo.InvariantCulture);
                    newest[key] = Math.Max(newest.GetValueOrDefault(key), ts);
                }

                acknowledged++;
            }

            Verify(store, newest, kill);
        }

        Assert.True(acknowledged > Kills, $"only {acknowledged} batches acknowledged over {Kills} kills");
    }

    private static void Verify(string folder, Dictionary<long, long> newest, int kill)
    {
        using var store = EmbeddedOnlineStore.Open(folder, [View]);
        var reader = store.CreateReader("crash", ["value"]);
        var result = new FeatureValue[1];
        for (long key = 0; key < 200; key++)
        {
            Assert.True(reader.TryRead(key, 0, result));
            if (newest.TryGetValue(key, out var acked))
            {
                Assert.True(result[0].Status == FeatureStatus.Present, $"after kill {kill}: key {key} acknowledged at {acked} is {result[0].Status}");
                Assert.True(result[0].EventTimestamp >= acked, $"after kill {kill}: key {key} acknowledged at {acked} reads {result[0].EventTimestamp}");
            }

            if (result[0].Status == FeatureStatus.Present)
            {
                // Rows written but killed before the acknowledgement may be there too; they must be whole, real rows.
                Assert.Equal((result[0].EventTimestamp * 31) + key, result[0].AsInt64());
            }
        }
    }

    private static async Task<List<string>> RunAndKillAsync(string folder, int seed, TimeSpan delay)
    {
        var (lines, exitedByItself, errors) = await CrashWriterProcess.RunAndKillAsync(["online", folder, seed.ToString(CultureInfo.InvariantCulture)], delay);
        Assert.False(exitedByItself, $"the writer stopped by itself: {errors}");

        // The child prints only after the fsync, so even a line cut by the kill names durable rows; a pair cut inside
        // its time merely claims less, and a pair cut before its time is skipped.
        return lines.Where(l => l.StartsWith("ACK ", StringComparison.Ordinal) && IsWhole(l)).ToList();
    }

    private static bool IsWhole(string line) =>
        line.Split(' ').Skip(1).All(p => p.Split(':') is [var k, var t] && long.TryParse(k, CultureInfo.InvariantCulture, out _) && long.TryParse(t, CultureInfo.InvariantCulture, out _));
}
