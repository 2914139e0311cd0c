namespace Strata.Tests.Core;

public sealed class TableTests
{
    [Fact]
    public void Slice_shares_values_and_keeps_nulls()
    {
        var table = Table.From(
            ("id", Columns.Int64(1, 2, null, 4)),
            ("name", Columns.String("a", null, "c", "a")));

        var slice = table.Slice(1, 3);

        Assert.Equal(3, slice.RowCount);
        Assert.Equal(new long[] { 2, 0, 4 }, slice.GetColumn<long>("id").Values.ToArray());
        Assert.True(slice["id"].IsNull(1));
        Assert.Equal(1, slice["id"].NullCount);
        Assert.Null(slice.GetStringColumn("name")[0]);
        Assert.Equal("a", slice.GetStringColumn("name")[2]);
        Assert.Same(((Column<long>)table["id"]).Buffer, ((Column<long>)slice["id"]).Buffer);
    }
}
