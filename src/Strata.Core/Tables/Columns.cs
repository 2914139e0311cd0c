namespace Strata;

/// <summary>Short ways to make columns from values, for tests, examples and small tables.</summary>
public static class Columns
{
    /// <summary>A bool column.</summary>
    public static Column<bool> Bool(params bool?[] values) => Nullable(DataType.Bool, values);

    /// <summary>An int32 column.</summary>
    public static Column<int> Int32(params int?[] values) => Nullable(DataType.Int32, values);

    /// <summary>An int64 column.</summary>
    public static Column<long> Int64(params long?[] values) => Nullable(DataType.Int64, values);

    /// <summary>A float32 column.</summary>
    public static Column<float> Float32(params float?[] values) => Nullable(DataType.Float32, values);

    /// <summary>A float64 column.</summary>
    public static Column<double> Float64(params double?[] values) => Nullable(DataType.Float64, values);

    /// <summary>A timestamp column from UTC microseconds.</summary>
    public static Column<long> Timestamp(params long?[] micros) => Nullable(DataType.Timestamp, micros);

    /// <summary>A timestamp column from DateTimes (unspecified kind counts as UTC).</summary>
    public static Column<long> Timestamp(params DateTime?[] values) =>
        Nullable(DataType.Timestamp, values.Select(v => v is { } d ? Strata.Timestamp.FromDateTime(d) : (long?)null).ToArray());

    /// <summary>A string column.</summary>
    public static StringColumn String(params string?[] values) => StringColumn.From(values);

    /// <summary>A column that copies <paramref name="values"/>; every row is valid.</summary>
    public static Column<T> Create<T>(DataType type, ReadOnlySpan<T> values)
        where T : unmanaged => new(type, values.ToArray(), 0, values.Length);

    /// <summary>A column that copies <paramref name="values"/>, with nulls where <paramref name="valid"/> is false.</summary>
    public static Column<T> Create<T>(DataType type, ReadOnlySpan<T> values, ReadOnlySpan<bool> valid)
        where T : unmanaged
    {
        if (valid.Length != values.Length)
        {
            throw new ArgumentException("values and validity differ in length", nameof(valid));
        }

        var builder = new PrimitiveColumnBuilder<T>(type, values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            if (valid[i])
            {
                builder.Append(values[i]);
            }
            else
            {
                builder.AppendNull();
            }
        }

        return builder.BuildTyped();
    }

    private static Column<T> Nullable<T>(DataType type, T?[] values)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(values);
        var builder = new PrimitiveColumnBuilder<T>(type, values.Length);
        foreach (var value in values)
        {
            if (value is { } v)
            {
                builder.Append(v);
            }
            else
            {
                builder.AppendNull();
            }
        }

        return builder.BuildTyped();
    }
}
