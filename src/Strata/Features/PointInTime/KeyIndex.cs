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

    private long[] _first;
    private long[] _second;
    private int[] _slots; // id + 1; 0 = empty
    private int _mask;

    public KeyIndex(int expected)
    {
        var capacity = 16;
        while (capacity < expected * 2L && capacity < 1 << 30)
        {
            capacity <<= 1;
        }

        _first = new long[capacity];
        _second = new long[capacity];
        _slots = new int[capacity];
        _mask = capacity - 1;
    }

    /// <summary>Number of distinct pairs.</summary>
    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(long first, long second) =>
        (int)FastHash.Hash((ulong)second, FastHash.Hash((ulong)first, Seed));

    /// <summary>The id of a pair, adding it when new.</summary>
    public int GetOrAdd(long first, long second)
    {
        var slot = Hash(first, second) & _mask;
        while (true)
        {
            var id = _slots[slot];
            if (id == 0)
            {
                if ((Count + 1) * 2L > _slots.Length)
                {
                    Grow();
                    return GetOrAdd(first, second);
                }

                _first[slot] = first;
                _second[slot] = second;
                _slots[slot] = ++Count;
                return Count - 1;
            }

            if (_second[slot] == second && _first[slot] == first)
            {
                return id - 1;
            }

            slot = (slot + 1) & _mask;
        }
    }

    /// <summary>The id of a pair, or -1.</summary>
    public int Find(long first, long second)
    {
        var slot = Hash(first, second) & _mask;
        while (true)
        {
            var id = _slots[slot];
            if (id == 0)
            {
                return -1;
            }

            if (_second[slot] == second && _first[slot] == first)
            {
                return id - 1;
            }

            slot = (slot + 1) & _mask;
        }
    }

    private void Grow()
    {
        var (first, second, slots) = (_first, _second, _slots);
        var capacity = slots.Length * 2;
        _first = new long[capacity];
        _second = new long[capacity];
        _slots = new int[capacity];
        _mask = capacity - 1;
        for (var i = 0; i < slots.Length; i++)
        {
            if (slots[i] != 0)
            {
                var slot = Hash(first[i], second[i]) & _mask;
                while (_slots[slot] != 0)
                {
                    slot = (slot + 1) & _mask;
                }

                _first[slot] = first[i];
                _second[slot] = second[i];
                _slots[slot] = slots[i];
            }
        }
    }
}
