using Strata.Features.OnDemand;

namespace Strata.Tests.Features.OnDemand;

public sealed class OnDemandExpressionTests
{
    private static readonly Schema Inputs = new(
        new Field("mean_delay", DataType.Float64),
        new Field("dep_count", DataType.Int64),
        new Field("flights__late", DataType.Int32),
        new Field("carrier", DataType.String),
        new Field("hub", DataType.Bool));

    private static readonly Table Rows = Table.From(
        ("mean_delay", Columns.Float64(10, null, -4, 0)),
        ("dep_count", Columns.Int64(4, 2, 0, 3)),
        ("flights__late", Columns.Int32(1, 2, null, 0)),
        ("carrier", Columns.String("AA", "BA", null, "AA")),
        ("hub", Columns.Bool(true, false, true, null)));

    [Theory]
    [InlineData("1 + 2 * 3", 7.0)]
    [InlineData("(1 + 2) * 3", 9.0)]
    [InlineData("-2 * -3 - 1", 5.0)]
    [InlineData("10 - 4 - 3", 3.0)]
    [InlineData("2 * 3 % 4", 2.0)]
    [InlineData("7 / 2", 3.5)]
    [InlineData("abs(-2.5) + sqrt(16) + log(1) + exp(0)", 7.5)]
    [InlineData("min(3, 1e1) + max(-1, .5)", 3.5)]
    [InlineData("if(1 < 2 and not 2 <= 1 or false, 1, 2)", 1.0)]
    [InlineData("if('b' > 'a', 10, 20)", 10.0)]
    [InlineData("coalesce(1 / 0, 42)", 42.0)]
    public void Constant_expressions_follow_precedence(string text, double expected)
    {
        var result = OnDemandExpression.Compile(text, Inputs, DataType.Float64).Evaluate(Rows);

        Assert.All(Enumerable.Range(0, Rows.RowCount), i => Assert.Equal(expected, result.GetValue(i)));
    }

    [Fact]
    public void Columns_are_evaluated_row_by_row_and_nulls_propagate()
    {
        var e = OnDemandExpression.Compile("mean_delay / dep_count + flights__late", Inputs, DataType.Float64);

        var result = e.Evaluate(Rows);

        Assert.Equal(["mean_delay", "dep_count", "flights__late"], e.Inputs);
        Assert.Equal([3.5, null, null, 0.0], Values(result));
    }

    [Fact]
    public void Division_and_modulo_by_zero_give_null_and_nan_gives_null()
    {
        Assert.Equal([2.5, null, null, 0.0], Values(OnDemandExpression.Compile("mean_delay / dep_count", Inputs, DataType.Float64).Evaluate(Rows)));
        Assert.Equal([2.0, null, null, 0.0], Values(OnDemandExpression.Compile("mean_delay % dep_count", Inputs, DataType.Float64).Evaluate(Rows)));
        Assert.Equal([null, null, null, null], Values(OnDemandExpression.Compile("sqrt(-1 - dep_count)", Inputs, DataType.Float64).Evaluate(Rows)));
    }

    [Fact]
    public void A_result_that_is_not_a_finite_number_is_null()
    {
        Assert.Equal([null, null, null, null], Values(OnDemandExpression.Compile("exp(1000)", Inputs, DataType.Float64).Evaluate(Rows)));
        Assert.Equal([null, null, null, null], Values(OnDemandExpression.Compile("log(0) + 1", Inputs, DataType.Float64).Evaluate(Rows)));
        Assert.Equal([null, null, null, 0.0], Values(OnDemandExpression.Compile("mean_delay * 1e307 * 100", Inputs, DataType.Float64).Evaluate(Rows)));
        Assert.Equal([7.0, 7.0, 7.0, 7.0], Values(OnDemandExpression.Compile("coalesce(exp(1000), 7)", Inputs, DataType.Float64).Evaluate(Rows)));

        // Finite as a double, beyond float32: null rather than an infinity.
        Assert.Equal([null, null, null, 0f], Values(OnDemandExpression.Compile("mean_delay * 1e38", Inputs, DataType.Float32).Evaluate(Rows)));

        // An infinite input passed through untouched is caught at the result.
        var infinite = Table.From(("mean_delay", Columns.Float64(double.PositiveInfinity, double.NegativeInfinity, 1.5)), ("hub", Columns.Bool(true, true, true)));
        var schema = new Schema(new Field("mean_delay", DataType.Float64), new Field("hub", DataType.Bool));
        Assert.Equal([null, null, 1.5], Values(OnDemandExpression.Compile("if(hub, mean_delay, 0)", schema, DataType.Float64).Evaluate(infinite)));
        Assert.Equal([null, null, 1.5f], Values(OnDemandExpression.Compile("mean_delay", schema, DataType.Float32).Evaluate(infinite)));
    }

