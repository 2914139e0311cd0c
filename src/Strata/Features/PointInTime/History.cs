using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Strata.Features.PointInTime;

/// <summary>
/// A view's rows and the entity rows, both grouped by key id (counting sorts, so input order survives within a key).
/// Lookups then go key by key, so a key's rows are read from memory once and stay in cache for all its lookups. A key
/// that many entity rows look up is sorted by (event time, created time, input position) and binary-searched; the
/// others are scanned, which costs less than sorting them (100 rows and 10 lookups: 1,000 comparisons, no sort).
/// </summary>
internal sealed class History
{
    private readonly int[] _starts;
    private readonly long[] _times;
    private readonly int[] _rows;
    private readonly int[] _entityStarts;
    private readonly int[] _entityRows;
    private readonly TieOrder _order;

    private History(int[] starts, long[] times, int[] rows, int[] entityStarts, int[] entityRows, TieOrder order)
    {
        _starts = starts;
        _times = times;
        _rows = rows;
        _entityStarts = entityStarts;
        _entityRows = entityRows;
        _order = order;
    }

    /// <summary>Groups the view's rows (with their event times) and the entity rows by key id.</summary>
    public static History Build(int[] ids, int keyCount, Column<long> eventTs, Column<long>? createdTs, int[] entityIds, int degree)
    {
        var (starts, rows, times) = Group(ids, keyCount, degree, eventTs);
        var (entityStarts, entityRows, _) = Group(entityIds, keyCount, degree, null);
        return new History(starts, times!, rows, entityStarts, entityRows, new TieOrder(createdTs));
    }

