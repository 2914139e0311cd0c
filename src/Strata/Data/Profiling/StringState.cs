using System.Buffers;

namespace Strata.Data.Profiling;

/// <summary>
/// A string column's frequent values, distinct estimate and value lengths (in Unicode code points). Rows are counted
/// per dictionary code first, so each distinct value is hashed, measured and (if it is frequent) materialized once.
/// </summary>
internal sealed class StringState : ColumnState
{
    public StringState(bool pii, int precision, int capacity)
    {
        Hll = new HyperLogLog(precision);
        Frequent = pii ? null : new FrequentItems(capacity);
    }

    private StringState(StringState other)
    {
        Count = other.Count;
        NullCount = other.NullCount;
        Hll = other.Hll.Clone();
        Frequent = other.Frequent?.Clone();
        MinLength = other.MinLength;
        MaxLength = other.MaxLength;
        LengthSum = other.LengthSum;
    }

    public HyperLogLog Hll { get; private set; }

    /// <summary>Null for PII.</summary>
    public FrequentItems? Frequent { get; private set; }

    /// <summary>Shortest value length; meaningful when some row is valid.</summary>
    public long MinLength { get; private set; } = long.MaxValue;

    /// <summary>Longest value length; meaningful when some row is valid.</summary>
    public long MaxLength { get; private set; } = long.MinValue;

    /// <summary>Sum of the lengths of all valid rows.</summary>
    public long LengthSum { get; private set; }

    public override bool HoldsValues => Frequent is not null;

    public override void Add(Column column)
    {
        var strings = (StringColumn)column;
        CountRows(column);
        var dictionary = strings.Dictionary;
        var size = Math.Max(dictionary.Count, 1);
        var counts = ArrayPool<int>.Shared.Rent(size);
        try
        {
            var span = counts.AsSpan(0, size);
            span.Clear();
            foreach (var code in strings.Codes)
            {
                span[code]++;
            }

            // NOTE: null rows hold code 0, so they were counted there; take them back out.
            span[0] -= strings.NullCount;

            for (var code = 0; code < span.Length; code++)
            {
                var count = span[code];
                if (count == 0)
                {
                    continue;
                }

                var utf8 = dictionary.GetUtf8(code);
                Hll.Add(utf8);
                long length = CodePoints(utf8);
                MinLength = Math.Min(MinLength, length);
                MaxLength = Math.Max(MaxLength, length);
                LengthSum = checked(LengthSum + (length * count));
            }

            Frequent?.AddExactCounts(span, dictionary.GetString);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(counts);
        }
    }

    public override void Merge(ColumnState other, string column)
    {
        var o = (StringState)other;
        if (o.Hll.Precision != Hll.Precision)
        {
            throw Incompatible(column, nameof(ProfileOptions.DistinctPrecision), Hll.Precision, o.Hll.Precision);
        }

        if (Frequent is not null && o.Frequent is not null && Frequent.Capacity != o.Frequent.Capacity)
        {
            throw Incompatible(column, nameof(ProfileOptions.FrequentValuesCapacity), Frequent.Capacity, o.Frequent.Capacity);
        }

        MergeCounts(o);
        Hll.Merge(o.Hll);
        if (o.Frequent is not null)
        {
            Frequent?.Merge(o.Frequent);
        }

        MinLength = Math.Min(MinLength, o.MinLength);
        MaxLength = Math.Max(MaxLength, o.MaxLength);
        LengthSum = checked(LengthSum + o.LengthSum);
    }

    public override StringState Clone() => new(this);

    public override void DropValues() => Frequent = null;

    internal void Load(HyperLogLog hll, FrequentItems? frequent, long minLength, long maxLength, long lengthSum)
    {
        Hll = hll;
        Frequent = frequent;
        MinLength = minLength;
        MaxLength = maxLength;
        LengthSum = lengthSum;
    }

    /// <summary>Unicode code points of valid UTF-8: every byte that is not a continuation byte starts one.</summary>
    private static int CodePoints(ReadOnlySpan<byte> utf8)
    {
        var count = 0;
        foreach (var b in utf8)
        {
            count += (b & 0xC0) != 0x80 ? 1 : 0;
        }

        return count;
    }
}
