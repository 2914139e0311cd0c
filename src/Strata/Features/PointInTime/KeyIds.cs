using System.Runtime.CompilerServices;

namespace Strata.Features.PointInTime;

/// <summary>
/// One key column's worth of ids: <see cref="KeyIndex"/> tables, one per partition of the hash space, so several threads
/// add keys at once without locks. Partition p's local id l is the id <c>l * partitions + p</c>: not dense, but at most
/// <see cref="IdCount"/>, which is all a counting sort needs.
/// </summary>
internal sealed class KeyLevel
{
    private readonly KeyIndex[] _parts;

    public KeyLevel(int partitions, int expected)
    {
        _parts = new KeyIndex[partitions];
        for (var p = 0; p < partitions; p++)
        {
            _parts[p] = new KeyIndex(expected / partitions);
        }
    }

    public int Partitions => _parts.Length;

    /// <summary>One more than the largest id handed out.</summary>
    public int IdCount => _parts.Length * _parts.Max(p => p.Count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PartitionOf(ulong hash) => (int)((uint)(hash >> 32) % (uint)_parts.Length);

    /// <summary>Adds a pair to its partition; only that partition's thread may call this.</summary>
    public int GetOrAdd(int partition, long first, long second, ulong hash) =>
        (_parts[partition].GetOrAdd(first, second, hash) * _parts.Length) + partition;

    public int Find(long first, long second)
    {
        var hash = KeyIndex.Hash(first, second);
        var partition = PartitionOf(hash);
        var local = _parts[partition].Find(first, second, hash);
        return local < 0 ? -1 : (local * _parts.Length) + partition;
    }
}

/// <summary>
/// Turns key columns into one int per row (-1 for a row that cannot match): the view's rows add their keys, the entity
/// rows only look theirs up, column by column ((previous id, value) → id), so both sides get the same id for the same key.
/// </summary>
internal static class KeyIds
{
    /// <summary>Ids of the view's rows (rows at -1 in <paramref name="ids"/> stay there) and how entity keys find them.</summary>
    public static (int[] Ids, KeyIdMap Map) Build(Column[] keys, int[] ids, int degree)
    {
        if (keys.Length == 1 && DenseKeyIds.TryBuild(keys[0], ids, degree) is { } dense)
        {
            return (ids, dense);
        }

        var partitions = ids.Length < 1 << 15 ? 1 : degree;
        var levels = new KeyLevel[keys.Length];
        var next = new int[ids.Length];
        for (var k = 0; k < keys.Length; k++)
        {
            var level = levels[k] = new KeyLevel(partitions, Math.Min(ids.Length, 1 << 16));
            var source = KeySource.Of(keys[k], null);
            var previous = ids;
            var output = next;
            // Every partition's thread reads all rows and keeps those whose hash falls in its partition; the other
            // rows' -1s are written by partition 0.
            Parallel.For(0, partitions, new ParallelOptions { MaxDegreeOfParallelism = degree }, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (p) =>
            {
                for (var r = 0; r < previous.Length; r++)
                {
                    var before = previous[r];
                    if (before < 0 || !source.TryGet(r, out var value))
                    {
                        if (p == 0)
                        {
                            output[r] = -1;
                        }

                        continue;
                    }

                    var hash = KeyIndex.Hash(before, value);
                    if (level.PartitionOf(hash) == p)
                    {
                        output[r] = level.GetOrAdd(p, before, value, hash);
                    }
                }
            });
            (ids, next) = (output, previous);
        }

        return (ids, new HashedKeyIds(levels));
    }

    /// <summary>Looks the entity rows' keys up in the view's levels; a key the view never had gets -1.</summary>
    internal static void Find(Column[] entityKeys, Column[] viewKeys, KeyLevel[] levels, int[] ids, int degree)
    {
        for (var k = 0; k < entityKeys.Length; k++)
        {
            var map = entityKeys[k] is StringColumn entity ? CodeMap(entity, (StringColumn)viewKeys[k]) : null;
            var source = KeySource.Of(entityKeys[k], map);
            var level = levels[k];
            Ranges.For(ids.Length, degree, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (from, to) =>
            {
                for (var r = from; r < to; r++)
                {
                    var before = ids[r];
                    if (before >= 0)
                    {
                        ids[r] = source.TryGet(r, out var value) ? level.Find(before, value) : -1;
                    }
                }
            });
        }
    }

    /// <summary>For each code of the entity column's dictionary, the view dictionary's code of the same string, or -1.</summary>
    internal static int[]? CodeMap(StringColumn entity, StringColumn view)
    {
        if (ReferenceEquals(entity.Dictionary, view.Dictionary))
        {
            return null;
        }

        var map = new int[entity.Dictionary.Count];
        for (var c = 0; c < map.Length; c++)
        {
            map[c] = view.Dictionary.IndexOf(entity.Dictionary.GetUtf8(c));
        }

        return map;
    }

    /// <summary>A key column's values as longs (string columns as dictionary codes, mapped when a map is given).</summary>
    internal sealed class KeySource
    {
        private readonly long[]? _longs;
        private readonly int[]? _ints;
        private readonly bool[]? _bools;
        private readonly int _offset;
        private readonly byte[]? _bits;
        private readonly int _bitOffset;
        private readonly int[]? _map;

        private KeySource(Column column, long[]? longs, int[]? ints, bool[]? bools, int offset, int[]? map)
        {
            _longs = longs;
            _ints = ints;
            _bools = bools;
            _offset = offset;
            _bits = column.NullCount > 0 ? column.ValidityBits : null;
            _bitOffset = column.ValidityOffset;
            _map = map;
        }

        public static KeySource Of(Column column, int[]? map) => column switch
        {
            Column<long> c => new KeySource(c, c.Buffer, null, null, c.BufferOffset, null),
            Column<int> c => new KeySource(c, null, c.Buffer, null, c.BufferOffset, null),
            Column<bool> c => new KeySource(c, null, null, c.Buffer, c.BufferOffset, null),
            StringColumn c => new KeySource(c, null, c.Buffer, null, c.BufferOffset, map),
            _ => throw new InvalidOperationException($"unexpected key column type {column.Type.Name()}"),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool TryGet(int row, out long value)
        {
            if (_bits is not null && !Bitmap.Get(_bits, _bitOffset + row))
            {
                value = 0;
                return false;
            }

            if (_longs is not null)
            {
                value = _longs[_offset + row];
                return true;
            }

            if (_ints is not null)
            {
                var code = _ints[_offset + row];
                value = _map is null ? code : _map[code];
                return value >= 0 || _map is null;
            }

            value = _bools![_offset + row] ? 1 : 0;
            return true;
        }
    }
}
