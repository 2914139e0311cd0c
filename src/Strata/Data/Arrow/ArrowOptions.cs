namespace Strata.Data.Arrow;

/// <summary>How <see cref="ArrowFileWriter"/> splits and lays out a file.</summary>
public sealed record ArrowWriteOptions
{
    /// <summary>The defaults: record batches of at most 1,048,576 rows.</summary>
    public static ArrowWriteOptions Default { get; } = new();

    /// <summary>
    /// Largest number of rows in one record batch; bigger tables are written as several batches, so a reader holds one
    /// batch at a time. Must be positive.
    /// </summary>
    public int MaxRowsPerBatch { get; init; } = 1 << 20;
}

/// <summary>Limits that keep a hostile or corrupt Arrow input from exhausting memory.</summary>
public sealed record ArrowReadOptions
{
    /// <summary>The defaults: 64 MiB of metadata and 2 GiB of body per message, 100,000 columns.</summary>
    public static ArrowReadOptions Default { get; } = new();

    /// <summary>Largest FlatBuffers metadata of one message, or of the file footer, in bytes.</summary>
    public int MaxMetadataBytes { get; init; } = 64 << 20;

    /// <summary>Largest body (the data buffers) of one message in bytes; at most <see cref="Array.MaxLength"/>.</summary>
    public long MaxBodyBytes { get; init; } = Array.MaxLength;

    /// <summary>Largest number of fields in a schema.</summary>
    public int MaxColumns { get; init; } = 100_000;

    /// <summary>The input's name in error messages when reading a <see cref="Stream"/> (a path names itself).</summary>
    public string? InputName { get; init; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMetadataBytes, 8, nameof(MaxMetadataBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxBodyBytes, nameof(MaxBodyBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxBodyBytes, Array.MaxLength, nameof(MaxBodyBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxColumns, nameof(MaxColumns));
    }
}
