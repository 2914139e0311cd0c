namespace Strata.Features.OnlineStore;

/// <summary>
/// One column of an entity key (an integer or a string), a struct so a read can pass its key in a span without allocating.
/// </summary>
public readonly struct EntityKeyPart : IEquatable<EntityKeyPart>
{
    private EntityKeyPart(long number, string? text)
    {
        Number = number;
        Text = text;
    }

    /// <summary>The integer value (for int32 and int64 key columns).</summary>
    public long Number { get; }

    /// <summary>The string value, or null for an integer part.</summary>
    public string? Text { get; }

    /// <summary>True for a string part.</summary>
    public bool IsText => Text is not null;

    /// <summary>An integer key part.</summary>
    public static EntityKeyPart FromInt64(long value) => new(value, null);

    /// <summary>A string key part.</summary>
    public static EntityKeyPart FromString(string value) => new(0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>An integer key part.</summary>
    public static implicit operator EntityKeyPart(long value) => FromInt64(value);

    /// <summary>An integer key part.</summary>
    public static implicit operator EntityKeyPart(int value) => FromInt64(value);

    /// <summary>A string key part.</summary>
    public static implicit operator EntityKeyPart(string value) => FromString(value);

    /// <inheritdoc />
    public bool Equals(EntityKeyPart other) => Number == other.Number && string.Equals(Text, other.Text, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is EntityKeyPart other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Number, Text);

    /// <summary>Equality.</summary>
    public static bool operator ==(EntityKeyPart left, EntityKeyPart right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(EntityKeyPart left, EntityKeyPart right) => !left.Equals(right);

    /// <inheritdoc />
    public override string ToString() => Text ?? Number.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
