using System.Diagnostics;
using Strata.Data.Csv;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>`peer csv-parse FILE`: CSV → Table, timed in-process like pandas.read_csv is.</summary>
    private static void RegisterCsv() => PeerMeasurements.Register("csv-parse", async args =>
    {
        var path = args[0];
        var repeat = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        var options = new CsvReadOptions
        {
            MaxParallelism = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : null,
            ChunkBytes = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : new CsvReadOptions().ChunkBytes,
        };
        var times = new List<double>();
        for (var r = 1; r < repeat; r++)
        {
            var w = Stopwatch.StartNew();
            _ = await CsvReader.ReadTableAsync(path, options).ConfigureAwait(false);
            times.Add(w.Elapsed.TotalSeconds);
        }

        var watch = Stopwatch.StartNew();
        var table = await CsvReader.ReadTableAsync(path, options).ConfigureAwait(false);
        watch.Stop();
        return new Dictionary<string, object>
        {
            ["engine"] = "strata",
            ["rows"] = table.RowCount,
            ["columns"] = table.ColumnCount,
            ["types"] = string.Join(",", table.Schema.Select(f => f.Type.Name())),
            ["seconds"] = PeerMeasurements.Seconds(watch),
            ["rows_per_s"] = Math.Round(table.RowCount / watch.Elapsed.TotalSeconds),
            ["earlier_runs_s"] = times.Select(t => Math.Round(t, 4)).ToArray(),
        };
    });
}
