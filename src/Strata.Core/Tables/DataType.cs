namespace Strata;

/// <summary>The physical type of a column. Timestamps are UTC microseconds since the Unix epoch.</summary>
public enum DataType : byte
{
    /// <summary>true/false.</summary>
    Bool,
    /// <summary>32-bit signed integer.</summary>
    Int32,
    /// <summary>64-bit signed integer.</summary>
    Int64,
    /// <summary>IEEE 754 single precision.</summary>
    Float32,
    /// <summary>IEEE 754 double precision.</summary>
    Float64,
    /// <summary>UTF-8 text, dictionary-encoded.</summary>
    String,
    /// <summary>UTC instant with microsecond precision.</summary>
    Timestamp,
}

/// <summary>Names and properties of <see cref="DataType"/> values, as written in schema files and CLI output.</summary>
public static class DataTypes
{
    /// <summary>The lower-case name used in YAML, JSON and messages (int64, float32, timestamp…).</summary>
    public static string Name(this DataType type) => type switch
    {
        DataType.Bool => "bool",
        DataType.Int32 => "int32",
        DataType.Int64 => "int64",
        DataType.Float32 => "float32",
        DataType.Float64 => "float64",
        DataType.String => "string",
        DataType.Timestamp => "timestamp",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown data type"),
    };

    /// <summary>Parses a type name; accepts a few common aliases (int, long, float, double, str, datetime).</summary>
    public static bool TryParse(string? name, out DataType type)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "bool" or "boolean": type = DataType.Bool; return true;
            case "int32" or "int": type = DataType.Int32; return true;
            case "int64" or "long": type = DataType.Int64; return true;
            case "float32" or "float": type = DataType.Float32; return true;
            case "float64" or "double": type = DataType.Float64; return true;
            case "string" or "str" or "utf8": type = DataType.String; return true;
            case "timestamp" or "datetime": type = DataType.Timestamp; return true;
            default: type = default; return false;
        }
    }

    /// <summary>True for the types whose values are numbers (timestamps excluded).</summary>
    public static bool IsNumeric(this DataType type) =>
        type is DataType.Int32 or DataType.Int64 or DataType.Float32 or DataType.Float64;

    /// <summary>True for numeric and timestamp types, whose values have an order and a distance.</summary>
    public static bool IsOrdered(this DataType type) => type.IsNumeric() || type == DataType.Timestamp;

    /// <summary>The .NET element type of a column of this type.</summary>
    public static Type ClrType(this DataType type) => type switch
    {
        DataType.Bool => typeof(bool),
        DataType.Int32 => typeof(int),
        DataType.Int64 or DataType.Timestamp => typeof(long),
        DataType.Float32 => typeof(float),
        DataType.Float64 => typeof(double),
        DataType.String => typeof(string),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown data type"),
    };
}
