namespace Strata;

/// <summary>
/// A column of fixed-width values: bool, int32, int64, float32, float64, or timestamp (UTC microseconds as <see cref="long"/>).
/// </summary>
/// <typeparam name="T">bool, int, long, float or double.</typeparam>
public sealed class Column<T> : Column
    where T : unmanaged
{
    private readonly T[] _values;
    private readonly int _offset;

    /// <summary>Wraps an array without copying; the caller hands it over and must not change it afterwards.</summary>
    internal Column(DataType type, T[] values, int offset, int length, byte[]? validity = null, int validityOffset = 0, int nullCount = -1)
        : base(type, length, validity, validityOffset, nullCount)
    {
        if (type.ClrType() != typeof(T))
        {
            throw new ArgumentException($"a {type.Name()} column holds {type.ClrType().Name}, not {typeof(T).Name}", nameof(type));
        }

        if ((uint)offset > (uint)values.Length || (uint)length > (uint)(values.Length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(length), "values array is shorter than the column");
        }

        _values = values;
        _offset = offset;
    }

    /// <summary>The values; null rows hold default(T).</summary>
    public ReadOnlySpan<T> Values => new(_values, _offset, Length);

    /// <summary>The value at a row (default(T) when the row is null).</summary>
    public T this[int index] => Values[index];

    /// <summary>The backing array, shared with slices.</summary>
    internal T[] Buffer => _values;

    /// <summary>Position of row 0 in <see cref="Buffer"/>.</summary>
    internal int BufferOffset => _offset;

    /// <inheritdoc />
    public override Column<T> Slice(int offset, int length)
    {
        var (bits, bitOffset, nulls) = SliceValidity(offset, length);
        return new Column<T>(Type, _values, _offset + offset, length, bits, bitOffset, nulls);
    }

    /// <inheritdoc />
    public override Column<T> Take(ReadOnlySpan<int> rows)
    {
        var (bits, nulls) = TakeValidity(rows);
        var values = Values;
        var result = new T[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            result[i] = values[rows[i]];
        }

        return new Column<T>(Type, result, 0, rows.Length, bits, 0, nulls);
    }

    /// <inheritdoc />
    public override object? GetValue(int index)
    {
        if (IsNull(index))
        {
            return null;
        }

        var value = Values[index];
        return Type == DataType.Timestamp ? Timestamp.ToDateTime((long)(object)value) : value;
    }
}
