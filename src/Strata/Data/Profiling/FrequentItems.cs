using System.Runtime.InteropServices;

namespace Strata.Data.Profiling;

/// <summary>
/// A mergeable frequent-items summary (weighted Misra–Gries, with the merge of Agarwal et al., "Mergeable Summaries",
/// 2012). It is exact — every value with its true count — while at most 2·<see cref="Capacity"/> distinct values have
/// been seen (<see cref="IsExact"/>). Beyond that it keeps at most 2·<see cref="Capacity"/> counters; each kept count
/// underestimates the true count by at most <see cref="MaximumError"/> ≤ n / (<see cref="Capacity"/> + 1), a value that
/// is not kept occurs at most <see cref="MaximumError"/> times, and so every value with a true count above that bound is
/// kept.
/// </summary>
/// <remarks>
/// When the counters exceed 2·Capacity, the (Capacity+1)-th largest count δ is subtracted from every counter and the
/// counters that drop to zero are removed. Each such purge removes at least (Capacity+1)·δ of weight, which is what
/// bounds the total subtracted, <see cref="MaximumError"/>, by n / (Capacity+1). The kept counts after any sequence of
/// adds and merges depend only on that sequence, not on hash-table order, so results are deterministic.
/// </remarks>
public sealed class FrequentItems
{
    /// <summary>The default capacity.</summary>
    public const int DefaultCapacity = 1024;

    /// <summary>The largest accepted capacity.</summary>
    public const int MaxCapacity = 1 << 20;

    private readonly int _capacity;
    private readonly Dictionary<string, long> _counts;
    private long _totalWeight;
    private long _offset;

