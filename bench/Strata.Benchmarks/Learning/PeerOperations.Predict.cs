using System.Diagnostics;
using Strata.Benchmarks.Learning;
using Strata.Learning;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer predict-xgb MODEL SAMPLE`: what ../shared/peers/predict_xgb.py measures for XGBoost, for the same model
    /// imported into Strata: batch prediction of 100,000 rows (best of 5) and 10,000 single-row predictions timed one by
    /// one (median and p99), with 2 threads and with 1, plus the largest difference from XGBoost's saved predictions.
    /// A prediction is the probability, as inplace_predict returns it.
    /// </summary>
    private static void RegisterPredict() => PeerMeasurements.Register("predict-xgb", args =>
    {
        var load = Stopwatch.StartNew();
        var model = XGBoostImporter.Load(args[0]);
        load.Stop();
        var (features, expected) = PredictData.ReadSample(model, args[1], 100_000);
        var rows = features.Rows;
        var margins = new double[rows];
        var result = new Dictionary<string, object>
        {
            ["engine"] = "strata",
            ["model"] = args[0],
            ["rows"] = rows,
            ["features"] = features.Count,
            ["trees"] = model.Ensemble.TreeCount,
            ["import_s"] = PeerMeasurements.Seconds(load),
        };
        for (var threads = 2; threads >= 1; threads--)
        {
            var best = double.MaxValue;
            for (var run = 0; run < 5; run++)
            {
                var watch = Stopwatch.StartNew();
                model.Compiled.PredictMargins(features, margins, threads);
                for (var r = 0; r < margins.Length; r++)
                {
                    margins[r] = Model.Apply(OutputTransform.Sigmoid, margins[r]);
                }

                best = Math.Min(best, watch.Elapsed.TotalSeconds);
            }

            var (median, p99) = SingleRowLatency(model, features);
            result[$"nthread{threads}"] = new Dictionary<string, object>
            {
                ["batch_rows_per_s"] = Math.Round(rows / best),
                ["single_row_median_us"] = Math.Round(median, 3),
                ["single_row_p99_us"] = Math.Round(p99, 3),
            };
        }

        var worst = 0.0;
        for (var r = 0; r < expected.Length; r++)
        {
            worst = Math.Max(worst, Math.Abs(margins[r] - expected[r]));
        }

        result["max_abs_diff_vs_saved"] = worst;
        return Task.FromResult(result);
    });

    /// <summary>Median and 99th percentile, in microseconds, of 10,000 one-row predictions (the single-row API).</summary>
    private static (double Median, double P99) SingleRowLatency(TreeEnsembleModel model, FeatureMatrix features)
    {
        var count = Math.Min(10_000, features.Rows);
        var rows = new float[count][];
        for (var r = 0; r < count; r++)
        {
            rows[r] = new float[features.Count];
            for (var f = 0; f < features.Count; f++)
            {
                rows[r][f] = features.Value(f, r);
            }
        }

        var margin = new double[1];
        for (var r = 0; r < count; r++)
        {
            model.PredictMargins(rows[r], margin);
        }

        var ticks = new double[count];
        for (var r = 0; r < count; r++)
        {
            var start = Stopwatch.GetTimestamp();
            model.PredictMargins(rows[r], margin);
            _ = Model.Apply(OutputTransform.Sigmoid, margin[0]);
            ticks[r] = Stopwatch.GetTimestamp() - start;
        }

        Array.Sort(ticks);
        var toMicroseconds = 1e6 / Stopwatch.Frequency;
        return (ticks[count / 2] * toMicroseconds, ticks[(int)(count * 0.99)] * toMicroseconds);
    }
}
