using BenchmarkDotNet.Attributes;
using Strata.Data.Arrow;

namespace Strata.Benchmarks.Data;

/// <summary>Arrow IPC write and read of a 3M-row table of every type (the shape of a feature table).</summary>
[MemoryDiagnoser]
public class ArrowBenchmarks : IDisposable
{
    private Table _table = null!;
    private byte[] _file = [];
    private MemoryStream _target = null!;

    [Params(3_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _table = ArrowBenchmarkData.Create(Rows, seed: 42);
        _target = new MemoryStream();
        await ArrowBenchmarkData.WriteAsync(_table, _target);
        _file = _target.ToArray();
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _target?.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark]
    public Task<long> Write() => ArrowBenchmarkData.WriteAsync(_table, _target);

    [Benchmark]
    public async Task<int> Read()
    {
        await using var reader = await ArrowFileReader.OpenAsync(new MemoryStream(_file, writable: false));
        return (await reader.ReadTableAsync()).RowCount;
    }

    [Benchmark]
    public async Task<int> ReadBatches()
    {
        await using var reader = await ArrowFileReader.OpenAsync(new MemoryStream(_file, writable: false));
        var rows = 0;
        await foreach (var batch in reader.ReadBatchesAsync())
        {
            rows += batch.RowCount;
        }

        return rows;
    }
}

/// <summary>The benchmark table, deterministic for a seed.</summary>
internal static class ArrowBenchmarkData
{
    /// <summary>timestamp, two int64, two strings of 230 distinct values, float64, and a bool with 10% nulls.</summary>
    public static Table Create(int rows, int seed)
    {
        var random = new Random(seed);
        var at = new long[rows];
        var id = new long[rows];
        var count = new long[rows];
        var amount = new double[rows];
        var flag = new bool[rows];
        var valid = new bool[rows];
        var origin = new StringColumnBuilder(rows);
        var destination = new StringColumnBuilder(rows);
        var airports = Enumerable.Range(0, 230).Select(i => $"A{i:D3}-{(char)('A' + (i % 26))}{(char)('A' + (i / 26 % 26))}").ToArray();
        var start = Timestamp.FromDateTime(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        for (var i = 0; i < rows; i++)
        {
            at[i] = start + ((long)i * 1_000_003);
            id[i] = i;
            count[i] = random.Next(0, 1000);
            amount[i] = random.NextDouble() * 1000;
            flag[i] = random.Next(2) == 1;
            valid[i] = random.Next(10) != 0;
            origin.Append(airports[random.Next(airports.Length)]);
            destination.Append(airports[random.Next(airports.Length)]);
        }

        return Table.From(
            ("at", Columns.Create<long>(DataType.Timestamp, at)),
            ("id", Columns.Create<long>(DataType.Int64, id)),
            ("count", Columns.Create<long>(DataType.Int64, count)),
            ("origin", origin.Build()),
            ("destination", destination.Build()),
            ("amount", Columns.Create<double>(DataType.Float64, amount)),
            ("flag", Columns.Create<bool>(DataType.Bool, flag, valid)));
    }

    /// <summary>Writes the table to a reused memory stream and returns the file's length.</summary>
    public static async Task<long> WriteAsync(Table table, MemoryStream target)
    {
        target.SetLength(0);
        var writer = new ArrowFileWriter(target, table.Schema, leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            await writer.WriteBatchAsync(table).ConfigureAwait(false);
        }

        return target.Length;
    }
}
