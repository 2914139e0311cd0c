namespace Strata.Features.OnDemand;

/// <summary>The value types of on-demand expressions (every numeric input is a number, a double).</summary>
internal enum ValueType
{
    Number,
    Bool,
    String,
}

/// <summary>A node's values for every row and which rows hold one (false = null).</summary>
internal sealed class Vector(int rows)
{
    public double[] Numbers { get; set; } = [];

    public bool[] Bools { get; set; } = [];

    public string?[] Strings { get; set; } = [];

    public bool[] Valid { get; } = new bool[rows];

    public int Rows => Valid.Length;
}

/// <summary>A compiled node: evaluates itself for all rows at once.</summary>
internal abstract class Node(ValueType type)
{
    public ValueType Type { get; } = type;

    public abstract Vector Evaluate(Frame frame);
}

/// <summary>The input columns of one evaluation, converted once per column.</summary>
internal sealed class Frame(Table table, Dictionary<string, DataType> types)
{
    private readonly Dictionary<string, Vector> _columns = new(StringComparer.Ordinal);

    public int Rows => table.RowCount;

    public Vector Column(string name)
    {
        if (_columns.TryGetValue(name, out var cached))
        {
            return cached;
        }

        var index = table.Schema.TryIndexOf(name);
        if (index < 0)
        {
            throw new StrataException(ErrorCodes.NotFound, $"on-demand expression input '{name}' is missing from the table (columns: {string.Join(", ", table.Schema.Names)})");
        }

        var column = table[index];
        if (column.Type != types[name])
        {
            throw new StrataException(ErrorCodes.DataType, $"on-demand expression input '{name}' was compiled as {types[name].Name()} but the table's column is {column.Type.Name()}");
        }

        var vector = new Vector(column.Length);
        for (var i = 0; i < column.Length; i++)
        {
            vector.Valid[i] = !column.IsNull(i);
        }

        switch (column)
        {
            case Column<double> c: vector.Numbers = c.Values.ToArray(); break;
            case Column<float> c: vector.Numbers = Convert(c.Values, v => v); break;
            case Column<long> c: vector.Numbers = Convert(c.Values, v => v); break;
            case Column<int> c: vector.Numbers = Convert(c.Values, v => v); break;
            case Column<bool> c: vector.Bools = c.Values.ToArray(); break;
            case StringColumn c:
                vector.Strings = new string?[c.Length];
                for (var i = 0; i < c.Length; i++)
                {
                    vector.Strings[i] = c[i];
                }

                break;
            default: throw new InvalidOperationException($"unexpected column type {column.Type.Name()}");
        }

        return _columns[name] = vector;
    }

    private static double[] Convert<T>(ReadOnlySpan<T> values, Func<T, double> convert)
    {
        var result = new double[values.Length];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = convert(values[i]);
        }

        return result;
    }
}

internal sealed class ColumnNode(string name, ValueType type) : Node(type)
{
    public string Name { get; } = name;

    public override Vector Evaluate(Frame frame) => frame.Column(Name);
}

internal sealed class ConstantNode : Node
{
    private readonly double _number;
    private readonly bool _bool;
    private readonly string? _string;

    public ConstantNode(double number) : base(ValueType.Number) => _number = number;

    public ConstantNode(bool value) : base(ValueType.Bool) => _bool = value;

    public ConstantNode(string value) : base(ValueType.String) => _string = value;

    public override Vector Evaluate(Frame frame)
    {
        var v = new Vector(frame.Rows);
        Array.Fill(v.Valid, true);
        switch (Type)
        {
            case ValueType.Number: v.Numbers = new double[v.Rows]; Array.Fill(v.Numbers, _number); break;
            case ValueType.Bool: v.Bools = new bool[v.Rows]; Array.Fill(v.Bools, _bool); break;
            default: v.Strings = new string?[v.Rows]; Array.Fill(v.Strings, _string); break;
        }

        return v;
    }
}

/// <summary>
/// Arithmetic on numbers: null in, null out; division by zero and a result that is not a finite number (NaN from
/// sqrt(-1), an infinity from exp(1000) or an overflow) give null, so no infinity reaches a model or a training set.
/// </summary>
internal sealed class NumberNode(Node[] operands, Func<double, double, double> op, bool nullOnZeroDivisor) : Node(ValueType.Number)
{
    public override Vector Evaluate(Frame frame)
    {
        var a = operands[0].Evaluate(frame);
        var b = operands.Length > 1 ? operands[1].Evaluate(frame) : null;
        var result = new Vector(a.Rows) { Numbers = new double[a.Rows] };
        for (var i = 0; i < a.Rows; i++)
        {
            if (!a.Valid[i] || (b is not null && !b.Valid[i]))
            {
                continue;
            }

            var y = b is null ? 0 : b.Numbers[i];
            if (nullOnZeroDivisor && y == 0)
            {
                continue;
            }

            var value = op(a.Numbers[i], y);
            if (double.IsFinite(value))
            {
                result.Numbers[i] = value;
                result.Valid[i] = true;
            }
        }

        return result;
    }
}

