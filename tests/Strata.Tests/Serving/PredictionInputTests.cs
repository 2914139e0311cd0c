using Strata.Serving;

namespace Strata.Tests.Serving;

public sealed class PredictionInputTests
{
    [Fact]
    public void A_one_row_number_column_reads_as_a_column_of_one_number()
    {
        var number = InputColumn.OfNumber(2.5);
        var missing = InputColumn.OfNumber(double.NaN);

        Assert.Equal(InputKind.Number, number.Kind);
        Assert.Equal(2.5, number.NumberAt(0));
        Assert.Equal("2.5", number.TextAt(0));
        Assert.Equal([2.5], number.Numbers!);
        Assert.Same(number.Numbers, number.Numbers);
        Assert.Null(missing.TextAt(0));
        Assert.True(double.IsNaN(missing.NumberAt(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => InputColumn.OfNumber(1).NumberAt(1));
        Assert.Equal(7, InputColumn.OfNumbers([6, 7]).NumberAt(1));
        Assert.Null(InputColumn.OfTexts(["a"]).Numbers);
        Assert.Null(InputColumn.OfNulls().Numbers);
    }
}
