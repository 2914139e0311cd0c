using System.Buffers;
using System.Runtime.CompilerServices;

namespace Strata.Data.Text;

/// <summary>What happened to one appended value.</summary>
internal enum AppendStatus : byte
{
    Ok,
    /// <summary>The value contradicts the inferred kind: the chunk is re-read with this column as string.</summary>
    NeedsString,
    /// <summary>The value cannot be read as the declared type.</summary>
    NotOfType,
    /// <summary>The value is a number outside the declared type's range.</summary>
    OutOfRange,
    /// <summary>The value is not valid UTF-8.</summary>
    InvalidUtf8,
    /// <summary>A null in a column declared non-nullable.</summary>
    NullNotAllowed,
}

/// <summary>
/// The values of one column within one chunk, parsed as they are tokenized. Under inference it starts at a kind and
/// widens Int64 → Float64 in place; any other contradiction asks the parser to re-read the chunk with the column as
/// string, because only the original text can be kept faithfully. Arrays come from the shared pool and go back on dispose.
/// </summary>
internal sealed class ColumnChunkBuilder : IDisposable
{
    private readonly DataType? _declared;
    private readonly bool _nullable;
    private ValueKind _kind;
    private bool _sawValue;
    private long[]? _longs;
    private double[]? _doubles;
    private bool[]? _bools;
    private int[]? _codes;
    private Utf8StringTable? _strings;
    private byte[]? _validity;
    private int _capacity;

    public ColumnChunkBuilder(ColumnPlan plan, int capacity)
    {
        _declared = plan.Declared?.Type;
        _nullable = plan.Declared?.Nullable ?? true;
        _kind = _declared is { } t ? ValueKinds.StorageOf(t) : plan.StartKind;
        _capacity = Math.Max(capacity, 64);
        if (_kind != ValueKind.Null)
        {
            Allocate(_kind);
        }
    }

    /// <summary>Rows appended.</summary>
    public int Count { get; private set; }

    /// <summary>Null rows appended.</summary>
    public int NullCount { get; private set; }

    /// <summary>What the values showed: Null when every value was null, else the storage kind.</summary>
    public ValueKind Kind => _sawValue ? _kind : ValueKind.Null;

    /// <summary>The storage kind (what the arrays hold).</summary>
    public ValueKind StorageKind => _kind;

    public ReadOnlySpan<long> Longs => _longs.AsSpan(0, Count);

    public ReadOnlySpan<double> Doubles => _doubles.AsSpan(0, Count);

    public ReadOnlySpan<bool> Bools => _bools.AsSpan(0, Count);

    public ReadOnlySpan<int> Codes => _codes.AsSpan(0, Count);

    public Utf8StringTable? Strings => _strings;

    /// <summary>Validity bits (1 = valid) for [0, Count), or null when no row is null.</summary>
    public byte[]? Validity => NullCount == 0 ? null : _validity;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public AppendStatus AppendNull()
    {
        if (!_nullable)
        {
            return AppendStatus.NullNotAllowed;
        }

        EnsureCapacity();
        if (_validity is null)
        {
            _validity = ArrayPool<byte>.Shared.Rent(Bitmap.ByteLength(_capacity));
            _validity.AsSpan(0, Bitmap.ByteLength(_capacity)).Fill(0xFF);
        }

        Bitmap.Clear(_validity, Count);
        switch (_kind)
        {
            case ValueKind.Int64 or ValueKind.Timestamp: _longs![Count] = 0; break;
            case ValueKind.Float64: _doubles![Count] = 0; break;
            case ValueKind.Bool: _bools![Count] = false; break;
            case ValueKind.String: _codes![Count] = 0; break;
            default: break;
        }

        Count++;
        NullCount++;
        return AppendStatus.Ok;
    }

    /// <summary>Appends <paramref name="count"/> nulls (a JSON key first seen after earlier rows).</summary>
    public AppendStatus AppendNulls(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var status = AppendNull();
            if (status != AppendStatus.Ok)
            {
                return status;
            }
        }

