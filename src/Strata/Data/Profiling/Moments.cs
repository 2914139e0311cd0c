using System.Numerics;
using System.Numerics.Tensors;

namespace Strata.Data.Profiling;

/// <summary>
/// Mergeable moments of a stream of doubles: count, mean and M2 (the sum of squared deviations from the mean) of the
/// finite values, merged with Chan, Golub and LeVeque's pairwise update so that merging keeps the precision of a two-pass
/// computation; the finite minimum and maximum; and the counts of NaN, +∞ and −∞, which are kept out of the moments.
/// Mean and M2 overflow to ±∞ or NaN only when the values themselves approach ±1.8e308.
/// </summary>
public sealed class Moments
{
    private long _count;
    private double _mean;
    private double _m2;
    private double _min = double.NaN;
    private double _max = double.NaN;

    /// <summary>Creates empty moments.</summary>
    public Moments()
    {
    }

    /// <summary>Number of finite values.</summary>
    public long Count => _count;

    /// <summary>Number of NaN values.</summary>
    public long NanCount { get; private set; }

    /// <summary>Number of +∞ values.</summary>
    public long PositiveInfinityCount { get; private set; }

    /// <summary>Number of −∞ values.</summary>
    public long NegativeInfinityCount { get; private set; }

    /// <summary>Mean of the finite values; NaN when there are none.</summary>
    public double Mean => _count == 0 ? double.NaN : _mean;

    /// <summary>Sum of squared deviations of the finite values from their mean.</summary>
    public double M2 => _m2;

    /// <summary>Sample variance (divisor n − 1, as pandas' <c>var()</c>); NaN for fewer than two values.</summary>
    public double Variance => _count < 2 ? double.NaN : _m2 / (_count - 1);

    /// <summary>Population variance (divisor n); NaN when there are no values.</summary>
    public double PopulationVariance => _count == 0 ? double.NaN : _m2 / _count;

    /// <summary>Sample standard deviation (√<see cref="Variance"/>, as pandas' <c>std()</c>).</summary>
    public double StandardDeviation => Math.Sqrt(Variance);

    /// <summary>Smallest finite value; NaN when there are none.</summary>
    public double Min => _min;

    /// <summary>Largest finite value; NaN when there are none.</summary>
    public double Max => _max;

    /// <summary>Adds one value (Welford's update).</summary>
    public void Add(double value)
    {
        if (!double.IsFinite(value))
        {
            CountNonFinite(value);
            return;
        }

        _count++;
        var delta = value - _mean;
        _mean += delta / _count;
        _m2 += delta * (value - _mean);
        if (_count == 1)
        {
            _min = value;
            _max = value;
        }
        else
        {
            _min = Math.Min(_min, value);
            _max = Math.Max(_max, value);
        }
    }

    /// <summary>
    /// Adds values: a vectorized two-pass mean and M2 of the run, merged in with Chan's update. Runs that hold NaN or
    /// infinities fall back to one value at a time.
    /// </summary>
    public void Add(ReadOnlySpan<double> values)
    {
        if (values.IsEmpty)
        {
            return;
        }

        var sum = TensorPrimitives.Sum(values);
        if (!double.IsFinite(sum))
        {
            // A non-finite sum means a NaN or an infinity (or a finite overflow), so classify value by value.
            foreach (var value in values)
            {
                Add(value);
            }

            return;
        }

        AddFinite(values, sum);
    }

    /// <summary>Adds values the caller knows to be finite, given their sum.</summary>
    internal void AddFinite(ReadOnlySpan<double> values, double sum) =>
        AddFinite(values, sum, TensorPrimitives.Min(values), TensorPrimitives.Max(values));

    /// <summary>Adds values the caller knows to be finite, given their sum and extremes (the ends of a sorted run).</summary>
    internal void AddFinite(ReadOnlySpan<double> values, double sum, double min, double max)
    {
        var n = values.Length;
        var mean = sum / n;
        Combine(n, mean, SumOfSquaredDeviations(values, mean), min, max);
    }

