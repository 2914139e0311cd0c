using Strata.Learning;

namespace Strata.Tests.Learning;

/// <summary>A table's numbers as the float32 features models read: what converts, and what is refused rather than changed.</summary>
public sealed class FeatureMatrixTests
{
    private static readonly ModelInput[] Inputs = [new("x", DataType.Float64, FeatureKind.Numeric, null)];

    [Theory]
    [InlineData(1e300, "feature 'x' is 1E+300 at row 3, beyond the model's features (float32, at most ±3.4028235E+38)")]
    [InlineData(-3.5e38, "feature 'x' is -3.5E+38 at row 3")]
    public void A_finite_number_beyond_float32_is_refused_naming_feature_row_and_value(double value, string message)
    {
        var table = Table.From(("x", Columns.Float64(1.5, null, value, 2)));

        var error = Assert.Throws<StrataException>(() => FeatureMatrix.FromTable(table, Inputs));

        Assert.Equal(ErrorCodes.DataOutOfRange, error.Code);
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infinities_nulls_and_the_largest_float32_values_convert()
    {
        var table = Table.From(("x", Columns.Float64(double.PositiveInfinity, null, double.NegativeInfinity, float.MaxValue, -float.MaxValue, 1e-300)));

        var matrix = FeatureMatrix.FromTable(table, Inputs);

        Assert.Equal([float.PositiveInfinity, float.NaN, float.NegativeInfinity, float.MaxValue, -float.MaxValue, 0f], matrix.Numeric(0).ToArray());
    }
}
