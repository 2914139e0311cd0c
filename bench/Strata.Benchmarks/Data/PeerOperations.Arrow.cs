using System.Diagnostics;
using System.Globalization;
using Strata.Benchmarks.Data;
using Strata.Data.Arrow;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// <c>peer arrow-roundtrip [ROWS]</c>: writes the benchmark table (default 3M rows) to an in-memory Arrow file and
    /// reads it back; gb_per_s is file bytes / (write + read seconds), best of three runs after a warm-up. The file_*
    /// figures do the same through a real file: a durable write (temp file, fsync, rename) and a read from disk.
    /// </summary>
    private static void RegisterArrow() => PeerMeasurements.Register("arrow-roundtrip", async args =>
    {
        var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3_000_000;
        var table = ArrowBenchmarkData.Create(rows, seed: 42);
        using var target = new MemoryStream();
        var memory = await BestOfAsync(
            () => ArrowBenchmarkData.WriteAsync(table, target),
            async () =>
            {
                target.Position = 0;
                var reader = await ArrowFileReader.OpenAsync(target, leaveOpen: true).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    return (await reader.ReadTableAsync().ConfigureAwait(false)).RowCount;
                }
            },
            rows).ConfigureAwait(false);

        var folder = Directory.CreateTempSubdirectory("strata-arrow-bench-");
        try
        {
            var path = Path.Combine(folder.FullName, "table.arrow");
            var file = await BestOfAsync(
                async () =>
                {
                    await ArrowFile.WriteAsync(table, path).ConfigureAwait(false);
                    return new FileInfo(path).Length;
                },
                async () => (await ArrowFile.ReadTableAsync(path).ConfigureAwait(false)).RowCount,
                rows).ConfigureAwait(false);

            return new Dictionary<string, object>
            {
                ["operation"] = "arrow-roundtrip",
                ["rows"] = rows,
                ["bytes"] = memory.Bytes,
                ["write_s"] = Math.Round(memory.Write, 4),
                ["read_s"] = Math.Round(memory.Read, 4),
                ["gb_per_s"] = Math.Round(memory.Bytes / (memory.Write + memory.Read) / 1e9, 3),
                ["file_write_s"] = Math.Round(file.Write, 4),
                ["file_read_s"] = Math.Round(file.Read, 4),
                ["file_gb_per_s"] = Math.Round(file.Bytes / (file.Write + file.Read) / 1e9, 3),
            };
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    });

    /// <summary>The fastest of three write-then-read runs after one warm-up run.</summary>
    private static async Task<(double Write, double Read, long Bytes)> BestOfAsync(Func<Task<long>> write, Func<Task<int>> read, int rows)
    {
        var best = (Write: double.MaxValue, Read: double.MaxValue, Bytes: 0L);
        for (var run = 0; run < 4; run++)
        {
            var watch = Stopwatch.StartNew();
            var bytes = await write().ConfigureAwait(false);
            var written = watch.Elapsed.TotalSeconds;
            watch.Restart();
            var readRows = await read().ConfigureAwait(false);
            var elapsed = watch.Elapsed.TotalSeconds;
            if (readRows != rows)
            {
                throw new InvalidOperationException($"read {readRows} rows, wrote {rows}");
            }

            if (run > 0 && written + elapsed < best.Write + best.Read)
            {
                best = (written, elapsed, bytes);
            }
        }

        return best;
    }
}
