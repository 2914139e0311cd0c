using System.Numerics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Strata.Hashing;

namespace Strata;

/// <summary>
/// An insert-only set of UTF-8 strings that hands out dense codes in first-insertion order: the dictionary builder behind
/// string columns. Keys live in one byte arena, so adding a value never allocates a string.
/// </summary>
internal sealed class Utf8StringTable
{
    private byte[] _data;
    private int _dataLength;
    private int[] _offsets; // _offsets[code] is the start of value `code`; _offsets[Count] is the end of the last one.
    private ulong[] _hashes;
    private int[] _slots; // code + 1, or 0 for an empty slot
    private int _mask;
    private readonly ulong _seed;

    public Utf8StringTable(int capacity = 16)
    {
        capacity = Math.Max(capacity, 4);
        _data = new byte[capacity * 8];
        _offsets = new int[capacity + 1];
        _hashes = new ulong[capacity];
        var slots = (int)BitOperations.RoundUpToPowerOf2((uint)capacity * 2);
        _slots = new int[slots];
        _mask = slots - 1;
        _seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    }

    public int Count { get; private set; }

    public ReadOnlySpan<byte> this[int code] => _data.AsSpan(_offsets[code], _offsets[code + 1] - _offsets[code]);

    /// <summary>The code of <paramref name="value"/>, adding it if new.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int GetOrAdd(ReadOnlySpan<byte> value)
    {
        var hash = FastHash.Hash(value, _seed);
        var slot = (int)hash & _mask;
        while (true)
        {
            var entry = _slots[slot];
            if (entry == 0)
            {
                return Add(value, hash, slot);
            }

            var code = entry - 1;
            if (_hashes[code] == hash && value.SequenceEqual(this[code]))
            {
                return code;
            }

            slot = (slot + 1) & _mask;
        }
    }

    /// <summary>Finds the code of a value without adding it.</summary>
    public bool TryGet(ReadOnlySpan<byte> value, out int code)
    {
        var hash = FastHash.Hash(value, _seed);
        var slot = (int)hash & _mask;
        while (true)
        {
            var entry = _slots[slot];
            if (entry == 0)
            {
                code = -1;
                return false;
            }

            code = entry - 1;
            if (_hashes[code] == hash && value.SequenceEqual(this[code]))
            {
                return true;
            }

            slot = (slot + 1) & _mask;
        }
    }

    private int Add(ReadOnlySpan<byte> value, ulong hash, int slot)
    {
        var code = Count;
        // _offsets holds one entry more than _hashes, so each array grows on its own bound.
        if (code + 1 >= _offsets.Length)
        {
            Array.Resize(ref _offsets, _offsets.Length * 2);
        }

        if (code >= _hashes.Length)
        {
            Array.Resize(ref _hashes, _hashes.Length * 2);
        }

        if (_dataLength + value.Length > _data.Length)
        {
            Array.Resize(ref _data, Math.Max(_data.Length * 2, _dataLength + value.Length));
        }

        value.CopyTo(_data.AsSpan(_dataLength));
        _dataLength += value.Length;
        _offsets[code + 1] = _dataLength;
        _hashes[code] = hash;
        _slots[slot] = code + 1;
        Count = code + 1;

        // Keep the load factor at or below one half.
        if (Count * 2 > _slots.Length)
        {
            Rehash();
        }

        return code;
    }

    private void Rehash()
    {
        var slots = new int[_slots.Length * 2];
        var mask = slots.Length - 1;
        for (var code = 0; code < Count; code++)
        {
            var slot = (int)_hashes[code] & mask;
            while (slots[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            slots[slot] = code + 1;
        }

        _slots = slots;
        _mask = mask;
    }

    /// <summary>An immutable dictionary holding a copy of the values, in code order.</summary>
    public StringDictionary ToDictionary()
    {
        var offsets = _offsets.AsSpan(0, Count + 1).ToArray();
        var data = _data.AsSpan(0, _dataLength).ToArray();
        return new StringDictionary(offsets, data, Count);
    }
}
