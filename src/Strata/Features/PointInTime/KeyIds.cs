using System.Runtime.CompilerServices;

namespace Strata.Features.PointInTime;

/// <summary>
/// Turns key columns into one dense int per row (-1 for a row that cannot match): the view's rows add their keys, the
/// entity rows only look theirs up, level by level, so both sides get the same id for the same key.
/// </summary>
internal static class KeyIds
{
    /// <summary>Assigns ids to the view's rows (rows already at -1 stay there); returns one index per key column.</summary>
    public static KeyIndex[] Build(Column[] keys, int[] ids)
    {
        var levels = new KeyIndex[keys.Length];
        for (var k = 0; k < keys.Length; k++)
        {
            levels[k] = new KeyIndex(Math.Min(ids.Length, 1 << 16));
            Fold(keys[k], null, ids, levels[k], add: true);
        }

        return levels;
    }

    /// <summary>Looks the entity rows' keys up in the view's indexes; a key the view never had gets -1.</summary>
    public static void Find(Column[] entityKeys, Column[] viewKeys, KeyIndex[] levels, int[] ids)
    {
        for (var k = 0; k < entityKeys.Length; k++)
        {
            var map = entityKeys[k] is StringColumn entity ? CodeMap(entity, (StringColumn)viewKeys[k]) : null;
            Fold(entityKeys[k], map, ids, levels[k], add: false);
        }
    }

    /// <summary>For each code of the entity column's dictionary, the view dictionary's code of the same string, or -1.</summary>
    private static int[]? CodeMap(StringColumn entity, StringColumn view)
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

    private static void Fold(Column column, int[]? map, int[] ids, KeyIndex index, bool add)
    {
        switch (column)
        {
            case Column<long> c:
                Fold(c.Values, column, map, ids, index, add);
                break;
            case Column<int> c:
                Fold(c.Values, column, map, ids, index, add);
                break;
            case Column<bool> c:
                Fold(c.Values, column, map, ids, index, add);
                break;
            case StringColumn c:
                Fold(c.Codes, column, map, ids, index, add);
                break;
            default:
                throw new InvalidOperationException($"unexpected key column type {column.Type.Name()}");
        }
    }

    private static void Fold<T>(ReadOnlySpan<T> values, Column column, int[]? map, int[] ids, KeyIndex index, bool add)
        where T : unmanaged
    {
        var bits = column.NullCount > 0 ? column.ValidityBits : null;
        var offset = column.ValidityOffset;
        for (var r = 0; r < ids.Length; r++)
        {
            var previous = ids[r];
            if (previous < 0)
            {
                continue;
            }

            if (bits is not null && !Bitmap.Get(bits, offset + r))
            {
                ids[r] = -1;
                continue;
            }

            var value = AsLong(values[r]);
            if (map is not null)
            {
                value = map[value];
                if (value < 0)
                {
                    ids[r] = -1;
                    continue;
                }
            }

            ids[r] = add ? index.GetOrAdd(previous, value) : index.Find(previous, value);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long AsLong<T>(T value)
        where T : unmanaged
    {
        // NOTE: the JIT specializes per T and drops the boxes.
        if (typeof(T) == typeof(long))
        {
            return (long)(object)value;
        }

        if (typeof(T) == typeof(int))
        {
            return (int)(object)value;
        }

        if (typeof(T) == typeof(bool))
        {
            return (bool)(object)value ? 1 : 0;
        }

        throw new InvalidOperationException($"unexpected key type {typeof(T).Name}");
    }
}
