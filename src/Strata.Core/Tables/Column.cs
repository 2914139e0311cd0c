namespace Strata;

/// <summary>
/// An immutable column of one <see cref="DataType"/> with a null bitmap. Slices share the parent's memory; slots that are
/// null hold the type's default value (0, false, or dictionary code 0), so vectorized code may read over them safely.
/// </summary>
public abstract class Column
{
    private int _nullCount;

    private protected Column(DataType type, int length, byte[]? validity, int validityOffset, int nullCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (validity is not null && Bitmap.ByteLength(validityOffset + length) > validity.Length)
        {
            throw new ArgumentException("validity bitmap is shorter than the column", nameof(validity));
        }

        Type = type;
        Length = length;
        ValidityBits = validity;
        ValidityOffset = validityOffset;
        _nullCount = validity is null ? 0 : nullCount;
    }

    /// <summary>The type of the values.</summary>
    public DataType Type { get; }

    /// <summary>Number of rows.</summary>
    public int Length { get; }

    /// <summary>Number of null rows.</summary>
    public int NullCount
    {
        get
        {
            if (_nullCount < 0)
            {
                _nullCount = Length - Bitmap.CountSet(ValidityBits, ValidityOffset, Length);
            }

            return _nullCount;
        }
    }

    /// <summary>True if any row is null.</summary>
    public bool HasNulls => NullCount > 0;

    /// <summary>Arrow-layout validity bits (1 = valid), or null when every row is valid.</summary>
    internal byte[]? ValidityBits { get; }

    /// <summary>Bit offset of row 0 in <see cref="ValidityBits"/>.</summary>
    internal int ValidityOffset { get; }

    /// <summary>True when row <paramref name="index"/> is null.</summary>
    public bool IsNull(int index)
    {
        if ((uint)index >= (uint)Length)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"row index out of range [0, {Length})");
        }

        return ValidityBits is { } bits && !Bitmap.Get(bits, ValidityOffset + index);
    }

    /// <summary>True when row <paramref name="index"/> holds a value.</summary>
    public bool IsValid(int index) => !IsNull(index);

    /// <summary>A zero-copy view of rows [offset, offset + length).</summary>
    public abstract Column Slice(int offset, int length);

    /// <summary>A new column holding the rows at the given positions, in that order.</summary>
    public abstract Column Take(ReadOnlySpan<int> rows);

    /// <summary>The value at a row, boxed (null for a null row). For display and tests; hot paths use typed spans.</summary>
    public abstract object? GetValue(int index);

    /// <summary>Validity of a slice: shares the bitmap with a shifted offset, and keeps the null count when it is known to be 0.</summary>
    private protected (byte[]? Bits, int Offset, int NullCount) SliceValidity(int offset, int length)
    {
        if ((uint)offset > (uint)Length || (uint)length > (uint)(Length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"slice [{offset}, {offset + length}) is outside [0, {Length})");
        }

        if (ValidityBits is null || _nullCount == 0)
        {
            return (null, 0, 0);
        }

        return (ValidityBits, ValidityOffset + offset, -1);
    }

    /// <summary>Validity of a gather: a fresh bitmap, or null when no gathered row is null.</summary>
    private protected (byte[]? Bits, int NullCount) TakeValidity(ReadOnlySpan<int> rows)
    {
        if (ValidityBits is not { } bits || NullCount == 0)
        {
            foreach (var r in rows)
            {
                if ((uint)r >= (uint)Length)
                {
                    throw new ArgumentOutOfRangeException(nameof(rows), r, $"row index out of range [0, {Length})");
                }
            }

            return (null, 0);
        }

        var result = new byte[Bitmap.ByteLength(rows.Length)];
        var nulls = 0;
        for (var i = 0; i < rows.Length; i++)
        {
            var r = rows[i];
            if ((uint)r >= (uint)Length)
            {
                throw new ArgumentOutOfRangeException(nameof(rows), r, $"row index out of range [0, {Length})");
            }

            if (Bitmap.Get(bits, ValidityOffset + r))
            {
                Bitmap.Set(result, i);
            }
            else
            {
                nulls++;
            }
        }

        return nulls == 0 ? (null, 0) : (result, nulls);
    }
}
