using System.Diagnostics;
using System.Globalization;
using Strata.Data.Profiling;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// <c>peer profile-synthetic [rows] [seed] [threads]</c>: profiles the flights-shaped synthetic table in memory and
    /// reports the best of ten runs (the table is built before timing). Until the CSV reader lands, this is the
    /// profiling figure the bench/peers comparison can quote.
    /// </summary>
    static partial void RegisterProfile() =>
        PeerMeasurements.Register("profile-synthetic", args =>
        {
            var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3_000_000;
            var seed = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20150101;
            var threads = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : -1;
            var table = Data.FlightsLikeTable.Create(rows, seed);
            var options = new ProfileOptions { MaxDegreeOfParallelism = threads };
            var best = double.MaxValue;
            TableProfile? profile = null;
            for (var run = 0; run < 10; run++)
            {
                var watch = Stopwatch.StartNew();
                profile = Profiler.Profile(table, options);
                best = Math.Min(best, PeerMeasurements.Seconds(watch));
            }

            var result = new Dictionary<string, object>
            {
                ["operation"] = "profile-synthetic",
                ["rows"] = rows,
                ["threads"] = threads == -1 ? Environment.ProcessorCount : threads,
                ["seconds"] = best,
                ["delay_p50"] = profile!["delay"] is NumericColumnProfile delay ? delay.Quantile(0.5) ?? double.NaN : double.NaN,
                ["origin_distinct"] = profile["origin"].DistinctEstimate,
                ["json_bytes"] = profile.ToUtf8Json().Length,
            };
            return Task.FromResult(result);
        });

    static partial void RegisterProfile();
}
