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
    private ulong[] _packed; // for values of at most 7 bytes: the bytes and the length in one word, else ulong.MaxValue
    private int[] _slots; // code + 1, or 0 for an empty slot
    private int _mask;
    private readonly ulong _seed;

    public Utf8StringTable(int capacity = 16)
    {
        capacity = Math.Max(capacity, 4);
        _data = new byte[capacity * 8];
        _offsets = new int[capacity + 1];
        _hashes = new ulong[capacity];
        _packed = new ulong[capacity];
        var slots = (int)BitOperations.RoundUpToPowerOf2((uint)capacity * 2);
        _slots = new int[slots];
        _mask = slots - 1;
        _seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    }

    public int Count { get; private set; }

    public ReadOnlySpan<byte> this[int code] => _data.AsSpan(_offsets[code], _offsets[code + 1] - _offsets[code]);

    /// <summary>The code of <paramref name="value"/>, adding it if new.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public int GetOrAdd(ReadOnlySpan<byte> value)
    {
        if (value.Length <= 7)
        {
            return GetOrAddShort(value, validate: false);
        }

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

    /// <summary>
    /// The code of <paramref name="value"/>, adding it if new, or -1 when it is new and not valid UTF-8. Validating only
    /// new values costs in proportion to the distinct values, not the rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public int GetOrAddValidUtf8(ReadOnlySpan<byte> value)
    {
        if (value.Length <= 7)
        {
            return GetOrAddShort(value, validate: true);
        }

        var hash = FastHash.Hash(value, _seed);
        var slot = (int)hash & _mask;
        while (true)
        {
            var entry = _slots[slot];
            if (entry == 0)
            {
                return System.Text.Unicode.Utf8.IsValid(value) ? Add(value, hash, slot) : -1;
            }

            var code = entry - 1;
            if (_hashes[code] == hash && value.SequenceEqual(this[code]))
            {
                return code;
            }

            slot = (slot + 1) & _mask;
        }
    }

    /// <summary>
    /// Short values (codes, categories: most of a typical column) pack into one word with their length, so a probe is a
    /// single comparison instead of a hash of bytes and a byte-wise compare.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int GetOrAddShort(ReadOnlySpan<byte> value, bool validate)
    {
        var packed = Pack(value);
        var hash = FastHash.Hash(packed, _seed);
        var slot = (int)hash & _mask;
        while (true)
        {
            var entry = _slots[slot];
            if (entry == 0)
            {
                if (validate && !System.Text.Unicode.Utf8.IsValid(value))
                {
                    return -1;
                }

                return Add(value, hash, slot);
            }

            var code = entry - 1;
            if (_packed[code] == packed)
            {
                return code;
            }

            slot = (slot + 1) & _mask;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Pack(ReadOnlySpan<byte> value)
    {
        ulong packed = 0;
        for (var i = 0; i < value.Length; i++)
        {
            packed |= (ulong)value[i] << (i * 8);
        }

        return packed | ((ulong)value.Length << 56);
    }

    /// <summary>Total bytes of all values.</summary>
    public int ByteCount => _dataLength;

    /// <summary>Finds the code of a value without adding it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryGet(ReadOnlySpan<byte> value, out int code)
    {
        if (value.Length <= 7)
        {
            var packed = Pack(value);
            var shortSlot = (int)FastHash.Hash(packed, _seed) & _mask;
            while (true)
            {
                var entry = _slots[shortSlot];
                if (entry == 0)
                {
                    code = -1;
                    return false;
                }

                code = entry - 1;
                if (_packed[code] == packed)
                {
                    return true;
                }

                shortSlot = (shortSlot + 1) & _mask;
            }
        }

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
        if (code == _hashes.Length)
        {
            Array.Resize(ref _hashes, _hashes.Length * 2);
            Array.Resize(ref _packed, _hashes.Length);
            Array.Resize(ref _offsets, _hashes.Length + 1);
        }

        if (_dataLength + value.Length > _data.Length)
        {
            Array.Resize(ref _data, Math.Max(_data.Length * 2, _dataLength + value.Length));
        }

        value.CopyTo(_data.AsSpan(_dataLength));
        _dataLength += value.Length;
        _offsets[code + 1] = _dataLength;
        _hashes[code] = hash;
        _packed[code] = value.Length <= 7 ? Pack(value) : ulong.MaxValue;
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
