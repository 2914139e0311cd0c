using System.Globalization;
using BenchmarkDotNet.Attributes;
using Strata.Data.Profiling;

namespace Strata.Benchmarks.Data;

/// <summary>
/// Profiling a table shaped like the flights data (3M rows: departure time, delay with ~2% nulls, distance, origin and
/// destination airports), the workload of the pandas comparison (describe + value_counts + quantiles, ~1.24 s).
/// </summary>
[MemoryDiagnoser]
public class ProfileBenchmarks
{
    private Table _table = null!;
    private TableProfile _half = null!;

    [Params(3_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _table = FlightsLikeTable.Create(Rows, seed: 20150101);
        _half = Profiler.Profile(_table.Slice(0, Rows / 2));
    }

    [Benchmark(Baseline = true)]
    public TableProfile Profile_all_cores() => Profiler.Profile(_table);

    [Benchmark]
    public TableProfile Profile_one_core() => Profiler.Profile(_table, new ProfileOptions { MaxDegreeOfParallelism = 1 });

    [Benchmark]
    public TableProfile Merge_two_halves() => _half.Merge(_half);

    [Benchmark]
    public byte[] Save_to_json() => _half.ToUtf8Json();
}

/// <summary>A seeded synthetic table with the flights data's shape and cardinalities.</summary>
internal static class FlightsLikeTable
{
    public const int Origins = 229;
    public const int Destinations = 228;

    public static Table Create(int rows, int seed)
    {
        var random = new Random(seed);
        var start = Timestamp.FromDateTime(new DateTime(2015, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var times = new long[rows];
        var delays = new long[rows];
        var distances = new long[rows];
        var origins = new int[rows];
        var destinations = new int[rows];
        var validity = Bitmap.AllSet(rows);
        var nulls = 0;
        for (var i = 0; i < rows; i++)
        {
            times[i] = start + (random.NextInt64(365L * 24 * 3600) * Timestamp.MicrosPerSecond);

            // Cancelled flights have no delay; the rest are mostly early or a little late, with a long tail.
            if (random.NextDouble() < 0.017)
            {
                Bitmap.Clear(validity, i);
                nulls++;
            }
            else
            {
                var u = random.NextDouble();
                delays[i] = u < 0.8 ? random.Next(-30, 20) : (long)(-60 * Math.Log(1 - random.NextDouble()));
            }

            // Airports are skewed (a few hubs carry most flights), like the real data.
            origins[i] = Skewed(random, Origins);
            destinations[i] = Skewed(random, Destinations);
            distances[i] = 31 + (((origins[i] * 7919) + (destinations[i] * 104729)) % 4952);
        }

        return Table.From(
            ("departure", new Column<long>(DataType.Timestamp, times, 0, rows)),
            ("delay", new Column<long>(DataType.Int64, delays, 0, rows, validity, 0, nulls)),
            ("distance", new Column<long>(DataType.Int64, distances, 0, rows)),
            ("origin", new StringColumn(Airports("O", Origins), origins, 0, rows)),
            ("destination", new StringColumn(Airports("D", Destinations), destinations, 0, rows)));
    }

    private static int Skewed(Random random, int count) => (int)(count * Math.Pow(random.NextDouble(), 2.5));

    private static StringDictionary Airports(string prefix, int count) =>
        StringDictionary.From(Enumerable.Range(0, count).Select(i => prefix + i.ToString("000", CultureInfo.InvariantCulture)));
}
