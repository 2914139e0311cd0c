namespace Strata.Features.OnlineStore;

/// <summary>One feature of a stored row: raw bits for fixed-width types, the string for string features.</summary>
internal readonly record struct FeatureCell(long Bits, string? Text, bool Valid);

/// <summary>
/// The latest row of one entity. Immutable once published in the index: a write builds a new row and swaps the reference,
/// so a reader holding a row always sees the features of exactly one write.
/// </summary>
internal sealed class EntityRow(long eventTimestamp, long createdTimestamp, long sequence, FeatureCell[] cells)
{
    public long EventTimestamp { get; } = eventTimestamp;

    public long CreatedTimestamp { get; } = createdTimestamp;

    /// <summary>The write batch's sequence number; rows of one batch share it and the later row wins a tie.</summary>
    public long Sequence { get; } = sequence;

    public FeatureCell[] Cells { get; } = cells;

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
