using System.Runtime.CompilerServices;

namespace Strata.Features.PointInTime;

/// <summary>
/// How the view's rows were given key ids, so entity rows get the same id for the same key. Ids only group rows: which
/// row a lookup takes never depends on how they were numbered.
/// </summary>
internal abstract class KeyIdMap
{
    /// <summary>One more than the largest id handed out.</summary>
    public abstract int IdCount { get; }

    /// <summary>Gives each entity row with an id ≥ 0 in <paramref name="ids"/> the id of its key, or -1 if the view never had it.</summary>
    public abstract void Find(Column[] entityKeys, Column[] viewKeys, int[] ids, int degree);
}

/// <summary>Ids from <see cref="KeyLevel"/> hash tables, one level per key column: works for any keys.</summary>
internal sealed class HashedKeyIds(KeyLevel[] levels) : KeyIdMap
{
    public override int IdCount => levels[^1].IdCount;

    public override void Find(Column[] entityKeys, Column[] viewKeys, int[] ids, int degree) =>
        KeyIds.Find(entityKeys, viewKeys, levels, ids, degree);
}

/// <summary>
/// One key column of integers (or dictionary codes, or bools) spanning a small range: the id is the value minus the
/// smallest value, so no key is hashed. Entity ids, like every user's 0..n−1, usually look like this.
/// </summary>
internal sealed class DenseKeyIds : KeyIdMap
{
    private const int MinimumSpan = 1 << 16;

    private readonly long _min;
    private readonly long _max;

    private DenseKeyIds(long min, long max)
    {
        _min = min;
        _max = max;
    }

    public override int IdCount => (int)(_max - _min + 1);

    /// <summary>
    /// Numbers the view's rows by value when the values span at most a quarter as many ids as there are rows (or 65,536),
    /// so the per-id arrays of the sort stay small next to the rows; null otherwise, and <paramref name="ids"/> is unchanged.
    /// </summary>
    public static DenseKeyIds? TryBuild(Column key, int[] ids, int degree)
    {
        if (key.Type is not (DataType.Bool or DataType.Int32 or DataType.Int64 or DataType.String or DataType.Timestamp))
        {
            return null;
        }

        var source = KeyIds.KeySource.Of(key, null);
        var slices = ids.Length < 1 << 15 ? 1 : degree;
        var mins = new long[slices];
        var maxes = new long[slices];
        Parallel.For(0, slices, new ParallelOptions { MaxDegreeOfParallelism = degree }, s =>
        {
            var (from, to) = Ranges.Slice(ids.Length, slices, s);
            (mins[s], maxes[s]) = Range(source, ids, from, to);
        });

        var (min, max) = (mins.Min(), maxes.Max());
        if (min > max)
        {
            (min, max) = (0, -1); // no row can match; every id stays -1
        }

        // NOTE: max − min as an unsigned number is exact for any pair of longs, so huge ranges cannot wrap below the limit.
        var limit = Math.Max(MinimumSpan, ids.Length / 4);
        if (max >= min && (ulong)(max - min) >= (ulong)limit)
        {
            return null;
        }

        Ranges.For(ids.Length, degree, (from, to) => Assign(source, ids, from, to, min));
        return new DenseKeyIds(min, max);
    }

    public override void Find(Column[] entityKeys, Column[] viewKeys, int[] ids, int degree)
    {
        var map = entityKeys[0] is StringColumn entity ? KeyIds.CodeMap(entity, (StringColumn)viewKeys[0]) : null;
        var source = KeyIds.KeySource.Of(entityKeys[0], map);
        var (min, max) = (_min, _max);
        Ranges.For(ids.Length, degree, (from, to) => Look(source, ids, from, to, min, max));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (long Min, long Max) Range(KeyIds.KeySource source, int[] ids, int from, int to)
    {
        var (min, max) = (long.MaxValue, long.MinValue);
        for (var r = from; r < to; r++)
        {
            if (ids[r] >= 0 && source.TryGet(r, out var value))
            {
                min = Math.Min(min, value);
                max = Math.Max(max, value);
            }
        }

        return (min, max);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Assign(KeyIds.KeySource source, int[] ids, int from, int to, long min)
    {
        for (var r = from; r < to; r++)
        {
            ids[r] = ids[r] >= 0 && source.TryGet(r, out var value) ? (int)(value - min) : -1;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Look(KeyIds.KeySource source, int[] ids, int from, int to, long min, long max)
    {
        for (var r = from; r < to; r++)
        {
            if (ids[r] >= 0)
            {
                ids[r] = source.TryGet(r, out var value) && value >= min && value <= max ? (int)(value - min) : -1;
            }
        }
    }
}
