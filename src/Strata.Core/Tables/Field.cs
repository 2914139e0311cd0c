namespace Strata;

/// <summary>
/// A named, typed column description: type and nullability say what the data is, role and tags say what it is for
/// (a label, an entity key, PII), and optional constraints say what valid data looks like.
/// </summary>
public sealed class Field : IEquatable<Field>
{
    private static readonly string[] NoTags = [];

    /// <summary>Creates a field.</summary>
    public Field(
        string name,
        DataType type,
        bool nullable = true,
        FieldRole role = FieldRole.Feature,
        IEnumerable<string>? tags = null,
        FieldConstraints? constraints = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!Enum.IsDefined(type))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "unknown data type");
        }

        Name = name;
        Type = type;
        Nullable = nullable;
        Role = role;
        Tags = tags is null ? NoTags : tags.Select(t => t.Trim()).Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        Constraints = constraints;
    }

    /// <summary>Column name, unique within a schema (case-sensitive).</summary>
    public string Name { get; }

    /// <summary>Physical type of the values.</summary>
    public DataType Type { get; }

    /// <summary>Whether the column may hold nulls.</summary>
    public bool Nullable { get; }

    /// <summary>What the column is for.</summary>
    public FieldRole Role { get; }

    /// <summary>Free-form tags such as <c>pii:email</c> or <c>owner:risk</c>.</summary>
    public IReadOnlyList<string> Tags { get; }

    /// <summary>What valid values look like; null when nothing is constrained.</summary>
    public FieldConstraints? Constraints { get; }

    /// <summary>
    /// True when a tag marks the column as personal data (<c>pii</c> or <c>pii:kind</c>): profiles and messages never show
    /// its raw values.
    /// </summary>
    public bool IsPii => Tags.Any(t => t.Equals("pii", StringComparison.OrdinalIgnoreCase) || t.StartsWith("pii:", StringComparison.OrdinalIgnoreCase));

    /// <summary>A copy with another type.</summary>
    public Field WithType(DataType type) => new(Name, type, Nullable, Role, Tags, Constraints);

    /// <summary>A copy with another name.</summary>
    public Field WithName(string name) => new(name, Type, Nullable, Role, Tags, Constraints);

    /// <summary>A copy with another nullability.</summary>
    public Field WithNullable(bool nullable) => new(Name, Type, nullable, Role, Tags, Constraints);

    /// <summary>A copy with another role.</summary>
    public Field WithRole(FieldRole role) => new(Name, Type, Nullable, role, Tags, Constraints);

    /// <summary>A copy with other tags.</summary>
    public Field WithTags(IEnumerable<string> tags) => new(Name, Type, Nullable, Role, tags, Constraints);

    /// <summary>A copy with other constraints.</summary>
    public Field WithConstraints(FieldConstraints? constraints) => new(Name, Type, Nullable, Role, Tags, constraints);

    /// <inheritdoc />
    public bool Equals(Field? other) =>
        other is not null
        && Name == other.Name
        && Type == other.Type
        && Nullable == other.Nullable
        && Role == other.Role
        && Tags.SequenceEqual(other.Tags, StringComparer.Ordinal)
        && Equals(Constraints, other.Constraints);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Field);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Type, Nullable, Role);

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {Type.Name()}{(Nullable ? "?" : "")}";
}

/// <summary>
/// Expectations about a column's values, in the manner of TensorFlow Data Validation's schema: validation reports each
/// violation as an anomaly. Every member is optional.
/// </summary>
public sealed class FieldConstraints : IEquatable<FieldConstraints>
{
    /// <summary>Largest allowed fraction of nulls (0 = never null).</summary>
    public double? MaxNullFraction { get; init; }

    /// <summary>Smallest allowed value (numbers; timestamps as UTC microseconds).</summary>
    public double? Min { get; init; }

    /// <summary>Largest allowed value (numbers; timestamps as UTC microseconds).</summary>
    public double? Max { get; init; }

    /// <summary>The allowed values of a categorical (string) column; null = any value.</summary>
    public IReadOnlyList<string>? Categories { get; init; }

    /// <summary>Largest allowed fraction of values outside <see cref="Categories"/> (default 0: any unknown value is an anomaly).</summary>
    public double? MaxUnknownFraction { get; init; }

    /// <summary>How far the distribution may move from a reference profile before it counts as skew.</summary>
    public SkewCheck? Skew { get; init; }

    /// <summary>True when no member is set.</summary>
    public bool IsEmpty =>
        MaxNullFraction is null && Min is null && Max is null && Categories is null && MaxUnknownFraction is null && Skew is null;

    /// <inheritdoc />
    public bool Equals(FieldConstraints? other) =>
        other is not null
        && MaxNullFraction == other.MaxNullFraction
        && Min == other.Min
        && Max == other.Max
        && (Categories is null ? other.Categories is null : other.Categories is not null && Categories.SequenceEqual(other.Categories, StringComparer.Ordinal))
        && MaxUnknownFraction == other.MaxUnknownFraction
        && Equals(Skew, other.Skew);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as FieldConstraints);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(MaxNullFraction, Min, Max, Categories?.Count, MaxUnknownFraction, Skew);
}

/// <summary>The distance used to compare a column's distribution with a reference profile.</summary>
public enum SkewMethod : byte
{
    /// <summary>Largest absolute difference of category frequencies (TFDV's infinity norm; categorical columns).</summary>
    LInfinity,
    /// <summary>Jensen–Shannon distance between binned distributions (numeric and timestamp columns).</summary>
    JensenShannon,
}

/// <summary>A skew comparator: the distance and the largest value that is still acceptable.</summary>
public sealed record SkewCheck(SkewMethod Method, double Threshold);