        return AppendStatus.Ok;
    }

    /// <summary>Appends a non-null value given as text of a class (CSV text, JSON number, JSON string, JSON bool).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public AppendStatus Append(ReadOnlySpan<byte> text, TextClass cls)
    {
        EnsureCapacity();
        if (_kind == ValueKind.Null)
        {
            var kind = Infer(text, cls);
            Allocate(kind);
            _kind = kind;
        }

        var status = _kind switch
        {
            ValueKind.Int64 => AppendInt64(text, cls),
            ValueKind.Float64 => AppendFloat64(text, cls),
            ValueKind.String => AppendString(text),
            ValueKind.Timestamp => AppendTimestamp(text, cls),
            _ => AppendBool(text, cls),
        };

        if (status == AppendStatus.Ok)
        {
            if (_validity is not null)
            {
                Bitmap.Set(_validity, Count);
            }

            _sawValue = true;
            Count++;
        }

        return status;
    }

    /// <summary>Drops rows from the end (a ragged row that is skipped after some of its fields were stored).</summary>
    public void Truncate(int count)
    {
        while (Count > count)
        {
            Count--;
            if (_validity is not null && !Bitmap.Get(_validity, Count))
            {
                Bitmap.Set(_validity, Count);
                NullCount--;
            }
        }
    }

    private static ValueKind Infer(ReadOnlySpan<byte> text, TextClass cls)
    {
        switch (cls)
        {
            case TextClass.Number:
                return Utf8Numbers.TryParseInt64(text, out _) ? ValueKind.Int64 : ValueKind.Float64;
            case TextClass.Bool:
                return ValueKind.Bool;
            case TextClass.String:
                return Timestamp.TryParse(text, out _) ? ValueKind.Timestamp : ValueKind.String;
            default:
                var trimmed = Utf8Numbers.Trim(text);
                if (Utf8Numbers.TryParseInt64(trimmed, out _))
                {
                    return ValueKind.Int64;
                }

                if (Utf8Numbers.TryParseDouble(trimmed, out _, out _))
                {
                    return ValueKind.Float64;
                }

                if (Utf8Numbers.TryParseBool(trimmed, out _))
                {
                    return ValueKind.Bool;
                }

                return Timestamp.TryParse(trimmed, out _) ? ValueKind.Timestamp : ValueKind.String;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private AppendStatus AppendInt64(ReadOnlySpan<byte> text, TextClass cls)
    {
        if (_declared is null && cls is TextClass.String or TextClass.Bool)
        {
            return AppendStatus.NeedsString;
        }

        var trimmed = Utf8Numbers.Trim(text);
        if (Utf8Numbers.TryParseInt64(trimmed, out var value))
        {
            if (_declared == DataType.Int32 && value is < int.MinValue or > int.MaxValue)
            {
                return AppendStatus.OutOfRange;
            }

            _longs![Count] = value;
            return AppendStatus.Ok;
        }

        if (_declared is not null)
        {
            return Utf8Numbers.IsIntegerLiteral(trimmed) ? AppendStatus.OutOfRange : AppendStatus.NotOfType;
        }

        if (Utf8Numbers.TryParseDouble(trimmed, out var d, out _))
        {
            WidenToFloat64();
            _doubles![Count] = d;
            return AppendStatus.Ok;
        }

        return AppendStatus.NeedsString;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private AppendStatus AppendFloat64(ReadOnlySpan<byte> text, TextClass cls)
    {
        if (_declared is null && cls is TextClass.String or TextClass.Bool)
        {
            return AppendStatus.NeedsString;
        }

        if (Utf8Numbers.TryParseDouble(Utf8Numbers.Trim(text), out var value, out var overflow))
        {
            if (_declared == DataType.Float32 && double.IsFinite(value) && Math.Abs(value) > float.MaxValue)
            {
                return AppendStatus.OutOfRange;
            }

            _doubles![Count] = value;
            return AppendStatus.Ok;
        }

        if (_declared is not null)
        {
            return overflow ? AppendStatus.OutOfRange : AppendStatus.NotOfType;
        }

        return AppendStatus.NeedsString;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private AppendStatus AppendBool(ReadOnlySpan<byte> text, TextClass cls)
    {
        if (_declared is null && cls is TextClass.String or TextClass.Number)
        {
            return AppendStatus.NeedsString;
        }

        if (Utf8Numbers.TryParseBool(Utf8Numbers.Trim(text), out var value))
        {
            _bools![Count] = value;
            return AppendStatus.Ok;
        }

        return _declared is null ? AppendStatus.NeedsString : AppendStatus.NotOfType;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private AppendStatus AppendTimestamp(ReadOnlySpan<byte> text, TextClass cls)
    {
        if (_declared is null && cls is TextClass.Number or TextClass.Bool)
        {
            return AppendStatus.NeedsString;
        }

        if (Timestamp.TryParse(Utf8Numbers.Trim(text), out var value))
        {
            _longs![Count] = value;
            return AppendStatus.Ok;
        }

        return _declared is null ? AppendStatus.NeedsString : AppendStatus.NotOfType;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private AppendStatus AppendString(ReadOnlySpan<byte> text)
    {
        var code = _strings!.GetOrAddValidUtf8(text);
        if (code < 0)
        {
            return AppendStatus.InvalidUtf8;
        }

        _codes![Count] = code;
        return AppendStatus.Ok;
    }

    private void WidenToFloat64()
    {
        var doubles = ArrayPool<double>.Shared.Rent(_capacity);
        var longs = _longs!;
        for (var i = 0; i < Count; i++)
        {
            doubles[i] = longs[i];
        }

        ArrayPool<long>.Shared.Return(longs);
        _longs = null;
        _doubles = doubles;
        _kind = ValueKind.Float64;
    }

    private void Allocate(ValueKind kind)
    {
        // Rows before the first value were nulls: their slots must read as the default value.
        switch (kind)
        {
            case ValueKind.Int64 or ValueKind.Timestamp:
                _longs = ArrayPool<long>.Shared.Rent(_capacity);
                _longs.AsSpan(0, Count).Clear();
                break;
            case ValueKind.Float64:
                _doubles = ArrayPool<double>.Shared.Rent(_capacity);
                _doubles.AsSpan(0, Count).Clear();
                break;
            case ValueKind.Bool:
                _bools = ArrayPool<bool>.Shared.Rent(_capacity);
                _bools.AsSpan(0, Count).Clear();
                break;
            case ValueKind.String:
                _codes = ArrayPool<int>.Shared.Rent(_capacity);
                _codes.AsSpan(0, Count).Clear();
                _strings = new Utf8StringTable(64);
                break;
            default:
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EnsureCapacity()
    {
        if (Count == _capacity)
        {
            Grow();
        }
    }

    private void Grow()
    {
        var capacity = _capacity * 2;
        GrowArray(ref _longs, capacity);
        GrowArray(ref _doubles, capacity);
        GrowArray(ref _bools, capacity);
        GrowArray(ref _codes, capacity);
        if (_validity is not null)
        {
            var bits = ArrayPool<byte>.Shared.Rent(Bitmap.ByteLength(capacity));
            _validity.AsSpan(0, Bitmap.ByteLength(_capacity)).CopyTo(bits);
            bits.AsSpan(Bitmap.ByteLength(_capacity), Bitmap.ByteLength(capacity) - Bitmap.ByteLength(_capacity)).Fill(0xFF);
            ArrayPool<byte>.Shared.Return(_validity);
            _validity = bits;
        }

        _capacity = capacity;
    }

    private void GrowArray<T>(ref T[]? array, int capacity)
    {
        if (array is null)
        {
            return;
        }

        var bigger = ArrayPool<T>.Shared.Rent(capacity);
        array.AsSpan(0, Count).CopyTo(bigger);
        ArrayPool<T>.Shared.Return(array);
        array = bigger;
    }

    public void Dispose()
    {
        Return(ref _longs);
        Return(ref _doubles);
        Return(ref _bools);
        Return(ref _codes);
        Return(ref _validity);
        _strings = null;
    }

    private static void Return<T>(ref T[]? array)
    {
        if (array is not null)
        {
            ArrayPool<T>.Shared.Return(array);
            array = null;
        }
    }
}