    /// <summary>Creates an empty summary.</summary>
    /// <param name="capacity">Counters kept after a purge (up to twice as many between purges).</param>
    public FrequentItems(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, MaxCapacity);
        _capacity = capacity;
        _counts = new Dictionary<string, long>(StringComparer.Ordinal);
    }

    private FrequentItems(FrequentItems other)
    {
        _capacity = other._capacity;
        _counts = new Dictionary<string, long>(other._counts, StringComparer.Ordinal);
        _totalWeight = other._totalWeight;
        _offset = other._offset;
    }

    /// <summary>Counters kept after a purge; the error bound is n / (Capacity + 1).</summary>
    public int Capacity => _capacity;

    /// <summary>Total weight added (n).</summary>
    public long TotalWeight => _totalWeight;

    /// <summary>
    /// The largest amount by which any count may be underestimated (the sum of all purge thresholds); 0 while exact.
    /// Never more than <see cref="TotalWeight"/> / (<see cref="Capacity"/> + 1).
    /// </summary>
    public long MaximumError => _offset;

    /// <summary>True while every value seen is kept with its exact count.</summary>
    public bool IsExact => _offset == 0;

    /// <summary>Number of values currently kept.</summary>
    public int TrackedCount => _counts.Count;

    /// <summary>Adds <paramref name="count"/> occurrences of a value.</summary>
    public void Add(string value, long count = 1)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0)
        {
            return;
        }

        _totalWeight = checked(_totalWeight + count);
        AddCounter(value, count);
        PurgeIfFull();
    }

    /// <summary>Merges another summary (of the same capacity) into this one; the other is not changed.</summary>
    /// <exception cref="StrataException">The capacities differ.</exception>
    public void Merge(FrequentItems other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._capacity != _capacity)
        {
            throw new StrataException(
                ErrorCodes.ArgumentInvalid, $"cannot merge a frequent-items summary of capacity {other._capacity} into one of capacity {_capacity}");
        }

        if (ReferenceEquals(other, this))
        {
            other = other.Clone();
        }

        _totalWeight = checked(_totalWeight + other._totalWeight);
        _offset = checked(_offset + other._offset);
        foreach (var (value, count) in other._counts)
        {
            AddCounter(value, count);
        }

        PurgeIfFull();
    }

    /// <summary>A deep copy.</summary>
    public FrequentItems Clone() => new(this);

    /// <summary>The kept count of a value: a lower bound of its true count (exact while <see cref="IsExact"/>); 0 if not kept.</summary>
    public long LowerBound(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return _counts.TryGetValue(value, out var count) ? count : 0;
    }

    /// <summary>An upper bound of a value's true count: the kept count plus <see cref="MaximumError"/>.</summary>
    public long UpperBound(string value) => LowerBound(value) + _offset;

    /// <summary>The kept values by descending count (ties in ordinal order of the value), at most <paramref name="k"/> of them.</summary>
    public IReadOnlyList<FrequentItem> Top(int k = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        var items = new FrequentItem[_counts.Count];
        var i = 0;
        foreach (var (value, count) in _counts)
        {
            items[i++] = new FrequentItem(value, count, count + _offset);
        }

        Array.Sort(items, static (a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : string.CompareOrdinal(a.Value, b.Value));
        return k >= items.Length ? items : items[..k];
    }

    /// <summary>
    /// Adds a batch of exact counts (such as the per-value counts of one column slice) as one exact summary merged in:
    /// only the values that survive its purge are materialized, so a batch with millions of distinct values makes at most
    /// 2·Capacity strings.
    /// </summary>
    /// <param name="counts">Exact counts, one per distinct value; entries with a zero count are skipped.</param>
    /// <param name="value">Makes the value of entry <c>i</c>.</param>
    internal void AddExactCounts(ReadOnlySpan<int> counts, Func<int, string> value)
    {
        var used = 0;
        var total = 0L;
        foreach (var c in counts)
        {
            if (c > 0)
            {
                used++;
                total = checked(total + c);
            }
        }

        var threshold = 0L;
        if (used > 2 * _capacity)
        {
            var positives = new long[used];
            var j = 0;
            foreach (var c in counts)
            {
                if (c > 0)
                {
                    positives[j++] = c;
                }
            }

            threshold = KthLargest(positives, _capacity + 1);
        }

        _totalWeight = checked(_totalWeight + total);
        _offset = checked(_offset + threshold);
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] > threshold)
            {
                AddCounter(value(i), counts[i] - threshold);
            }
        }

        PurgeIfFull();
    }

    /// <summary>The saved state: kept values and counts in <see cref="Top"/> order.</summary>
    internal (long TotalWeight, long Offset, IReadOnlyList<FrequentItem> Items) ExportState() => (_totalWeight, _offset, Top());

    /// <summary>Rebuilds a summary from saved state, checking its invariants; <paramref name="path"/> names the field in errors.</summary>
    internal static FrequentItems ImportState(int capacity, long totalWeight, long offset, IReadOnlyList<(string Value, long Count)> items, string path)
    {
        if (capacity is < 1 or > MaxCapacity)
        {
            throw Malformed(path, "capacity", $"must be within [1, {MaxCapacity}], not {capacity}");
        }

        if (totalWeight < 0 || offset < 0)
        {
            throw Malformed(path, "total_weight", "and offset must not be negative");
        }

        if (items.Count > 2 * capacity)
        {
            throw Malformed(path, "items", $"holds {items.Count} values, more than the {2 * capacity} a summary of capacity {capacity} keeps");
        }

        // The invariant n − Σ kept ≥ (Capacity + 1) · offset is what makes the error bound true; a file must not claim less.
        var result = new FrequentItems(capacity) { _totalWeight = totalWeight, _offset = offset };
        var kept = 0L;
        for (var i = 0; i < items.Count; i++)
        {
            var (value, count) = items[i];
            if (value is null || count <= 0)
            {
                throw Malformed(path, $"items[{i}]", "needs a value and a positive count");
            }

            if (!result._counts.TryAdd(value, count))
            {
                throw Malformed(path, $"items[{i}]", "repeats a value");
            }

            kept += count;
            if (kept > totalWeight || kept < 0)
            {
                throw Malformed(path, "items", "count more than the total weight");
            }
        }

        if ((Int128)(totalWeight - kept) < (Int128)(capacity + 1) * offset)
        {
            throw Malformed(path, "offset", $"{offset} is more than the weight removed allows ((n − Σ counts) / (capacity + 1))");
        }

        return result;
    }

    private static StrataException Malformed(string path, string field, string message) =>
        new(ErrorCodes.DataMalformed, $"profile JSON: {path}.{field} {message}");

    private void AddCounter(string value, long count)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_counts, value, out _);
        slot = checked(slot + count);
    }

    private void PurgeIfFull()
    {
        if (_counts.Count <= 2 * _capacity)
        {
            return;
        }

        var counts = new long[_counts.Count];
        _counts.Values.CopyTo(counts, 0);
        var threshold = KthLargest(counts, _capacity + 1);
        // Removing entries during enumeration is allowed, but a copy of the keys keeps the loop obviously safe.
        foreach (var value in _counts.Keys.ToArray())
        {
            ref var count = ref CollectionsMarshal.GetValueRefOrNullRef(_counts, value);
            if (count <= threshold)
            {
                _counts.Remove(value);
            }
            else
            {
                count -= threshold;
            }
        }

        _offset = checked(_offset + threshold);
    }

    /// <summary>The k-th largest value (1-based); reorders <paramref name="values"/>.</summary>
    private static long KthLargest(long[] values, int k)
    {
        Array.Sort(values);
        return values[^k];
    }
}

/// <summary>A value kept by <see cref="FrequentItems"/>, with bounds of its true count.</summary>
/// <param name="Value">The value.</param>
/// <param name="Count">The kept count: a lower bound of the true count (exact while the summary is exact).</param>
/// <param name="UpperBound">An upper bound of the true count.</param>
public readonly record struct FrequentItem(string Value, long Count, long UpperBound);
