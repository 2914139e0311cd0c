namespace Strata.Features.OnDemand;

/// <summary>
/// One compiled on-demand feature expression, evaluated column-wise over a whole table for training sets and over a
/// one-row table when serving: the same compiled object both ways, which is what keeps the two consistent. User text is
/// only parsed, never executed, reflected on or compiled to code.
/// </summary>
/// <remarks>
/// <para>
/// Grammar: numbers, string literals ('…' or "…", escapes \\ \' \"), <c>true</c>/<c>false</c>, input names (identifiers
/// such as <c>view__feature</c>), <c>+ - * / %</c>, unary minus, <c>&lt; &lt;= &gt; &gt;= == !=</c> (not chained;
/// numbers, strings ordinally, bools by equality), <c>and or not</c>, parentheses, <c>if(cond, a, b)</c> and the functions
/// <c>abs sqrt log exp min max coalesce(a, b) is_null(a)</c>. Numeric inputs (and timestamps, as microseconds) are doubles.
/// </para>
/// <para>
/// Nulls: any null operand gives null, except <c>coalesce</c>, <c>is_null</c> and <c>if</c> (whose unselected branch
/// is not looked at; a null condition gives null). Division or modulo by zero gives null, as does any operation whose
/// result is not a finite number: NaN (sqrt(-1), log(-1)) or an infinity (exp(1000), log(0), 1e300 * 1e300).
/// </para>
/// <para>
/// Result types: float64 or float32 (rounded) from numbers, null when the value is not finite in that type (an infinite
/// input passed through, a float32 beyond ±3.4e38); int64 or int32 from numbers truncated toward zero, null when
/// the value is infinite or out of range; bool from booleans; string from strings. So a result is a finite value or
/// null, the same in training sets, online reads (status NULL_VALUE) and serving (a missing value). Limits: 4096 characters, nesting
/// depth 64.
/// </para>
/// </remarks>
public sealed class OnDemandExpression
{
    private const int MaxLength = 4096;
    private readonly Node _root;
    private readonly Dictionary<string, DataType> _types;

    private OnDemandExpression(string text, Node root, IReadOnlyList<string> inputs, Dictionary<string, DataType> types, DataType resultType)
    {
        Text = text;
        _root = root;
        Inputs = inputs;
        _types = types;
        ResultType = resultType;
    }

    /// <summary>The expression's text.</summary>
    public string Text { get; }

    /// <summary>The input columns the expression reads, in order of first use.</summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>The type of <see cref="Evaluate"/>'s column.</summary>
    public DataType ResultType { get; }

    /// <summary>Parses and type-checks an expression against the input schema.</summary>
    /// <exception cref="StrataException">The text is malformed, too long or too deep, names an unknown column, or its types do not fit.</exception>
    public static OnDemandExpression Compile(string text, Schema inputs, DataType resultType)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(inputs);
        if (text.Length > MaxLength)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"expression of {text.Length} characters is longer than the limit of {MaxLength}");
        }

        var parser = new Parser(text, inputs);
        var root = parser.ParseAll();
        var fits = (root.Type, resultType) switch
        {
            (ValueType.Number, DataType.Float64 or DataType.Float32 or DataType.Int64 or DataType.Int32) => true,
            (ValueType.Bool, DataType.Bool) => true,
            (ValueType.String, DataType.String) => true,
            _ => false,
        };
        if (!fits)
        {
            var kind = root.Type switch { ValueType.Number => "a number", ValueType.Bool => "a bool", _ => "a string" };
            throw Error(text, $"the result is {kind}, which cannot be stored as {resultType.Name()}", 0);
        }

        var types = parser.Names.ToDictionary(n => n, n => inputs[n].Type, StringComparer.Ordinal);
        return new OnDemandExpression(text, root, parser.Names.ToArray(), types, resultType);
    }

    /// <summary>Evaluates the expression for every row of <paramref name="inputs"/> (which must hold <see cref="Inputs"/>).</summary>
    /// <exception cref="StrataException">An input is missing or has another type than at compile time.</exception>
    public Column Evaluate(Table inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var result = _root.Evaluate(new Frame(inputs, _types));
        switch (ResultType)
        {
            case DataType.Float64:
            {
                var finite = new bool[result.Rows];
                for (var i = 0; i < finite.Length; i++)
                {
                    finite[i] = result.Valid[i] && double.IsFinite(result.Numbers[i]);
                }

                return Columns.Create(DataType.Float64, result.Numbers, finite);
            }

            case DataType.Float32:
            {
                var narrowed = result.Numbers.Select(v => (float)v).ToArray();
                var finite = new bool[result.Rows];
                for (var i = 0; i < finite.Length; i++)
                {
                    finite[i] = result.Valid[i] && float.IsFinite(narrowed[i]);
                }

                return Columns.Create(DataType.Float32, narrowed, finite);
            }

            case DataType.Int64:
            case DataType.Int32:
                var (min, max) = ResultType == DataType.Int64 ? (-9223372036854775808.0, 9223372036854775808.0) : (int.MinValue, int.MaxValue + 1.0);
                var valid = new bool[result.Rows];
                var values = new long[result.Rows];
                for (var i = 0; i < valid.Length; i++)
                {
                    var v = Math.Truncate(result.Numbers[i]);
                    valid[i] = result.Valid[i] && v >= min && v < max;
                    values[i] = valid[i] ? (long)v : 0;
                }

                return ResultType == DataType.Int64
                    ? Columns.Create(DataType.Int64, values, valid)
                    : Columns.Create(DataType.Int32, values.Select(v => (int)v).ToArray(), valid);
            case DataType.Bool:
                return Columns.Create(DataType.Bool, result.Bools, result.Valid);
            default:
                return Columns.String(result.Strings.Select((s, i) => result.Valid[i] ? s : null).ToArray());
        }
    }

    /// <inheritdoc />
    public override string ToString() => Text;

    /// <summary>A compile error: the expression (shortened when long), the problem and where.</summary>
    internal static StrataException Error(string text, string problem, int position)
    {
        var shown = text.Length <= 200 ? text : text[..200] + "…";
        return new StrataException(ErrorCodes.ArgumentInvalid, $"expression '{shown}': {problem} at position {position}");
    }
}
