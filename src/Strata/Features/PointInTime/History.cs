namespace Strata.Features.PointInTime;

/// <summary>
/// A view's rows grouped by key id and ordered by (event time, created time, input position) within each key, so the row
/// an entity takes is the last one at or before its timestamp.
/// </summary>
internal sealed class History
{
    private readonly int[] _starts;
    private readonly long[] _times;
    private readonly int[] _rows;

    private History(int[] starts, long[] times, int[] rows)
    {
        _starts = starts;
        _times = times;
        _rows = rows;
    }

    /// <summary>Counting sort by key id (stable, so input order survives), then a sort of each key's run by time.</summary>
    public static History Build(int[] ids, int keyCount, Column<long> eventTs, Column<long>? createdTs, int degree)
    {
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
        Ranges.For(keyCount, degree, (from, to) =>
        {
            for (var k = from; k < to; k++)
            {
                SortRun(times.AsSpan(starts[k], starts[k + 1] - starts[k]), rows.AsSpan(starts[k], starts[k + 1] - starts[k]), order);
            }
        });
        return new History(starts, times, rows);
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
                var lower = t < long.MinValue + ttlMicros ? long.MinValue : t - ttlMicros;
                take[i] = p >= first && times[p] >= lower ? _rows[p] : -1;
            }
        });
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
