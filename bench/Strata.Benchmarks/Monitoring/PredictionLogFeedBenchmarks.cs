using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Strata.Monitoring;
using Strata.Monitoring.Drift;

namespace Strata.Benchmarks.Monitoring;

/// <summary>
/// Whether the monitors keep up with serving: rows per second of reading the prediction log with
/// <see cref="PredictionLogFeed"/> and updating a window's drift profile (the flights model's 11 inputs and its score),
/// to compare with the serving stratum's peak predict rate (about 19k requests/s on the shared machine). The log holds
/// <c>STRATA_BENCH_LOG_LINES</c> one-row records (default 200,000; the issue's figure uses 1,000,000).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class PredictionLogFeedBenchmarks
{
    private static readonly string[] Inputs =
        ["distance", "dep_hour", "dow", "doy", "origin_code", "dest_code", "origin_prev_dep_count", "origin_prev_mean_delay", "origin_prev_frac_late15", "origin_prev_max_delay", "origin_prev_mean_distance"];

    private string _folder = "";
    private DriftLayout _layout = null!;

    /// <summary>Lines in the log.</summary>
    public static int Lines => int.TryParse(Environment.GetEnvironmentVariable("STRATA_BENCH_LOG_LINES"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 200_000;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "strata-bench-predlog-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(_folder);
        var random = new Random(7);
        var sb = new StringBuilder();
        var segment = 0;
        var start = 1_780_000_000_000_000L;
        for (var i = 0; i < Lines; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{{\"v\":1,\"time\":{start + (i * 50L)},\"request_id\":\"r{i}\",\"endpoint\":\"flights\",\"project\":\"flights\",\"model\":\"delay\",\"version\":1,\"role\":\"champion\",\"latency_ms\":0.3,\"classes\":[\"0\",\"1\"],\"rows\":[{{\"inputs\":{{");
            for (var f = 0; f < Inputs.Length; f++)
            {
                sb.Append(f > 0 ? "," : "").Append('"').Append(Inputs[f]).Append("\":").Append((random.NextDouble() * 1000).ToString("0.###", CultureInfo.InvariantCulture));
            }

            var p = random.NextDouble();
            sb.Append(CultureInfo.InvariantCulture, $"}},\"label\":\"{(p > 0.5 ? 1 : 0)}\",\"probabilities\":[{1 - p:R},{p:R}]}}]}}\n");
            if ((i + 1) % 100_000 == 0 || i == Lines - 1)
            {
                File.WriteAllText(Path.Combine(_folder, $"{segment++:D8}.jsonl"), sb.ToString());
                sb.Clear();
            }
        }

        var columns = Inputs.Select(n => (n, (Column)Columns.Float64([.. Enumerable.Range(0, 5000).Select(_ => (double?)(random.NextDouble() * 1000))]))).ToList();
        columns.Add(("prediction", Columns.Float64([.. Enumerable.Range(0, 5000).Select(_ => (double?)random.NextDouble())])));
        var table = Table.From([.. columns]);
        _layout = DriftLayout.FromProfile(Strata.Data.Profiling.Profiler.Profile(table));
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    /// <summary>Reads every record and adds it to one window's drift profile; returns the rows profiled.</summary>
    [Benchmark]
    public async Task<long> Feed_and_profile()
    {
        var feed = new PredictionLogFeed(_folder, "flights", layout: _layout);
        var builder = new DriftProfileBuilder(_layout);
        long rows = 0;
        await foreach (var batch in feed.ReadAsync().ConfigureAwait(false))
        {
            builder.Add(batch);
            rows += batch.RowCount;
        }

        return rows;
    }
}