/// <summary>Comparisons of two numbers, strings (ordinal) or bools.</summary>
internal sealed class CompareNode(Node left, Node right, string op) : Node(ValueType.Bool)
{
    public override Vector Evaluate(Frame frame)
    {
        var a = left.Evaluate(frame);
        var b = right.Evaluate(frame);
        var result = new Vector(a.Rows) { Bools = new bool[a.Rows] };
        for (var i = 0; i < a.Rows; i++)
        {
            if (!a.Valid[i] || !b.Valid[i])
            {
                continue;
            }

            var c = left.Type switch
            {
                ValueType.Number => a.Numbers[i].CompareTo(b.Numbers[i]),
                ValueType.String => string.CompareOrdinal(a.Strings[i], b.Strings[i]),
                _ => a.Bools[i].CompareTo(b.Bools[i]),
            };
            var equalNumbers = left.Type != ValueType.Number || a.Numbers[i] == b.Numbers[i];
            result.Bools[i] = op switch
            {
                "<" => left.Type == ValueType.Number ? a.Numbers[i] < b.Numbers[i] : c < 0,
                "<=" => left.Type == ValueType.Number ? a.Numbers[i] <= b.Numbers[i] : c <= 0,
                ">" => left.Type == ValueType.Number ? a.Numbers[i] > b.Numbers[i] : c > 0,
                ">=" => left.Type == ValueType.Number ? a.Numbers[i] >= b.Numbers[i] : c >= 0,
                "==" => left.Type == ValueType.Number ? equalNumbers : c == 0,
                _ => left.Type == ValueType.Number ? !equalNumbers : c != 0,
            };
            result.Valid[i] = true;
        }

        return result;
    }
}

/// <summary>and, or, not: null in, null out.</summary>
internal sealed class LogicNode(Node[] operands, string op) : Node(ValueType.Bool)
{
    public override Vector Evaluate(Frame frame)
    {
        var a = operands[0].Evaluate(frame);
        var b = operands.Length > 1 ? operands[1].Evaluate(frame) : null;
        var result = new Vector(a.Rows) { Bools = new bool[a.Rows] };
        for (var i = 0; i < a.Rows; i++)
        {
            if (!a.Valid[i] || (b is not null && !b.Valid[i]))
            {
                continue;
            }

            result.Bools[i] = op switch
            {
                "and" => a.Bools[i] && b!.Bools[i],
                "or" => a.Bools[i] || b!.Bools[i],
                _ => !a.Bools[i],
            };
            result.Valid[i] = true;
        }

        return result;
    }
}

/// <summary>if(cond, a, b), coalesce(a, b) and is_null(a): the only nodes that see through nulls.</summary>
internal sealed class ChoiceNode(Node? condition, Node first, Node? second, ValueType type) : Node(type)
{
    public override Vector Evaluate(Frame frame)
    {
        if (second is null)
        {
            // is_null
            var operand = first.Evaluate(frame);
            var isNull = new Vector(operand.Rows) { Bools = new bool[operand.Rows] };
            for (var i = 0; i < operand.Rows; i++)
            {
                isNull.Bools[i] = !operand.Valid[i];
                isNull.Valid[i] = true;
            }

            return isNull;
        }

        var c = condition?.Evaluate(frame);
        var a = first.Evaluate(frame);
        var b = second.Evaluate(frame);
        var result = new Vector(a.Rows)
        {
            Numbers = Type == ValueType.Number ? new double[a.Rows] : [],
            Bools = Type == ValueType.Bool ? new bool[a.Rows] : [],
            Strings = Type == ValueType.String ? new string?[a.Rows] : [],
        };
        for (var i = 0; i < a.Rows; i++)
        {
            Vector? from;
            if (c is null)
            {
                from = a.Valid[i] ? a : b;
            }
            else
            {
                from = !c.Valid[i] ? null : c.Bools[i] ? a : b;
            }

            if (from is null || !from.Valid[i])
            {
                continue;
            }

            switch (Type)
            {
                case ValueType.Number: result.Numbers[i] = from.Numbers[i]; break;
                case ValueType.Bool: result.Bools[i] = from.Bools[i]; break;
                default: result.Strings[i] = from.Strings[i]; break;
            }

            result.Valid[i] = true;
        }

        return result;
    }
}
