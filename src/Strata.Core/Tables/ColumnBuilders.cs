using System.Text;

namespace Strata;

/// <summary>Appends values one row at a time and builds an immutable <see cref="Column"/>.</summary>
public abstract class ColumnBuilder
{
    private byte[]? _validity;
    private int _nullCount;

    private protected ColumnBuilder(DataType type) => Type = type;

    /// <summary>The type of the column being built.</summary>
    public DataType Type { get; }

    /// <summary>Rows appended so far.</summary>
    public int Count { get; private protected set; }

    /// <summary>A builder for a column of <paramref name="type"/>.</summary>
    public static ColumnBuilder Create(DataType type, int capacity = 16) => type switch
    {
        DataType.Bool => new PrimitiveColumnBuilder<bool>(type, capacity),
        DataType.Int32 => new PrimitiveColumnBuilder<int>(type, capacity),
        DataType.Int64 or DataType.Timestamp => new PrimitiveColumnBuilder<long>(type, capacity),
        DataType.Float32 => new PrimitiveColumnBuilder<float>(type, capacity),
        DataType.Float64 => new PrimitiveColumnBuilder<double>(type, capacity),
        DataType.String => new StringColumnBuilder(capacity),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown data type"),
    };

    /// <summary>Appends a null row.</summary>
    public abstract void AppendNull();

    /// <summary>
    /// Appends a boxed value (null for a null row). Accepts the column's CLR type, and DateTime / DateTimeOffset for
    /// timestamps. For tests and small tables; hot paths use the typed builders.
    /// </summary>
    public abstract void AppendObject(object? value);

    /// <summary>Builds the column; the builder must not be used afterwards.</summary>
    public abstract Column Build();

    private protected void MarkNull(int row)
    {
        if (_validity is null)
        {
            _validity = new byte[Math.Max(16, Bitmap.ByteLength(row + 1) * 2)];
            _validity.AsSpan(0, Bitmap.ByteLength(row)).Fill(0xFF);
        }

        EnsureValidityCapacity(row);
        Bitmap.Clear(_validity, row);
        _nullCount++;
    }

    private protected void MarkValid(int row)
    {
        if (_validity is not null)
        {
            EnsureValidityCapacity(row);
            Bitmap.Set(_validity, row);
        }
    }

    private protected (byte[]? Bits, int NullCount) TakeValidity() => (_nullCount == 0 ? null : _validity, _nullCount);

    private void EnsureValidityCapacity(int row)
    {
        if (Bitmap.ByteLength(row + 1) > _validity!.Length)
        {
            Array.Resize(ref _validity, _validity.Length * 2);
        }
    }
}

/// <summary>Builds a <see cref="Column{T}"/>.</summary>
public sealed class PrimitiveColumnBuilder<T> : ColumnBuilder
    where T : unmanaged
{
    private T[] _values;

    /// <summary>Creates a builder for a column of <paramref name="type"/> (whose CLR type must be <typeparamref name="T"/>).</summary>
    public PrimitiveColumnBuilder(DataType type, int capacity = 16)
        : base(type)
    {
        if (type.ClrType() != typeof(T))
        {
            throw new ArgumentException($"a {type.Name()} column holds {type.ClrType().Name}, not {typeof(T).Name}", nameof(type));
        }

        _values = new T[Math.Max(capacity, 4)];
    }

    /// <summary>Appends a value.</summary>
    public void Append(T value)
    {
        if (Count == _values.Length)
        {
            Array.Resize(ref _values, _values.Length * 2);
        }

        MarkValid(Count);
        _values[Count++] = value;
    }

    /// <inheritdoc />
    public override void AppendNull()
    {
        if (Count == _values.Length)
        {
            Array.Resize(ref _values, _values.Length * 2);
        }

        MarkNull(Count);
        _values[Count++] = default;
    }

    /// <inheritdoc />
    public override void AppendObject(object? value)
    {
        switch (value)
        {
            case null:
                AppendNull();
                break;
            case T typed:
                Append(typed);
                break;
            case DateTime dateTime when Type == DataType.Timestamp:
                Append((T)(object)Timestamp.FromDateTime(dateTime));
                break;
            case DateTimeOffset dateTimeOffset when Type == DataType.Timestamp:
                Append((T)(object)Timestamp.FromDateTimeOffset(dateTimeOffset));
                break;
            default:
                throw new ArgumentException($"cannot append a {value.GetType().Name} to a {Type.Name()} column", nameof(value));
        }
    }

    /// <inheritdoc />
    public override Column<T> Build() => BuildTyped();

    /// <summary>Builds the column with its static type.</summary>
    public Column<T> BuildTyped()
    {
        var (bits, nulls) = TakeValidity();
        var values = _values;
        if (values.Length != Count)
        {
            Array.Resize(ref values, Count);
        }

        _values = [];
        return new Column<T>(Type, values, 0, Count, bits, 0, nulls);
    }
}

/// <summary>Builds a <see cref="StringColumn"/>, encoding values into a dictionary as they arrive.</summary>
public sealed class StringColumnBuilder : ColumnBuilder
{
    private readonly Utf8StringTable _table = new();
    private int[] _codes;

    /// <summary>Creates a builder.</summary>
    public StringColumnBuilder(int capacity = 16)
        : base(DataType.String) => _codes = new int[Math.Max(capacity, 4)];

    /// <summary>Appends a value (null for a null row).</summary>
    public void Append(string? value)
    {
        if (value is null)
        {
            AppendNull();
            return;
        }

        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Span<byte> buffer = max <= 512 ? stackalloc byte[max] : new byte[max];
        Append(buffer[..Encoding.UTF8.GetBytes(value, buffer)]);
    }

    /// <summary>Appends a value given as UTF-8 bytes (the caller guarantees they are valid UTF-8).</summary>
    public void Append(ReadOnlySpan<byte> utf8)
    {
        Grow();
        MarkValid(Count);
        _codes[Count++] = _table.GetOrAdd(utf8);
    }

    /// <inheritdoc />
    public override void AppendNull()
    {
        Grow();
        MarkNull(Count);
        _codes[Count++] = 0;
    }

    /// <inheritdoc />
    public override void AppendObject(object? value)
    {
        switch (value)
        {
            case null:
                AppendNull();
                break;
            case string s:
                Append(s);
                break;
            default:
                throw new ArgumentException($"cannot append a {value.GetType().Name} to a string column", nameof(value));
        }
    }

    /// <inheritdoc />
    public override StringColumn Build()
    {
        var (bits, nulls) = TakeValidity();
        var codes = _codes;
        if (codes.Length != Count)
        {
            Array.Resize(ref codes, Count);
        }

        _codes = [];
        return new StringColumn(_table.ToDictionary(), codes, 0, Count, bits, 0, nulls);
    }

    private void Grow()
    {
        if (Count == _codes.Length)
        {
            Array.Resize(ref _codes, _codes.Length * 2);
        }
    }
}
