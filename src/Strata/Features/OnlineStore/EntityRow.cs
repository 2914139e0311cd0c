namespace Strata.Features.OnlineStore;

/// <summary>One feature of a stored row: raw bits for fixed-width types, the string for string features.</summary>
internal readonly record struct FeatureCell(long Bits, string? Text, bool Valid);

/// <summary>
/// The latest row of one entity. Immutable once published in the index: a write builds a new row and swaps the reference,
/// so a reader holding a row always sees the features of exactly one write.
/// </summary>
internal sealed class EntityRow
{
    // Stored compactly — 8 bytes a fixed-width feature, strings only for views that have them, a null mask only when a
    // feature is null — because a store holds one row per entity and replaces it on every newer write.
    private readonly long[] _bits;
    private readonly string?[]? _texts;
    private readonly ulong[]? _nulls;

    public EntityRow(long eventTimestamp, long createdTimestamp, long sequence, FeatureCell[] cells)
    {
        EventTimestamp = eventTimestamp;
        CreatedTimestamp = createdTimestamp;
        Sequence = sequence;
        _bits = new long[cells.Length];
        for (var f = 0; f < cells.Length; f++)
        {
            var cell = cells[f];
            _bits[f] = cell.Bits;
            if (cell.Text is not null)
            {
                (_texts ??= new string?[cells.Length])[f] = cell.Text;
            }
            else if (!cell.Valid)
            {
                var nulls = _nulls ??= new ulong[(cells.Length + 63) / 64];
                nulls[f >> 6] |= 1UL << (f & 63);
            }
        }
    }

    public long EventTimestamp { get; }

    public long CreatedTimestamp { get; }

    /// <summary>The write batch's sequence number; rows of one batch share it and the later row wins a tie.</summary>
    public long Sequence { get; }

    /// <summary>Number of features.</summary>
    public int FeatureCount => _bits.Length;

    /// <summary>One feature: a string feature is valid when it has text, a fixed-width one unless its null bit is set.</summary>
    public FeatureCell Cell(int feature)
    {
        if (_texts?[feature] is { } text)
        {
            return new FeatureCell(0, text, true);
        }

        var isNull = _nulls is not null && (_nulls[feature >> 6] & (1UL << (feature & 63))) != 0;
        return isNull ? default : new FeatureCell(_bits[feature], null, true);
    }

    /// <summary>True when this row should replace <paramref name="current"/>: newer event time, then created time, then write order.</summary>
    public bool Supersedes(EntityRow current)
    {
        if (EventTimestamp != current.EventTimestamp)
        {
            return EventTimestamp > current.EventTimestamp;
        }

        if (CreatedTimestamp != current.CreatedTimestamp)
        {
            return CreatedTimestamp > current.CreatedTimestamp;
        }

        return Sequence >= current.Sequence;
    }
}
