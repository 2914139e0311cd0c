using Strata.Storage;
using Strata.Stores;

// Usage: Strata.CrashWriter HOME SEED, Strata.CrashWriter online FOLDER SEED (see OnlineStoreWriter),
// Strata.CrashWriter offline FOLDER SEED (see OfflineStoreWriter), or Strata.CrashWriter predictions FOLDER SEED MODEL
// (see PredictionLogWriter).
if (args is ["predictions", ..])
{
    await Strata.CrashWriter.PredictionLogWriter.RunAsync(args[1..]);
    return;
}

if (args is ["online", ..])
{
    await Strata.CrashWriter.OnlineStoreWriter.RunAsync(args[1..]);
    return;
}

if (args is ["offline", ..])
{
    await Strata.CrashWriter.OfflineStoreWriter.RunAsync(args[1..]);
    return;
}

// Writes forever (until killed). After each write is durable it prints one line:
//   ACK run <id> | ACK metric <run> <key> <step> <value> | ACK artifact <run> <path> <digest> | ACK version <model> <n> <digest>
var home = args[0];
var random = new Random(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
var actor = new Actor("crash-writer");
await using var strata = await StrataHome.OpenAsync(home);
var store = strata.Metadata;
if (await store.Projects.GetAsync("crash") is null)
{
    try
    {
        await store.Projects.CreateAsync("crash", null, actor);
        await store.Tracking.CreateExperimentAsync("crash", "writes", null, actor);
        await store.Registry.CreateModelAsync("crash", "m", null, null, actor);
    }
    catch (Strata.StrataException e) when (e.Code == Strata.ErrorCodes.Conflict)
    {
        // A previous incarnation got this far before it was killed.
    }
}

var experiment = (await store.Tracking.GetExperimentAsync("crash", "writes"))!;
if (await store.Registry.GetModelAsync("crash", "m") is null)
{
    await store.Registry.CreateModelAsync("crash", "m", null, null, actor);
}

Console.Out.Flush();
var stdout = Console.Out;
while (true)
{
    var run = await store.Tracking.CreateRunAsync("crash", experiment.Id, new RunSpec { Params = new Dictionary<string, string> { ["seed"] = args[1] } }, actor);
    await stdout.WriteLineAsync($"ACK run {run.Id}");
    await stdout.FlushAsync();
    for (var step = 0; step < 3; step++)
    {
        var value = Math.Round(random.NextDouble(), 6);
        await store.Tracking.LogBatchAsync("crash", run.Id, [new MetricPoint("loss", value, step, 0)], null, null, actor);
        await stdout.WriteLineAsync(FormattableString.Invariant($"ACK metric {run.Id} loss {step} {value}"));
        await stdout.FlushAsync();
    }

    var bytes = new byte[random.Next(1, 256 * 1024)];
    random.NextBytes(bytes);
    var blob = await strata.Artifacts.PutAsync(new MemoryStream(bytes), long.MaxValue);
    await store.Tracking.LogArtifactAsync("crash", run.Id, "data/blob.bin", blob.Digest, blob.Size, actor);
    await stdout.WriteLineAsync($"ACK artifact {run.Id} data/blob.bin {blob.Digest}");
    await stdout.FlushAsync();
    if (random.Next(3) == 0)
    {
        var version = await store.Registry.CreateVersionAsync("crash", "m", new ModelVersionSpec { ArtifactDigest = blob.Digest, ArtifactSize = blob.Size, RunId = run.Id }, actor);
        await stdout.WriteLineAsync(FormattableString.Invariant($"ACK version m {version.Version} {blob.Digest}"));
        await stdout.FlushAsync();
    }
}
