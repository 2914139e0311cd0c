namespace Strata.Monitoring.Quality;

/// <summary>
/// A detector of a change in the mean of a stream (here: a model's per-prediction error), fed one value at a time, so
/// concept drift is seen as soon as labels arrive instead of at the end of a window.
/// </summary>
public interface IChangeDetector
{
    /// <summary>Values seen since the last change (or the start).</summary>
    long Count { get; }

    /// <summary>Adds a value; true when a change is detected at this value (the detector then starts over from it).</summary>
    bool Add(double value);
}

/// <summary>
/// ADWIN (Bifet and Gavaldà, 2007): an adaptive window over an exponential histogram that drops its older part whenever
/// the means of the two parts differ by more than a Hoeffding/Bernstein bound at confidence <see cref="Delta"/>. Memory
/// is O(M·log n); the defaults are river's (δ = 0.002, M = 5, a check every 32 values, parts of at least 5 values).
/// </summary>
public sealed class Adwin : IChangeDetector
{
    private readonly List<Bucket> _buckets = [];
    private readonly int _maxBucketsPerSize;
    private readonly int _clock;
    private readonly int _minWindow;
    private double _total;
    private double _variance;
    private long _ticks;

    /// <summary>Creates a detector with confidence <paramref name="delta"/>.</summary>
    public Adwin(double delta = 0.002, int maxBucketsPerSize = 5, int clock = 32, int minWindow = 5)
    {
        if (!(delta is > 0 and < 1))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"ADWIN delta {delta} must be within (0, 1)");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxBucketsPerSize, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(clock, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(minWindow, 1);
        Delta = delta;
        _maxBucketsPerSize = maxBucketsPerSize;
        _clock = clock;
        _minWindow = minWindow;
    }

    /// <summary>The confidence parameter.</summary>
    public double Delta { get; }

    /// <summary>Values in the current window.</summary>
    public long Count { get; private set; }

    /// <summary>Mean of the current window.</summary>
    public double Mean => Count == 0 ? double.NaN : _total / Count;

    /// <inheritdoc />
    public bool Add(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"ADWIN takes finite values, not {value}");
        }

        Count++;
        if (Count > 1)
        {
            var mean = _total / (Count - 1);
            _variance += (Count - 1) * (value - mean) * (value - mean) / Count;
        }

        _total += value;
        _buckets.Add(new Bucket(value, 0, 1));
        Compress();
        _ticks++;
        return _ticks % _clock == 0 && Count > _minWindow && DetectAndShrink();
    }

    private void Compress()
    {
        // Buckets are oldest first with non-increasing sizes; merge the two oldest of a size when there are too many.
        var i = _buckets.Count - 1;
        while (i >= 0)
        {
            var size = _buckets[i].Size;
            var first = i;
            while (first > 0 && _buckets[first - 1].Size == size)
            {
                first--;
            }

            if (i - first + 1 <= _maxBucketsPerSize)
            {
                i = first - 1;
                continue;
            }

            var a = _buckets[first];
            var b = _buckets[first + 1];
            var difference = (a.Total / a.Size) - (b.Total / b.Size);
            var merged = new Bucket(a.Total + b.Total, a.Variance + b.Variance + (a.Size * b.Size * difference * difference / (a.Size + b.Size)), a.Size + b.Size);
            _buckets[first] = merged;
            _buckets.RemoveAt(first + 1);
            i = first;
        }
    }

    private bool DetectAndShrink()
    {
        var changed = false;
        var again = true;
        while (again && _buckets.Count > 1)
        {
            again = false;
            long n0 = 0;
            double s0 = 0;
            for (var b = 0; b < _buckets.Count - 1; b++)
            {
                n0 += _buckets[b].Size;
                s0 += _buckets[b].Total;
                var n1 = Count - n0;
                if (n0 < _minWindow || n1 < _minWindow)
                {
                    continue;
                }

                if (Cut(n0, s0, n1, _total - s0))
                {
                    RemoveOldest();
                    changed = again = true;
                    break;
                }
            }
        }

        return changed;
    }

    private bool Cut(long n0, double s0, long n1, double s1)
    {
        var difference = Math.Abs((s0 / n0) - (s1 / n1));
        var variance = _variance / Count;
        var logTerm = Math.Log(2 * Math.Log(Count) / Delta);
        var m = (1.0 / (n0 - _minWindow + 1)) + (1.0 / (n1 - _minWindow + 1));
        var epsilon = Math.Sqrt(2 * m * variance * logTerm) + (2.0 / 3 * logTerm * m);
        return difference > epsilon;
    }

    private void RemoveOldest()
    {
        var oldest = _buckets[0];
        _buckets.RemoveAt(0);
        Count -= oldest.Size;
        _total -= oldest.Total;
        var mean = oldest.Total / oldest.Size;
        var rest = _total / Count;
        _variance -= oldest.Variance + (oldest.Size * Count * (mean - rest) * (mean - rest) / (oldest.Size + Count));
        _variance = Math.Max(0, _variance);
    }

    private readonly record struct Bucket(double Total, double Variance, long Size);
}

/// <summary>
/// The Page–Hinkley test for an increase of the mean: alarms when the cumulative deviation above the running mean, less
/// a tolerance <see cref="Magnitude"/> per value, rises more than <see cref="Threshold"/> above its minimum. Defaults are
/// river's (δ = 0.005, λ = 50, α = 0.9999 forgetting, at least 30 values).
/// </summary>
public sealed class PageHinkley : IChangeDetector
{
    private readonly double _alpha;
    private readonly int _minInstances;
    private double _mean;
    private double _sum;
    private double _minSum;

    /// <summary>Creates a test.</summary>
    public PageHinkley(double magnitude = 0.005, double threshold = 50, double alpha = 0.9999, int minInstances = 30)
    {
        if (!(magnitude >= 0) || !(threshold > 0) || !(alpha is > 0 and <= 1))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"Page-Hinkley needs magnitude ≥ 0, threshold > 0 and alpha in (0, 1], not {magnitude}, {threshold}, {alpha}");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(minInstances, 1);
        Magnitude = magnitude;
        Threshold = threshold;
        _alpha = alpha;
        _minInstances = minInstances;
    }

    /// <summary>The tolerated change of the mean per value (δ).</summary>
    public double Magnitude { get; }

    /// <summary>The alarm threshold (λ).</summary>
    public double Threshold { get; }

    /// <inheritdoc />
    public long Count { get; private set; }

    /// <inheritdoc />
    public bool Add(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"Page-Hinkley takes finite values, not {value}");
        }

        Count++;
        _mean += (value - _mean) / Count;
        _sum = (_alpha * _sum) + (value - _mean - Magnitude);
        _minSum = Math.Min(_minSum, _sum);
        if (Count < _minInstances || _sum - _minSum <= Threshold)
        {
            return false;
        }

        Count = 0;
        _mean = _sum = _minSum = 0;
        return true;
    }
}
