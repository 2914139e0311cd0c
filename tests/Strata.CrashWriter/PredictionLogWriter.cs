using Strata.Learning;
using Strata.Serving;
using Strata.Serving.Metrics;

namespace Strata.CrashWriter;

/// <summary>
/// `predictions FOLDER SEED MODEL`: logs predictions (request ids <c>kill-SEED-0</c>, 1, …) to a prediction-log folder
/// forever (until killed), with segments that never age out, so the kill leaves one open. Prints <c>OPEN</c> once its
/// segment is on disk.
/// </summary>
internal static class PredictionLogWriter
{
    public static async Task RunAsync(string[] args)
    {
        var folder = args[0];
        var seed = args[1];
        var model = new LoadedModel("crash", "m", 1, "sha256:0", XGBoostImporter.Load(args[2]));
        var input = new PredictionInput(1, new Dictionary<string, InputColumn> { ["distance"] = InputColumn.OfNumbers([258]) });
        var masked = new HashSet<string>(StringComparer.Ordinal);
        var log = new PredictionLog(new PredictionLogOptions { Folder = folder, MaxSegmentAge = TimeSpan.FromDays(1) }, new MetricRegistry());
        var announced = false;
        for (var i = 0L; ; i++)
        {
            var output = new PredictionOutput(model, 1) { Values = [i] };
            log.TryWrite(new PendingPrediction(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000, $"kill-{seed}-{i}", "e", "crash", input, output, 0.1, masked));
            if (!announced && Directory.GetFiles(folder, "*" + PredictionLog.OpenExtension).Length > 0)
            {
                announced = true;
                await Console.Out.WriteLineAsync("OPEN");
                await Console.Out.FlushAsync();
            }

            Thread.Sleep(1); // one thread, so one of the log's queues: the records reach the file in order, with no gap
        }
    }
}
