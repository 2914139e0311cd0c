using Strata.Data.Arrow;
using Strata.Testing;

namespace Strata.Tests.Data.Arrow;

/// <summary>Several files read as one table of chosen columns must equal reading, selecting and concatenating them.</summary>
public sealed class ArrowFileSetTests
{
    private static readonly string[] Chosen = ["city", "at", "flag", "ratio", "small"];

    [Theory]
    [InlineData(new[] { 9 }, 4)]
    [InlineData(new[] { 3, 0, 4, 2 }, 2)]
    [InlineData(new[] { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 1)]
    [InlineData(new[] { 5, 4 }, 1024)]
    public async Task Files_read_as_one_table_equal_the_files_read_selected_and_concatenated(int[] sizes, int rowsPerBatch)
    {
        using var folder = new TempFolder();
        var all = ArrowTestData.EveryType();
        var paths = new List<string>();
        var start = 0;
        foreach (var size in sizes)
        {
            var path = folder.File($"part{paths.Count}.arrow");
            await ArrowFile.WriteAsync(all.Slice(start, size), path, new ArrowWriteOptions { MaxRowsPerBatch = rowsPerBatch });
            paths.Add(path);
            start += size;
        }

        var parts = new List<Table>();
        foreach (var path in paths)
        {
            parts.Add((await ArrowFile.ReadTableAsync(path)).Select(Chosen));
        }

        var expected = Table.Concat(parts);

        var actual = await ArrowFileSet.ReadAsync(paths, Chosen, degree: 2, CancellationToken.None);

        ArrowTestData.AssertSame(expected, actual);
        ArrowTestData.AssertNullSlotsAreZero(actual);
    }

    [Fact]
    public async Task A_file_without_a_chosen_column_is_an_error_naming_file_and_column()
    {
        using var folder = new TempFolder();
        var all = ArrowTestData.EveryType();
        var first = folder.File("a.arrow");
        var second = folder.File("b.arrow");
        await ArrowFile.WriteAsync(all, first);
        await ArrowFile.WriteAsync(all.Select(["flag", "at"]), second);

        var error = await Assert.ThrowsAsync<DataFormatException>(() => ArrowFileSet.ReadAsync([first, second], ["at", "city"], 1, CancellationToken.None));

        Assert.Equal(ErrorCodes.NotFound, error.Code);
        Assert.Contains("'city'", error.Message);
        Assert.Contains("b.arrow", error.ToString());
    }

    [Fact]
    public async Task A_column_whose_type_differs_between_files_is_an_error()
    {
        using var folder = new TempFolder();
        var first = folder.File("a.arrow");
        var second = folder.File("b.arrow");
        await ArrowFile.WriteAsync(Table.From(("x", Columns.Int64(1, 2))), first);
        await ArrowFile.WriteAsync(Table.From(("x", Columns.Float64(1, 2))), second);

        var error = await Assert.ThrowsAsync<DataFormatException>(() => ArrowFileSet.ReadAsync([first, second], ["x"], 1, CancellationToken.None));

        Assert.Equal(ErrorCodes.DataType, error.Code);
        Assert.Contains("'x'", error.Message);
    }
}
