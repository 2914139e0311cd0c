using System.Diagnostics;
using Strata.Data.Csv;
using Strata.Data.Profiling;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// <c>peer profile-file FILE [repeats]</c>: reads a CSV (not timed), then times <see cref="Profiler.Profile"/> on the
    /// table: the first run (JIT included, as a one-off command would see it) and the best of the repeats.
    /// </summary>
    private static void RegisterProfileFile() => PeerMeasurements.Register("profile-file", async args =>
    {
        var table = await CsvReader.ReadTableAsync(args[0]).ConfigureAwait(false);
        var repeats = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
        var watch = Stopwatch.StartNew();
        var profile = Profiler.Profile(table);
        var first = PeerMeasurements.Seconds(watch);
        var best = first;
        for (var r = 1; r < repeats; r++)
        {
            watch.Restart();
            profile = Profiler.Profile(table);
            best = Math.Min(best, PeerMeasurements.Seconds(watch));
        }

        return new Dictionary<string, object>
        {
            ["engine"] = "strata",
            ["rows"] = table.RowCount,
            ["first_s"] = first,
            ["best_s"] = best,
            ["origin_distinct"] = profile["origin"].DistinctEstimate,
        };
    });
}
