using System.Diagnostics;
using Strata.Learning.Gbdt;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>`peer gbdt-kernels TRAIN`: times the binning and one root histogram build, in ns per value.</summary>
    private static void RegisterGbdtKernels() => PeerMeasurements.Register("gbdt-kernels", async args =>
    {
        var train = GbdtData.Prepare(await GbdtData.LoadAsync(args[0]).ConfigureAwait(false));
        var threads = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        var watch = Stopwatch.StartNew();
        var binned = BinnedMatrix.Build(train.Features, 255, 200_000, 0, threads);
        var binning = watch.Elapsed.TotalSeconds;
        watch.Restart();
        _ = BinnedMatrix.Apply(train.Features, binned.Features, threads);
        var apply = watch.Elapsed.TotalSeconds;
        var packed = new long[train.Rows];
        var random = new Random(1);
        for (var i = 0; i < packed.Length; i++)
        {
            packed[i] = ((long)random.Next(-Histograms.GradientLevels, Histograms.GradientLevels) << 32) + random.Next(0, Histograms.HessianLevels);
        }

        var hist = new long[binned.TotalBins];
        void Root(int f0, int f1)
        {
            for (var start = 0; start < train.Rows; start += Histograms.MaxChunkRows)
            {
                Histograms.Build([], start, Math.Min(Histograms.MaxChunkRows, train.Rows - start), binned, f0, f1, packed, hist);
            }
        }

        var times = new List<double>();
        for (var rep = 0; rep < 5; rep++)
        {
            watch.Restart();
            Root(0, binned.FeatureCount);
            times.Add(watch.Elapsed.TotalSeconds);
        }

        var blockTimes = new Dictionary<int, double>();
        foreach (var width in (int[])[4, 8, 13, 25])
        {
            var best = double.MaxValue;
            for (var rep = 0; rep < 3; rep++)
            {
                watch.Restart();
                for (var f0 = 0; f0 < binned.FeatureCount; f0 += width)
                {
                    Root(f0, Math.Min(binned.FeatureCount, f0 + width));
                }

                best = Math.Min(best, watch.Elapsed.TotalSeconds);
            }

            blockTimes[width] = Math.Round(best * 1e9 / ((double)train.Rows * binned.FeatureCount), 3);
        }

        var rows = Enumerable.Range(0, train.Rows).Where(r => r % 3 == 0).ToArray();
        watch.Restart();
        for (var start = 0; start < rows.Length; start += Histograms.MaxChunkRows)
        {
            var count = Math.Min(Histograms.MaxChunkRows, rows.Length - start);
            Histograms.Build(rows.AsSpan(start, count), 0, count, binned, 0, binned.FeatureCount, packed, hist);
        }

        var indexed = watch.Elapsed.TotalSeconds;
        var values = (double)train.Rows * binned.FeatureCount;
        return new Dictionary<string, object>
        {
            ["binning_s"] = Math.Round(binning, 3),
            ["binning_ns_per_value"] = Math.Round(binning * 1e9 / values, 2),
            ["apply_s"] = Math.Round(apply, 3),
            ["root_hist_s"] = times.Select(t => Math.Round(t, 4)).ToArray(),
            ["root_hist_ns_per_value"] = Math.Round(times.Min() * 1e9 / values, 3),
            ["root_blocks_ns_per_value"] = blockTimes.ToDictionary(p => p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), p => p.Value),
            ["third_rows_hist_ns_per_value"] = Math.Round(indexed * 1e9 / (rows.Length * (double)binned.FeatureCount), 3),
        };
    });
}