    [Fact]
    public void Coalesce_is_null_and_if_see_through_nulls()
    {
        Assert.Equal([10.0, -1.0, -4.0, 0.0], Values(OnDemandExpression.Compile("coalesce(mean_delay, -1)", Inputs, DataType.Float64).Evaluate(Rows)));
        Assert.Equal([false, true, false, false], Values(OnDemandExpression.Compile("is_null(mean_delay)", Inputs, DataType.Bool).Evaluate(Rows)));
        Assert.Equal([1.0, null, 1.0, null], Values(OnDemandExpression.Compile("if(hub, 1, mean_delay / 0)", Inputs, DataType.Float64).Evaluate(Rows)));
    }

    [Fact]
    public void Strings_and_bools_compare_and_results_convert()
    {
        Assert.Equal([true, false, null, true], Values(OnDemandExpression.Compile("carrier == 'AA'", Inputs, DataType.Bool).Evaluate(Rows)));
        Assert.Equal([false, true, null, null], Values(OnDemandExpression.Compile("hub != true or carrier != \"AA\"", Inputs, DataType.Bool).Evaluate(Rows)));
        Assert.Equal(["big", "small", "small", "small"], Values(OnDemandExpression.Compile("if(dep_count > 3, 'big', 'small')", Inputs, DataType.String).Evaluate(Rows)));
        Assert.Equal([2L, null, -1L, 0L], Values(OnDemandExpression.Compile("mean_delay / 4", Inputs, DataType.Int64).Evaluate(Rows)));
        Assert.Equal([null, null, null, null], Values(OnDemandExpression.Compile("exp(1000) + dep_count", Inputs, DataType.Int32).Evaluate(Rows)));
        Assert.Equal([2.5f, null, -1f, 0f], Values(OnDemandExpression.Compile("mean_delay / 4", Inputs, DataType.Float32).Evaluate(Rows)));
    }

    [Fact]
    public void One_row_evaluation_matches_the_batch()
    {
        var e = OnDemandExpression.Compile("if(hub, mean_delay * 2, coalesce(mean_delay, dep_count)) - flights__late", Inputs, DataType.Float64);
        var batch = e.Evaluate(Rows);

        for (var i = 0; i < Rows.RowCount; i++)
        {
            Assert.Equal(batch.GetValue(i), e.Evaluate(Rows.Slice(i, 1)).GetValue(0));
        }
    }

    [Theory]
    [InlineData("mean_delay / (dep_count + ", "expression 'mean_delay / (dep_count + ': unexpected end at position 26")]
    [InlineData("nope + 1", "unknown column 'nope' at position 0")]
    [InlineData("carrier + 1", "'+' needs number operands, not string at position 8")]
    [InlineData("1 < 2 < 3", "unexpected '<' at position 6")]
    [InlineData("if(hub, 1)", "if takes 3 argument(s), not 2 at position 0")]
    [InlineData("frob(1)", "unknown function 'frob' at position 0")]
    [InlineData("'abc", "unterminated string at position 0")]
    [InlineData("1 # 2", "unexpected character '#' at position 2")]
    [InlineData("hub", "the result is a bool, which cannot be stored as float64")]
    public void Errors_name_the_problem_and_position(string text, string message)
    {
        var error = Assert.Throws<StrataException>(() => OnDemandExpression.Compile(text, Inputs, DataType.Float64));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Limits_on_length_and_depth_hold()
    {
        Assert.Throws<StrataException>(() => OnDemandExpression.Compile(new string('(', 65) + "1" + new string(')', 65), Inputs, DataType.Float64));
        Assert.Throws<StrataException>(() => OnDemandExpression.Compile(new string('-', 100) + "1", Inputs, DataType.Float64));
        Assert.Throws<StrataException>(() => OnDemandExpression.Compile(string.Join("+", Enumerable.Repeat("1", 2100)), Inputs, DataType.Float64));
        Assert.Equal(1.0, OnDemandExpression.Compile(new string('(', 60) + "1" + new string(')', 60), Inputs, DataType.Float64).Evaluate(Rows).GetValue(0));
    }

    [Fact]
    public void Random_malformed_text_only_ever_throws_strata_exceptions()
    {
        string[] pieces = ["(", ")", ",", "+", "-", "*", "/", "%", "<", "<=", "==", "!=", " and ", " or ", "not ", "if(", "abs(", "coalesce(", "is_null(",
            "1", "2.5", "1e400", ".", "'x'", "\"", "\\", "mean_delay", "carrier", "hub", "dep_count", "true", "é", "\0", " "];
        for (var seed = 0; seed < 3000; seed++)
        {
            var random = new Random(seed);
            var text = string.Concat(Enumerable.Range(0, random.Next(1, 25)).Select(_ => pieces[random.Next(pieces.Length)]));
            foreach (var type in new[] { DataType.Float64, DataType.Bool, DataType.String, DataType.Int32 })
            {
                try
                {
                    OnDemandExpression.Compile(text, Inputs, type).Evaluate(Rows);
                }
                catch (StrataException)
                {
                }
                catch (Exception e)
                {
                    Assert.Fail($"seed {seed}: '{text}' threw {e.GetType().Name}: {e.Message}");
                }
            }
        }
    }

    private static object?[] Values(Column column) => Enumerable.Range(0, column.Length).Select(column.GetValue).ToArray();
}
