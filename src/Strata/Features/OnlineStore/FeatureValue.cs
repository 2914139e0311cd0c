namespace Strata.Features.OnlineStore;

/// <summary>
/// One feature of one entity as read from the online store: status, event time and the value. A struct, so reads fill a
/// caller's span without allocating; strings are the instances already held by the index.
/// </summary>
public readonly struct FeatureValue
{
    private readonly long _bits;
    private readonly string? _text;

    internal FeatureValue(FeatureStatus status, DataType type, long eventTimestamp, long bits, string? text)
    {
        Status = status;
        Type = type;
        EventTimestamp = eventTimestamp;
        _bits = bits;
        _text = text;
    }

    /// <summary>Present, null, not found or outside max age.</summary>
    public FeatureStatus Status { get; }

    /// <summary>The feature's type.</summary>
    public DataType Type { get; }

    /// <summary>The event time of the row the value came from (UTC microseconds); 0 when not found.</summary>
    public long EventTimestamp { get; }

    /// <summary>True when <see cref="Status"/> is <see cref="FeatureStatus.Present"/>.</summary>
    public bool HasValue => Status == FeatureStatus.Present;

    /// <summary>The value of an int64 or timestamp feature.</summary>
    public long AsInt64() => Type is DataType.Int64 or DataType.Timestamp ? _bits : throw Mismatch(DataType.Int64);

    /// <summary>The value of an int32 feature.</summary>
    public int AsInt32() => Type == DataType.Int32 ? (int)_bits : throw Mismatch(DataType.Int32);

    /// <summary>The value of a float64 feature.</summary>
    public double AsFloat64() => Type == DataType.Float64 ? BitConverter.Int64BitsToDouble(_bits) : throw Mismatch(DataType.Float64);

    /// <summary>The value of a float32 feature.</summary>
    public float AsFloat32() => Type == DataType.Float32 ? BitConverter.Int32BitsToSingle((int)_bits) : throw Mismatch(DataType.Float32);

    /// <summary>The value of a bool feature.</summary>
    public bool AsBool() => Type == DataType.Bool ? _bits != 0 : throw Mismatch(DataType.Bool);

    /// <summary>The value of a string feature (null unless present).</summary>
    public string? AsString() => Type == DataType.String ? _text : throw Mismatch(DataType.String);

    /// <summary>The value boxed (null unless present). For display and tests; hot paths use the typed accessors.</summary>
    public object? Value => !HasValue ? null : Type switch
    {
        DataType.Bool => _bits != 0,
        DataType.Int32 => (int)_bits,
        DataType.Int64 or DataType.Timestamp => _bits,
        DataType.Float32 => BitConverter.Int32BitsToSingle((int)_bits),
        DataType.Float64 => BitConverter.Int64BitsToDouble(_bits),
        _ => _text,
    };

    /// <inheritdoc />
    public override string ToString() => $"{Status} {Value} @{EventTimestamp}";

    private InvalidOperationException Mismatch(DataType asked) =>
        new($"the feature is {Type.Name()}, not {asked.Name()}");
}
