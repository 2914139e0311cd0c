using System.Globalization;
using System.Text;
using Strata.Data;
using Strata.Data.Csv;
using Strata.Data.JsonLines;
using Strata.Testing;

namespace Strata.Tests.Data;

/// <summary>
/// Mutated inputs (bytes flipped, quotes, delimiters, newlines and invalid UTF-8 inserted, cut short) either read or
/// fail with a <see cref="StrataException"/>; nothing else may escape. A reduced count runs by default;
/// STRATA_FUZZ_ITERATIONS sets the full count.
/// </summary>
public sealed class TextFuzzTests : IDisposable
{
    private static readonly int Iterations =
        Environment.GetEnvironmentVariable("STRATA_FUZZ_ITERATIONS") is { Length: > 0 } text ? int.Parse(text, CultureInfo.InvariantCulture) : 300;

    private static readonly byte[] Interesting = "\",\n\r;\t|{}[]:\\0-.eE+ \u00ff"u8.ToArray().Concat(new byte[] { 0xC3, 0x28, 0xFF, 0x00 }).ToArray();

    private readonly TempFolder _folder = new("fuzz");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Mutated_csv_reads_or_fails_with_a_located_strata_error()
    {
        var table = RandomTables.Create(11, rows: 60);
        using var original = new MemoryStream();
        await CsvWriter.WriteAsync(table, original);
        await FuzzAsync(original.ToArray(), path => CsvReader.ReadAsync(path, new CsvReadOptions { ChunkBytes = 1024, MaxRecordBytes = 4096 }));
    }

    [Fact]
    public async Task Mutated_json_lines_read_or_fail_with_a_located_strata_error()
    {
        var table = RandomTables.Create(12, rows: 40);
        using var original = new MemoryStream();
        await JsonLinesWriter.WriteAsync(table, original);
        await FuzzAsync(original.ToArray(), path => JsonLinesReader.ReadAsync(path, new JsonLinesReadOptions { ChunkBytes = 1024, MaxRecordBytes = 4096 }));
    }

    private async Task FuzzAsync(byte[] original, Func<string, Task<ReadResult>> read)
    {
        var random = new Random(20261122);
        var path = _folder.File("fuzz.dat");
        for (var i = 0; i < Iterations; i++)
        {
            var bytes = Mutate(original, random);
            await File.WriteAllBytesAsync(path, bytes);
            try
            {
                var result = await read(path);
                Assert.True(result.Table.RowCount >= 0);
            }
            catch (StrataException)
            {
                // Expected for malformed input: the reader refused it with a stable code.
            }
            catch (Exception e)
            {
                var sample = Encoding.UTF8.GetString(bytes.AsSpan(0, Math.Min(bytes.Length, 300)));
                throw new InvalidOperationException($"iteration {i}: {e.GetType().Name} escaped: {e.Message}\ninput starts: {sample}", e);
            }
        }
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = new List<byte>(original);
        var edits = random.Next(1, 6);
        for (var e = 0; e < edits && bytes.Count > 0; e++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes.Insert(at, Interesting[random.Next(Interesting.Length)]);
                    break;
                case 2:
                    bytes.RemoveAt(at);
                    break;
                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                default:
                    bytes[at] = Interesting[random.Next(Interesting.Length)];
                    break;
            }
        }

        return [.. bytes];
    }
}
