using System.Text;
using Strata.Data.Csv;
using Strata.Testing;

namespace Strata.Tests.Data.Csv;

[Collection(Sequential.Name)]
public sealed class CsvMemoryTests : IDisposable
{
    private readonly TempFolder _folder = new("csv-memory");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_record_longer_than_the_limit_is_an_error_with_bounded_memory()
    {
        var path = _folder.File("long.csv");
        await using (var stream = File.Create(path))
        {
            await stream.WriteAsync("a,b\n1,"u8.ToArray());
            var block = Encoding.ASCII.GetBytes(new string('x', 1 << 20));
            for (var i = 0; i < 100; i++)
            {
                await stream.WriteAsync(block);
            }

            await stream.WriteAsync("\n2,y\n"u8.ToArray());
        }

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var e = await Assert.ThrowsAsync<DataFormatException>(() => CsvReader.ReadAsync(path));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Equal(ErrorCodes.DataLimit, e.Code);
        Assert.Equal(2, e.Location.Line);
        Assert.True(allocated < 96L << 20, $"allocated {allocated >> 20} MiB reading a 100 MiB line");

        // The limit is an option: raised, the same file reads.
        var t = await CsvReader.ReadTableAsync(path, new CsvReadOptions { MaxRecordBytes = 128 << 20 });
        Assert.Equal(100 << 20, t.GetStringColumn("b")[0]!.Length);
        Assert.Equal("y", t.GetStringColumn("b")[1]);
    }
}
