using System.Diagnostics;
using Strata.Learning.Gbdt;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer train-gbdt TRAIN TEST [key=value …]`: trains with train_xgb.py's settings (100 rounds, learning rate 0.1,
    /// depth 6, 255 bins, 2 threads; key=value overrides) and reports train seconds (binning included), test AUC and phases.
    /// </summary>
    private static void RegisterGbdt() => PeerMeasurements.Register("train-gbdt", async args =>
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["num_boost_round"] = "100", ["learning_rate"] = "0.1", ["max_depth"] = "6", ["max_bin"] = "255", ["nthread"] = "2",
        };
        foreach (var pair in args.Skip(2))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            settings[pair[..eq]] = pair[(eq + 1)..];
        }

        var load = Stopwatch.StartNew();
        var train = GbdtData.Prepare(await GbdtData.LoadAsync(args[0]).ConfigureAwait(false));
        var test = GbdtData.Prepare(await GbdtData.LoadAsync(args[1]).ConfigureAwait(false), train);
        load.Stop();
        var learner = new GbdtLearner(GbdtOptions.Parse(settings));
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        var model = learner.Fit(train);
        watch.Stop();
        process.Refresh();
        cpu = process.TotalProcessorTime - cpu;
        var margins = new double[test.Rows];
        model.PredictMargins(test.Features, margins);
        var result = new Dictionary<string, object>
        {
            ["engine"] = "strata",
            ["rows_train"] = train.Rows,
            ["rows_test"] = test.Rows,
            ["features"] = train.Features.Count,
            ["load_s"] = PeerMeasurements.Seconds(load),
            ["train_s"] = PeerMeasurements.Seconds(watch),
            ["train_cpu_s"] = Math.Round(cpu.TotalSeconds, 3),
            ["auc"] = Math.Round(EvalMetrics.Auc(margins, test.Labels, []), 5),
            ["trees"] = model.Ensemble.TreeCount,
            ["nodes"] = model.Ensemble.NodeCount,
        };
        foreach (var (name, seconds) in learner.LastTimings!.ToDictionary())
        {
            result["phase_" + name] = seconds;
        }

        return result;
    });
}