    /// <summary>Merges other moments into these; the other is not changed.</summary>
    public void Merge(Moments other)
    {
        ArgumentNullException.ThrowIfNull(other);
        NanCount += other.NanCount;
        PositiveInfinityCount += other.PositiveInfinityCount;
        NegativeInfinityCount += other.NegativeInfinityCount;
        if (other._count > 0)
        {
            Combine(other._count, other._mean, other._m2, other._min, other._max);
        }
    }

    /// <summary>A copy.</summary>
    public Moments Clone() => (Moments)MemberwiseClone();

    /// <summary>Rebuilds moments from saved state, checking their consistency; <paramref name="path"/> names the field in errors.</summary>
    internal static Moments FromState(long count, double mean, double m2, double min, double max, long nan, long positiveInfinity, long negativeInfinity, string path)
    {
        if (count < 0 || nan < 0 || positiveInfinity < 0 || negativeInfinity < 0)
        {
            throw Malformed(path, "count", "and the NaN and infinity counts must not be negative");
        }

        if (count == 0)
        {
            if (!double.IsNaN(min) || !double.IsNaN(max) || mean != 0 || m2 != 0)
            {
                throw Malformed(path, "mean", "min, max and m2 must be absent when there are no finite values");
            }
        }
        else if (m2 < 0 || !double.IsFinite(min) || !double.IsFinite(max) || min > max)
        {
            // Mean and M2 may legitimately overflow for values near ±1.8e308, so only their sign and the extremes are checked.
            throw Malformed(path, "min", "and max must be finite with min ≤ max, and m2 must not be negative");
        }

        return new Moments
        {
            _count = count,
            _mean = mean,
            _m2 = m2,
            _min = min,
            _max = max,
            NanCount = nan,
            PositiveInfinityCount = positiveInfinity,
            NegativeInfinityCount = negativeInfinity,
        };
    }

    /// <summary>The raw mean (0 when empty), for serialization.</summary>
    internal double RawMean => _mean;

    private static StrataException Malformed(string path, string field, string message) =>
        new(ErrorCodes.DataMalformed, $"profile JSON: {path}.{field} {message}");

    private void CountNonFinite(double value)
    {
        if (double.IsNaN(value))
        {
            NanCount++;
        }
        else if (value > 0)
        {
            PositiveInfinityCount++;
        }
        else
        {
            NegativeInfinityCount++;
        }
    }

    /// <summary>Chan et al.'s pairwise combination of (n, mean, M2), plus min and max.</summary>
    private void Combine(long n, double mean, double m2, double min, double max)
    {
        if (_count == 0)
        {
            _count = n;
            _mean = mean;
            _m2 = m2;
            _min = min;
            _max = max;
            return;
        }

        var total = _count + n;
        var delta = mean - _mean;
        _mean += delta * ((double)n / total);
        _m2 += m2 + (delta * delta * ((double)_count * n / total));
        _count = total;
        _min = Math.Min(_min, min);
        _max = Math.Max(_max, max);
    }

    private static double SumOfSquaredDeviations(ReadOnlySpan<double> values, double mean)
    {
        var i = 0;
        var result = 0.0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<double>.Count * 2)
        {
            var center = new Vector<double>(mean);
            var acc0 = Vector<double>.Zero;
            var acc1 = Vector<double>.Zero;
            var vectors = System.Runtime.InteropServices.MemoryMarshal.Cast<double, Vector<double>>(values);
            var v = 0;
            for (; v + 1 < vectors.Length; v += 2)
            {
                var d0 = vectors[v] - center;
                var d1 = vectors[v + 1] - center;
                acc0 += d0 * d0;
                acc1 += d1 * d1;
            }

            if (v < vectors.Length)
            {
                var d = vectors[v] - center;
                acc0 += d * d;
                v++;
            }

            result = Vector.Sum(acc0 + acc1);
            i = v * Vector<double>.Count;
        }

        for (; i < values.Length; i++)
        {
            var d = values[i] - mean;
            result += d * d;
        }

        return result;
    }
}
