using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Strata.Storage;
using Strata.Testing;

namespace Strata.IntegrationTests.Reliability;

/// <summary>
/// A child process logs runs, metrics, artifacts and model versions into one home folder while this test kills it with
/// SIGKILL at random moments. After every kill the store must open, hold every write the child acknowledged, show no
/// partial artifact, and keep an intact audit chain. STRATA_CRASH_KILLS sets the count (CI runs fewer; the full run is 200+).
/// </summary>
[Collection(Sequential.Name)]
public sealed class CrashTests : IDisposable
{
    private static readonly int Kills = CrashWriterProcess.Kills(byDefault: 12);

    private readonly TempFolder _folder = new("crash");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact(Timeout = 1_800_000)]
    public async Task Every_acknowledged_write_survives_sigkill_and_no_partial_artifact_is_visible()
    {
        var home = Path.Combine(_folder.Path, "home");
        var random = new Random(1234);
        var acknowledged = new List<string>();
        for (var kill = 0; kill < Kills; kill++)
        {
            var lines = await RunAndKillAsync(home, seed: kill, delay: TimeSpan.FromMilliseconds(random.Next(150, 900)));
            acknowledged.AddRange(lines);
            await VerifyAsync(home, acknowledged, kill);
        }

        Assert.True(acknowledged.Count > Kills, $"only {acknowledged.Count} writes acknowledged over {Kills} kills");
    }

    private static async Task<List<string>> RunAndKillAsync(string home, int seed, TimeSpan delay)
    {
        var (lines, _, _) = await CrashWriterProcess.RunAndKillAsync([home, seed.ToString(CultureInfo.InvariantCulture)], delay);

        // A line cut by the kill is not an acknowledgement.
        return lines.Where(l => l.StartsWith("ACK ", StringComparison.Ordinal)).ToList();
    }

    private static async Task VerifyAsync(string home, List<string> acknowledged, int kill)
    {
        SqliteConnection.ClearAllPools();
        await using var strata = await StrataHome.OpenAsync(home);
        var store = strata.Metadata;
        var audit = await store.Audit.VerifyAsync();
        Assert.True(audit.Intact, $"after kill {kill}: {audit.Problem}");

        foreach (var ack in acknowledged)
        {
            var p = ack.Split(' ');
            switch (p[1])
            {
                case "run":
                    Assert.NotNull(await store.Tracking.GetRunAsync("crash", p[2]));
                    break;
                case "metric":
                    var history = await store.Tracking.GetMetricHistoryAsync("crash", p[2], p[3]);
                    Assert.Contains(history, m => m.Step == long.Parse(p[4], CultureInfo.InvariantCulture) && m.Value == double.Parse(p[5], CultureInfo.InvariantCulture));
                    break;
                case "artifact":
                    Assert.Contains(await store.Tracking.ListArtifactsAsync("crash", p[2]), a => a.Path == p[3] && a.Digest == p[4]);
                    await using (var blob = await strata.Artifacts.OpenReadAsync(p[4]))
                    {
                        Assert.True(blob.Length > 0);
                    }

                    break;
                case "version":
                    var version = await store.Registry.GetVersionAsync("crash", p[2], int.Parse(p[3], CultureInfo.InvariantCulture));
                    Assert.Equal(p[4], version!.ArtifactDigest);
                    break;
            }
        }

        // Every file that looks like a blob is a whole blob: partial writes stay in incoming/ under temporary names.
        foreach (var file in Directory.EnumerateFiles(Path.Combine(home, "objects", "sha256"), "*", SearchOption.AllDirectories))
        {
            var name = Path.GetFileName(Path.GetDirectoryName(file)) + Path.GetFileName(file);
            await using var stream = File.OpenRead(file);
            Assert.Equal(name, Convert.ToHexStringLower(await SHA256.HashDataAsync(stream)));
        }
    }
}
