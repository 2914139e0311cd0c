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
        var (starts, rows) = Group(ids, keyCount, degree);
        var times = new long[rows.Length];
        var values = eventTs.Buffer;
        var offset = eventTs.BufferOffset;
        Ranges.For(rows.Length, degree, (from, to) =>
        {
            for (var p = from; p < to; p++)
            {
                times[p] = values[offset + rows[p]];
            }
        });

        var (entityStarts, entityRows) = Group(entityIds, keyCount, degree);
        return new History(starts, times, rows, entityStarts, entityRows, new TieOrder(createdTs));
    }

    /// <summary>
    /// A stable counting sort of row numbers by id (rows with id -1 left out): each of <paramref name="degree"/> slices of
    /// the rows counts its ids, then writes its rows after those of the slices before it, so input order survives.
    /// </summary>
    private static (int[] Starts, int[] Rows) Group(int[] ids, int keyCount, int degree)
    {
        var slices = ids.Length < 1 << 15 ? 1 : degree;
        var counts = new int[slices][];
        Parallel.For(0, slices, new ParallelOptions { MaxDegreeOfParallelism = degree }, s =>
        {
            var count = counts[s] = new int[keyCount];
            var (from, to) = Slice(ids.Length, slices, s);
            for (var r = from; r < to; r++)
            {
                var id = ids[r];
                if (id >= 0)
                {
                    count[id]++;
                }
            }
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
        var rows = new int[position];
        Parallel.For(0, slices, new ParallelOptions { MaxDegreeOfParallelism = degree }, s =>
        {
            var cursor = counts[s];
            var (from, to) = Slice(ids.Length, slices, s);
            for (var r = from; r < to; r++)
            {
                var id = ids[r];
                if (id >= 0)
                {
                    rows[cursor[id]++] = r;
                }
            }
        });
        return (starts, rows);
    }

    private static (int From, int To) Slice(int count, int slices, int slice) =>
        ((int)((long)count * slice / slices), (int)((long)count * (slice + 1) / slices));

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
        var buffer = entityTs.Buffer;
        var bufferOffset = entityTs.BufferOffset;
        Ranges.For(_starts.Length - 1, degree, (from, to) =>
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
        });
    }

    /// <summary>The best row of a sorted run: the last one at or before t, if it is not older than lower.</summary>
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
    private int Scan(int start, int end, long t, long lower)
    {
        // Two passes, both free of unpredictable branches: the latest time in [lower, t] (an unsigned range check and
        // a conditional move), then the row holding it (ties are rare).
        var times = _times.AsSpan(start, end - start);
        var range = (ulong)(t - lower);
        var bestTime = long.MinValue;
        var found = false;
        foreach (var time in times)
        {
            var ok = (ulong)(time - lower) <= range;
            found |= ok;
            bestTime = Math.Max(bestTime, ok ? time : long.MinValue);
        }

        if (!found)
        {
            return -1;
        }

        var best = -1;
        for (var p = 0; p < times.Length; p++)
        {
            // Rows are in input order, so on a full tie the later one (this one) wins.
            if (times[p] == bestTime && (best < 0 || _order.Compare(_rows[start + p], _rows[start + best]) > 0))
            {
                best = p;
            }
        }

        return _rows[start + best];
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
