using BenchmarkDotNet.Attributes;
using Strata.Data.Csv;
using Strata.Data.JsonLines;

namespace Strata.Benchmarks.Data;

/// <summary>
/// CSV and JSON Lines → Table on a flights-shaped file (timestamp, two int64, two airport codes). The file is written
/// once from the Arrow benchmark table's generator; bench/peers/csv_vs_pandas.sh runs the real flights data against pandas.
/// </summary>
[MemoryDiagnoser]
public class TextReaderBenchmarks : IDisposable
{
    private string _folder = "";
    private string _csv = "";
    private string _jsonl = "";

    [Params(1_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"strata-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_folder);
        var table = ArrowBenchmarkData.Create(Rows, seed: 7).Select("at", "id", "count", "origin", "destination");
        _csv = Path.Combine(_folder, "t.csv");
        _jsonl = Path.Combine(_folder, "t.jsonl");
        await CsvWriter.WriteAsync(table, _csv);
        await JsonLinesWriter.WriteAsync(table, _jsonl);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    [Benchmark]
    public async Task<int> Csv() => (await CsvReader.ReadTableAsync(_csv)).RowCount;

    [Benchmark]
    public async Task<int> CsvOneThread() => (await CsvReader.ReadTableAsync(_csv, new CsvReadOptions { MaxParallelism = 1 })).RowCount;

    [Benchmark]
    public async Task<int> JsonLines() => (await JsonLinesReader.ReadTableAsync(_jsonl)).RowCount;
}
