using System.Collections.Concurrent;

namespace Strata.Features.OnlineStore;

/// <summary>
/// The in-memory latest-row index of one view: encoded key → immutable <see cref="EntityRow"/>.
/// </summary>
/// <remarks>
/// Concurrency: one writer at a time (the store's write lock) and any number of readers. Readers use
/// ConcurrentDictionary's lock-free TryGetValue through a span lookup, and rows are immutable, so a read never blocks
/// and never sees half a write: it gets the old row reference or the new one. Full keys are compared on every lookup,
/// so a hash collision can only cost time, never return another entity's values.
/// </remarks>
internal sealed class ViewIndex
{
    private readonly ConcurrentDictionary<byte[], EntityRow> _rows;
    private readonly ConcurrentDictionary<byte[], EntityRow>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    public ViewIndex(FeatureViewLayout view, ByteKeyComparer? comparer = null)
    {
        _view = view;
        _rows = new ConcurrentDictionary<byte[], EntityRow>(comparer ?? ByteKeyComparer.Instance);
        _lookup = _rows.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    private volatile FeatureViewLayout _view;

    /// <summary>
    /// The layout served. <see cref="EmbeddedOnlineStore.ApplyViewsAsync"/> swaps it for one with the same schema (a TTL
    /// change), so the rows, which depend only on the schema, stay valid.
    /// </summary>
    public FeatureViewLayout View
    {
        get => _view;
        set => _view = value;
    }

    public int Count => _rows.Count;

    public bool TryGet(ReadOnlySpan<byte> key, out EntityRow? row) => _lookup.TryGetValue(key, out row);

    /// <summary>Keeps the newer of the stored row and <paramref name="row"/>. Callers hold the write lock.</summary>
    public void Apply(ReadOnlySpan<byte> key, EntityRow row)
    {
        if (_lookup.TryGetValue(key, out var existingKey, out var current))
        {
            if (row.Supersedes(current))
            {
                _rows[existingKey] = row;
            }
        }
        else
        {
            _rows[key.ToArray()] = row;
        }
    }

    /// <summary>A point-in-time copy of the entries (callers hold the write lock, so no write is half applied).</summary>
    public KeyValuePair<byte[], EntityRow>[] Capture() => _rows.ToArray();
}

/// <summary>Byte-wise key equality with a span lookup, so reads find a key without allocating an array.</summary>
internal class ByteKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteKeyComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj) => Hash(obj);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    /// <summary>Per-process seeded hash (HashCode), so crafted keys cannot flood one bucket.</summary>
    protected virtual int Hash(ReadOnlySpan<byte> key)
    {
        var hash = default(HashCode);
        hash.AddBytes(key);
        return hash.ToHashCode();
    }
}
