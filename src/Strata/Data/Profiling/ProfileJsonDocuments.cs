using System.Text.Json.Serialization;

namespace Strata.Data.Profiling;

// The JSON shape of a saved profile ("strata.profile/1"). These types only carry data; ProfileJson maps them to and from
// profiles and checks every invariant on the way in.

/// <summary>A saved <see cref="TableProfile"/>.</summary>
internal sealed class ProfileDocument
{
    public required string Format { get; init; }

    public required long RowCount { get; init; }

    public required string SchemaFingerprint { get; init; }

    public required List<ColumnDocument> Columns { get; init; }
}

/// <summary>A saved <see cref="ColumnProfile"/>: counts, the kind-specific state, and a derived summary for readers.</summary>
internal sealed class ColumnDocument
{
    public required string Name { get; init; }

    public required string Type { get; init; }

    public bool Pii { get; init; }

    public required long Count { get; init; }

    public required long Nulls { get; init; }

    public DistinctDocument? Distinct { get; init; }

    public NumericDocument? Numeric { get; init; }

    [JsonPropertyName("bool")]
    public BoolDocument? Boolean { get; init; }

    [JsonPropertyName("string")]
    public StringDocument? Text { get; init; }

    /// <summary>Derived statistics for people and other tools; ignored when loading.</summary>
    public SummaryDocument? Summary { get; init; }
}

/// <summary>HyperLogLog registers.</summary>
internal sealed class DistinctDocument
{
    public required string Hash { get; init; }

    public required int Precision { get; init; }

    /// <summary>One byte per register, base64.</summary>
    public required byte[] Registers { get; init; }
}

/// <summary>Moments, KLL sketch and integer range; only the distinct sketch (in the column) for PII.</summary>
internal sealed class NumericDocument
{
    public MomentsDocument? Moments { get; init; }

    public KllDocument? Kll { get; init; }

    public long? IntegerMin { get; init; }

    public long? IntegerMax { get; init; }
}

/// <summary>Saved <see cref="Profiling.Moments"/>.</summary>
internal sealed class MomentsDocument
{
    public required long Count { get; init; }

    public required double Mean { get; init; }

    public required double M2 { get; init; }

    public double? Min { get; init; }

    public double? Max { get; init; }

    public long Nan { get; init; }

    public long PositiveInfinity { get; init; }

    public long NegativeInfinity { get; init; }
}

/// <summary>Saved <see cref="KllSketch"/>: retained items with level boundaries starting at 0, and the coin's state.</summary>
internal sealed class KllDocument
{
    public required int K { get; init; }

    public required long N { get; init; }

    public double? Min { get; init; }

    public double? Max { get; init; }

    public bool LevelZeroSorted { get; init; }

    public required ulong Random { get; init; }

    public required int[] Levels { get; init; }

    public required double[] Items { get; init; }
}

/// <summary>Exact true/false counts (absent for PII) and which values occurred (bit 0 false, bit 1 true).</summary>
internal sealed class BoolDocument
{
    public long? True { get; init; }

    public long? False { get; init; }

    public required int Seen { get; init; }
}

/// <summary>Lengths in code points and the frequent-values summary (absent for PII).</summary>
internal sealed class StringDocument
{
    public long? MinLength { get; init; }

    public long? MaxLength { get; init; }

    public required long LengthSum { get; init; }

    public FrequentDocument? Frequent { get; init; }
}

/// <summary>Saved <see cref="FrequentItems"/>.</summary>
internal sealed class FrequentDocument
{
    public required int Capacity { get; init; }

    public required long TotalWeight { get; init; }

    public required long Offset { get; init; }

    public required List<FrequentValueDocument> Items { get; init; }
}

/// <summary>A value and its count.</summary>
internal sealed class FrequentValueDocument
{
    public required string Value { get; init; }

    public required long Count { get; init; }
}

/// <summary>What a reader wants to see at a glance; recomputed from the state, never read back.</summary>
internal sealed class SummaryDocument
{
    public double Distinct { get; init; }

    public bool DistinctExact { get; init; }

    public double? Min { get; init; }

    public double? Max { get; init; }

    public double? Mean { get; init; }

    public double? Stddev { get; init; }

    /// <summary>Earliest instant of a timestamp column, ISO 8601.</summary>
    public string? MinTime { get; init; }

    /// <summary>Latest instant of a timestamp column, ISO 8601.</summary>
    public string? MaxTime { get; init; }

    public Dictionary<string, double>? Quantiles { get; init; }

    public List<HistogramBinDocument>? Histogram { get; init; }

    public long? True { get; init; }

    public long? False { get; init; }

    public List<FrequentValueDocument>? Top { get; init; }

    public bool? TopExact { get; init; }

    public double? MeanLength { get; init; }
}

/// <summary>A histogram bin.</summary>
internal sealed class HistogramBinDocument
{
    public double Lower { get; init; }

    public double Upper { get; init; }

    public long Count { get; init; }
}

/// <summary>
/// Source-generated serialization of profiles: snake_case names, NaN and infinities as the strings "NaN", "Infinity" and
/// "-Infinity", nulls left out, and nullable annotations enforced when reading.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(ProfileDocument))]
internal sealed partial class ProfileJsonContext : JsonSerializerContext;
