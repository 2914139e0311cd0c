namespace Strata;

/// <summary>A dictionary-encoded string column: one int32 code per row into a shared <see cref="StringDictionary"/>.</summary>
public sealed class StringColumn : Column
{
    private readonly int[] _codes;
    private readonly int _offset;

    /// <summary>Wraps codes without copying; codes of valid rows must be within the dictionary, codes of null rows are 0.</summary>
    internal StringColumn(StringDictionary dictionary, int[] codes, int offset, int length, byte[]? validity = null, int validityOffset = 0, int nullCount = -1)
        : base(DataType.String, length, validity, validityOffset, nullCount)
    {
        if ((uint)offset > (uint)codes.Length || (uint)length > (uint)(codes.Length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(length), "codes array is shorter than the column");
        }

        Dictionary = dictionary;
        _codes = codes;
        _offset = offset;
    }

    /// <summary>The distinct values the codes refer to (it may hold values that no row of a slice uses).</summary>
    public StringDictionary Dictionary { get; }

    /// <summary>One dictionary code per row; 0 for null rows.</summary>
    public ReadOnlySpan<int> Codes => new(_codes, _offset, Length);

    /// <summary>The value at a row, or null.</summary>
    public string? this[int index] => IsNull(index) ? null : Dictionary.GetString(_codes[_offset + index]);

    /// <summary>The UTF-8 bytes of the value at a row (empty for a null row).</summary>
    public ReadOnlySpan<byte> GetUtf8(int index) => IsNull(index) ? default : Dictionary.GetUtf8(_codes[_offset + index]);

    /// <summary>The backing code array, shared with slices.</summary>
    internal int[] Buffer => _codes;

    /// <summary>Position of row 0 in <see cref="Buffer"/>.</summary>
    internal int BufferOffset => _offset;

    /// <summary>A column of the given values (null entries are null rows).</summary>
    public static StringColumn From(IEnumerable<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var builder = new StringColumnBuilder();
        foreach (var value in values)
        {
            builder.Append(value);
        }

        return builder.Build();
    }

    /// <inheritdoc />
    public override StringColumn Slice(int offset, int length)
    {
        var (bits, bitOffset, nulls) = SliceValidity(offset, length);
        return new StringColumn(Dictionary, _codes, _offset + offset, length, bits, bitOffset, nulls);
    }

    /// <inheritdoc />
    public override StringColumn Take(ReadOnlySpan<int> rows)
    {
        var (bits, nulls) = TakeValidity(rows);
        var codes = Codes;
        var result = new int[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            result[i] = codes[rows[i]];
        }

        return new StringColumn(Dictionary, result, 0, rows.Length, bits, 0, nulls);
    }

    /// <inheritdoc />
    public override object? GetValue(int index) => this[index];
}
