namespace Strata.Features.PointInTime;

/// <summary>
/// A view's rows grouped by key id, in input order within each key; a key that many entity rows look up is sorted by
/// (event time, created time, input position) so each lookup is a binary search, the others are scanned, which costs
/// less than sorting them (a key with 100 rows and 10 lookups: 1,000 comparisons against a sort and 10 searches).
/// </summary>
internal sealed class History
{
    private readonly int[] _starts;
    private readonly long[] _times;
    private readonly int[] _rows;
    private readonly bool[] _sorted;
    private readonly TieOrder _order;

    private History(int[] starts, long[] times, int[] rows, bool[] sorted, TieOrder order)
    {
        _starts = starts;
        _times = times;
        _rows = rows;
        _sorted = sorted;
        _order = order;
    }

    /// <summary>Counting sort by key id (stable, so input order survives), then a sort by time of the keys worth it.</summary>
    public static History Build(int[] ids, int keyCount, Column<long> eventTs, Column<long>? createdTs, int[] entityIds, int degree)
    {
        var lookups = new int[keyCount];
        foreach (var id in entityIds)
        {
            if (id >= 0)
            {
                lookups[id]++;
            }
        }

        var starts = new int[keyCount + 1];
        foreach (var id in ids)
        {
            if (id >= 0)
            {
                starts[id + 1]++;
            }
        }

        for (var k = 0; k < keyCount; k++)
        {
            starts[k + 1] += starts[k];
        }

        var cursor = starts.AsSpan(0, keyCount).ToArray();
        var times = new long[starts[keyCount]];
        var rows = new int[times.Length];
        var values = eventTs.Values;
        for (var r = 0; r < ids.Length; r++)
        {
            var id = ids[r];
            if (id >= 0)
            {
                var p = cursor[id]++;
                rows[p] = r;
                times[p] = values[r];
            }
        }

        var order = new TieOrder(createdTs);
        var sorted = new bool[keyCount];
        Ranges.For(keyCount, degree, (from, to) =>
        {
            for (var k = from; k < to; k++)
            {
                var length = starts[k + 1] - starts[k];
                if (length > 8 && lookups[k] > 3 * Math.Log2(length))
                {
                    SortRun(times.AsSpan(starts[k], length), rows.AsSpan(starts[k], length), order);
                    sorted[k] = true;
                }
            }
        });
        return new History(starts, times, rows, sorted, order);
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
    public void Lookup(int[] ids, Column<long> entityTs, long ttlMicros, int[] take, int degree)
    {
        var buffer = entityTs.Buffer;
        var bufferOffset = entityTs.BufferOffset;
        Ranges.For(ids.Length, degree, (from, to) =>
        {
            var starts = _starts;
            var times = _times;
            for (var i = from; i < to; i++)
            {
                var id = ids[i];
                if (id < 0)
                {
                    take[i] = -1;
                    continue;
                }

                var t = buffer[bufferOffset + i];
                var lower = t < long.MinValue + ttlMicros ? long.MinValue : t - ttlMicros;
                if (!_sorted[id])
                {
                    take[i] = Scan(starts[id], starts[id + 1], t, lower);
                    continue;
                }

                int lo = starts[id], hi = starts[id + 1], first = lo;
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
                take[i] = p >= first && times[p] >= lower ? _rows[p] : -1;
            }
        });
    }

    /// <summary>The best row of an unsorted run: latest event time in [lower, t], then latest created, then latest row.</summary>
    private int Scan(int start, int end, long t, long lower)
    {
        var times = _times;
        var best = -1;
        var bestTime = long.MinValue;
        for (var p = start; p < end; p++)
        {
            var time = times[p];
            // Rows are in input order, so on a full tie the later one (this one) wins.
            if (time <= t && time >= lower && (best < 0 || time > bestTime || (time == bestTime && _order.Compare(_rows[p], _rows[best]) > 0)))
            {
                best = p;
                bestTime = time;
            }
        }

        return best < 0 ? -1 : _rows[best];
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