    /// <summary>
    /// A stable counting sort of row numbers by id (rows with id -1 left out): each of <paramref name="degree"/> slices of
    /// the rows counts its ids, then writes its rows after those of the slices before it, so input order survives. With
    /// <paramref name="eventTs"/>, each row's time is written next to it in the same pass.
    /// </summary>
    private static (int[] Starts, int[] Rows, long[]? Times) Group(int[] ids, int keyCount, int degree, Column<long>? eventTs)
    {
        var slices = ids.Length < 1 << 15 ? 1 : degree;
        var counts = new int[slices][];
        Parallel.For(0, slices, new ParallelOptions { MaxDegreeOfParallelism = degree }, s =>
        {
            var (from, to) = Ranges.Slice(ids.Length, slices, s);
            counts[s] = Count(ids, from, to, keyCount);
        });

        // counts[s][k] becomes slice s's first position for key k.
        var starts = new int[keyCount + 1];
        var position = 0;
        for (var k = 0; k < keyCount; k++)
        {
            starts[k] = position;
            for (var s = 0; s < slices; s++)
            {
                var count = counts[s][k];
                counts[s][k] = position;
                position += count;
            }
        }

        starts[keyCount] = position;
        // NOTE: every position below `position` is written exactly once, so the arrays need no zeroing.
        var rows = GC.AllocateUninitializedArray<int>(position);
        var times = eventTs is null ? null : GC.AllocateUninitializedArray<long>(position);
        Parallel.For(0, slices, new ParallelOptions { MaxDegreeOfParallelism = degree }, s =>
        {
            var (from, to) = Ranges.Slice(ids.Length, slices, s);
            if (eventTs is null)
            {
                Scatter(ids, from, to, counts[s], rows);
            }
            else
            {
                Scatter(ids, from, to, counts[s], rows, eventTs.Buffer, eventTs.BufferOffset, times!);
            }
        });
        return (starts, rows, times);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int[] Count(int[] ids, int from, int to, int keyCount)
    {
        var count = new int[keyCount];
        for (var r = from; r < to; r++)
        {
            var id = ids[r];
            if (id >= 0)
            {
                count[id]++;
            }
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scatter(int[] ids, int from, int to, int[] cursor, int[] rows)
    {
        for (var r = from; r < to; r++)
        {
            var id = ids[r];
            if (id >= 0)
            {
                rows[cursor[id]++] = r;
            }
        }
    }

    /// <summary>Scatters rows and their event times together: the times are read in row order, not gathered at random.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scatter(int[] ids, int from, int to, int[] cursor, int[] rows, long[] source, int offset, long[] times)
    {
        for (var r = from; r < to; r++)
        {
            var id = ids[r];
            if (id >= 0)
            {
                var p = cursor[id]++;
                rows[p] = r;
                times[p] = source[offset + r];
            }
        }
    }

    private static void SortRun(Span<long> times, Span<int> rows, TieOrder order)
    {
        if (times.Length < 2)
        {
            return;
        }

        var sorted = true;
        for (var i = 1; i < times.Length; i++)
        {
            if (times[i] < times[i - 1])
            {
                sorted = false;
                break;
            }
        }

        if (!sorted)
        {
            times.Sort(rows);
        }
        else if (!order.HasCreated)
        {
            // Already in time order and, being counting-sorted, in input order within equal times.
            return;
        }

        for (var i = 0; i < times.Length;)
        {
            var j = i + 1;
            while (j < times.Length && times[j] == times[i])
            {
                j++;
            }

            if (j - i > 1)
            {
                rows[i..j].Sort(order);
            }

            i = j;
        }
    }

    /// <summary>Fills <paramref name="take"/> with the matching view row of each entity row, or -1.</summary>
    public void Lookup(Column<long> entityTs, long ttlMicros, int[] take, int degree)
    {
        Array.Fill(take, -1);
        Ranges.For(_starts.Length - 1, degree, (from, to) => Lookup(from, to, entityTs.Buffer, entityTs.BufferOffset, ttlMicros, take));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Lookup(int from, int to, long[] buffer, int bufferOffset, long ttlMicros, int[] take)
    {
        var times = _times;
        for (var k = from; k < to; k++)
        {
            int start = _starts[k], end = _starts[k + 1];
            var lookups = _entityRows.AsSpan(_entityStarts[k], _entityStarts[k + 1] - _entityStarts[k]);
            var sorted = end - start > 8 && lookups.Length > 3 * Math.Log2(end - start);
            if (sorted)
            {
                SortRun(times.AsSpan(start, end - start), _rows.AsSpan(start, end - start), _order);
            }

            foreach (var i in lookups)
            {
                var t = buffer[bufferOffset + i];
                var lower = t < long.MinValue + ttlMicros ? long.MinValue : t - ttlMicros;
                take[i] = sorted ? Search(start, end, t, lower) : Scan(start, end, t, lower);
            }
        }
    }

    /// <summary>The best row of a sorted run: the last one at or before t, if it is not older than lower.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Search(int start, int end, long t, long lower)
    {
        var times = _times;
        int lo = start, hi = end;
        while (lo < hi)
        {
            var mid = (int)((uint)(lo + hi) >> 1);
            if (times[mid] <= t)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        var p = lo - 1;
        return p >= start && times[p] >= lower ? _rows[p] : -1;
    }

    /// <summary>The best row of an unsorted run: latest event time in [lower, t], then latest created, then latest row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Scan(int start, int end, long t, long lower)
    {
        // Two passes, both free of unpredictable branches: the latest time in [lower, t] (range checks and a
        // conditional select, four times at once), then the row holding it (ties are rare).
        var times = _times.AsSpan(start, end - start);
        var bestTime = long.MinValue;
        var found = false;
        var i = 0;
        if (Vector256.IsHardwareAccelerated && times.Length >= Vector256<long>.Count)
        {
            var low = Vector256.Create(lower);
            var high = Vector256.Create(t);
            var none = Vector256.Create(long.MinValue);
            var best = none;
            var any = Vector256<long>.Zero;
            for (; i <= times.Length - Vector256<long>.Count; i += Vector256<long>.Count)
            {
                var time = Vector256.Create<long>(times.Slice(i, Vector256<long>.Count));
                var ok = Vector256.GreaterThanOrEqual(time, low) & Vector256.LessThanOrEqual(time, high);
                any |= ok;
                best = Vector256.Max(best, Vector256.ConditionalSelect(ok, time, none));
            }

            found = any != Vector256<long>.Zero;
            for (var lane = 0; lane < Vector256<long>.Count; lane++)
            {
                bestTime = Math.Max(bestTime, best[lane]);
            }
        }

        for (; i < times.Length; i++)
        {
            var time = times[i];
            var ok = (time >= lower) & (time <= t);
            found |= ok;
            bestTime = Math.Max(bestTime, ok ? time : long.MinValue);
        }

        if (!found)
        {
            return -1;
        }

        // Rows are in input order, so on a full tie a later one wins unless created time says otherwise.
        var chosen = times.IndexOf(bestTime);
        for (var p = chosen + 1; p < times.Length; p++)
        {
            var next = times[p..].IndexOf(bestTime);
            if (next < 0)
            {
                break;
            }

            p += next;
            if (_order.Compare(_rows[start + p], _rows[start + chosen]) > 0)
            {
                chosen = p;
            }
        }

        return _rows[start + chosen];
    }

    /// <summary>Orders rows with the same event time: older created time first (null oldest), then input order.</summary>
    private readonly struct TieOrder : IComparer<int>
    {
        private readonly long[]? _created;
        private readonly int _offset;
        private readonly byte[]? _bits;
        private readonly int _bitOffset;

        public TieOrder(Column<long>? created)
        {
            if (created is not null)
            {
                _created = created.Buffer;
                _offset = created.BufferOffset;
                _bits = created.NullCount > 0 ? created.ValidityBits : null;
                _bitOffset = created.ValidityOffset;
            }
        }

        public bool HasCreated => _created is not null;

        public int Compare(int x, int y)
        {
            if (_created is not null)
            {
                var c = Created(x).CompareTo(Created(y));
                if (c != 0)
                {
                    return c;
                }
            }

            return x.CompareTo(y);
        }

        private long Created(int row) =>
            _bits is not null && !Bitmap.Get(_bits, _bitOffset + row) ? long.MinValue : _created![_offset + row];
    }
}

/// <summary>Splits [0, count) into chunks run in parallel; small inputs or one thread run inline.</summary>
internal static class Ranges
{
    /// <summary>Slice <paramref name="slice"/> of <paramref name="slices"/> near-equal parts of [0, count).</summary>
    public static (int From, int To) Slice(int count, int slices, int slice) =>
        ((int)((long)count * slice / slices), (int)((long)count * (slice + 1) / slices));

    private const int MinChunk = 4096;

    public static void For(int count, int degree, Action<int, int> body)
    {
        if (degree <= 1 || count < 2 * MinChunk)
        {
            body(0, count);
            return;
        }

        var chunks = Math.Min(degree * 8, count / MinChunk);
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = degree }, c =>
            body((int)((long)count * c / chunks), (int)((long)count * (c + 1) / chunks)));
    }
}
