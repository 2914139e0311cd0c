namespace Strata.Data.Text;

/// <summary>
/// The lattice that type inference climbs: Null (no evidence yet) is below everything, Int64 widens to Float64, and any
/// other disagreement ends at String. Joining is order-independent, so chunks parsed in parallel agree on the result.
/// </summary>
internal enum ValueKind : byte
{
    Null,
    Bool,
    Int64,
    Float64,
    Timestamp,
    String,
}

/// <summary>How a format presents a value, which limits what it can be inferred as (a JSON string is never a number).</summary>
internal enum TextClass : byte
{
    /// <summary>Untyped text (CSV): may be a number, a bool, a timestamp or a string.</summary>
    Text,
    /// <summary>A JSON number.</summary>
    Number,
    /// <summary>A JSON string: a timestamp or a string.</summary>
    String,
    /// <summary>A JSON true/false, given as the text "true"/"false".</summary>
    Bool,
}

internal static class ValueKinds
{
    public static ValueKind Join(ValueKind a, ValueKind b)
    {
        if (a == b || b == ValueKind.Null)
        {
            return a;
        }

        if (a == ValueKind.Null)
        {
            return b;
        }

        return (a, b) is (ValueKind.Int64, ValueKind.Float64) or (ValueKind.Float64, ValueKind.Int64) ? ValueKind.Float64 : ValueKind.String;
    }

    /// <summary>The column type for an inferred kind; a column with no values at all is read as string.</summary>
    public static DataType ToDataType(ValueKind kind) => kind switch
    {
        ValueKind.Bool => DataType.Bool,
        ValueKind.Int64 => DataType.Int64,
        ValueKind.Float64 => DataType.Float64,
        ValueKind.Timestamp => DataType.Timestamp,
        _ => DataType.String,
    };

    /// <summary>The storage kind that holds values of a declared type (int32 is stored as int64 until assembly, and so on).</summary>
    public static ValueKind StorageOf(DataType type) => type switch
    {
        DataType.Bool => ValueKind.Bool,
        DataType.Int32 or DataType.Int64 => ValueKind.Int64,
        DataType.Float32 or DataType.Float64 => ValueKind.Float64,
        DataType.Timestamp => ValueKind.Timestamp,
        _ => ValueKind.String,
    };

    public static string Describe(ValueKind kind) => kind switch
    {
        ValueKind.Null => "null",
        _ => ToDataType(kind).Name(),
    };
}
