using System.Runtime.CompilerServices;
using Strata.Hashing;

namespace Strata.Features.PointInTime;

/// <summary>
/// Dense ids for (previous id, value) pairs: an open-addressing hash table with linear probing. A multi-column key is
/// folded one column at a time, so any number of key columns ends up as one int per row.
/// </summary>
internal sealed class KeyIndex
{
    private const ulong Seed = 0x5EED_0F_F00D_CAFEUL;

    // NOTE: one array of entries, so a probe touches one cache line rather than three.
    private Entry[] _slots;
    private int _mask;

    public KeyIndex(int expected)
    {
        var capacity = 16;
        while (capacity < expected * 2L && capacity < 1 << 30)
        {
            capacity <<= 1;
        }

        _slots = new Entry[capacity];
        _mask = capacity - 1;
    }

    /// <summary>Number of distinct pairs.</summary>
    public int Count { get; private set; }

    /// <summary>The hash of a pair: its low bits pick a slot, its high bits a <see cref="KeyLevel"/> partition.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(long first, long second) => FastHash.Hash((ulong)second, FastHash.Hash((ulong)first, Seed));

    /// <summary>The id of a pair, adding it when new.</summary>
    public int GetOrAdd(long first, long second, ulong hash)
    {
        var slot = (int)hash & _mask;
        while (true)
        {
            ref var entry = ref _slots[slot];
            if (entry.Id == 0)
            {
                if ((Count + 1) * 2L > _slots.Length)
                {
                    Grow();
                    return GetOrAdd(first, second, hash);
                }

                entry = new Entry(first, second, ++Count);
                return Count - 1;
            }

            if (entry.Second == second && entry.First == first)
            {
                return entry.Id - 1;
            }

            slot = (slot + 1) & _mask;
        }
    }

    /// <summary>The id of a pair, or -1.</summary>
    public int Find(long first, long second, ulong hash)
    {
        var slot = (int)hash & _mask;
        while (true)
        {
            ref readonly var entry = ref _slots[slot];
            if (entry.Id == 0)
            {
                return -1;
            }

            if (entry.Second == second && entry.First == first)
            {
                return entry.Id - 1;
            }

            slot = (slot + 1) & _mask;
        }
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new Entry[old.Length * 2];
        _mask = _slots.Length - 1;
        foreach (var entry in old)
        {
            if (entry.Id != 0)
            {
                var slot = (int)Hash(entry.First, entry.Second) & _mask;
                while (_slots[slot].Id != 0)
                {
                    slot = (slot + 1) & _mask;
                }

                _slots[slot] = entry;
            }
        }
    }

    /// <summary>A pair and its id + 1 (0 marks an empty slot).</summary>
    private readonly record struct Entry(long First, long Second, int Id);
}
