using Strata.Features.Definitions;
using Strata.Features.PointInTime;

namespace Strata.Features.Aggregation;

/// <summary>
/// The sliding windows of <see cref="WindowedAggregation"/>: per key, events sorted by time and entity rows sorted by time,
/// two pointers [lo, hi) that only move forward, so each event enters and leaves a window once.
/// </summary>
internal static class Sweep
{
    /// <summary>Events and entity rows grouped by key id and sorted by time within a key.</summary>
    public sealed record Keys(int[] Starts, int[] Order, long[] Times, int[] EntityStarts, int[] EntityOrder, long[] EntityTimes)
    {
        public int Count => Starts.Length - 1;
    }

    /// <summary>Events in the window: 0 for a usable entity row whose key has no events.</summary>
    public static Column Count(Keys keys, long window, bool[] usable, int degree)
    {
        var result = new long[usable.Length];
        Ranges.For(keys.Count, degree, (from, to) =>
        {
            for (var k = from; k < to; k++)
            {
                int lo = keys.Starts[k], hi = lo, end = keys.Starts[k + 1];
                for (var p = keys.EntityStarts[k]; p < keys.EntityStarts[k + 1]; p++)
                {
                    Advance(keys.Times, keys.EntityTimes[p], window, ref lo, ref hi, end);
                    result[keys.EntityOrder[p]] = hi - lo;
                }
            }
        });

        return Build(DataType.Int64, result, usable);
    }

    /// <summary>For every entity row, the event row whose input is the window's last non-null one, or -1.</summary>
    public static int[] Last(Keys keys, long window, Column input, int entityRows, int degree)
    {
        var take = new int[entityRows];
        Array.Fill(take, -1);
        var nulls = input.NullCount > 0 ? input : null;
        Ranges.For(keys.Count, degree, (from, to) =>
        {
            for (var k = from; k < to; k++)
            {
                int lo = keys.Starts[k], hi = lo, end = keys.Starts[k + 1], last = -1;
                for (var p = keys.EntityStarts[k]; p < keys.EntityStarts[k + 1]; p++)
                {
                    var t = keys.EntityTimes[p];
                    while (hi < end && keys.Times[hi] <= t)
                    {
                        if (nulls is null || !nulls.IsNull(keys.Order[hi]))
                        {
                            last = hi;
                        }

                        hi++;
                    }

                    Advance(keys.Times, t, window, ref lo, ref hi, end);
                    if (last >= lo)
                    {
                        take[keys.EntityOrder[p]] = keys.Order[last];
                    }
                }
            }
        });

        return take;
    }

    /// <summary>
    /// Sum, mean, min or max over the window's non-null inputs; <paramref name="values"/> and <paramref name="present"/> are
    /// in sorted position order (so the sweeps read memory sequentially), <paramref name="present"/> null when none is null.
    /// </summary>
    public static Column Numeric(Keys keys, ResolvedAggregation aggregation, double[] values, bool[]? present, bool[] usable, int degree)
    {
        var result = new double[usable.Length];
        var valid = new bool[usable.Length];
        var function = aggregation.Function;
        if (function == AggregationFunction.Sum)
        {
            Array.Copy(usable, valid, usable.Length); // an empty window sums to 0
        }

        var window = aggregation.WindowMicros;
        Ranges.For(keys.Count, degree, (from, to) =>
        {
            var sum = default(ExactSum);
            int[]? deque = null;
            for (var k = from; k < to; k++)
            {
                int start = keys.Starts[k], lo = start, hi = start, end = keys.Starts[k + 1];
                long inputs = 0, nan = 0;
                int head = 0, tail = 0;
                sum.Clear();
                if (function is AggregationFunction.Min or AggregationFunction.Max && (deque is null || deque.Length < end - start))
                {
                    deque = new int[Math.Max(end - start, 16)];
                }

                for (var p = keys.EntityStarts[k]; p < keys.EntityStarts[k + 1]; p++)
                {
                    var t = keys.EntityTimes[p];
                    while (hi < end && keys.Times[hi] <= t)
                    {
                        if (present is null || present[hi])
                        {
                            var v = values[hi];
                            inputs++;
                            if (function is AggregationFunction.Sum or AggregationFunction.Mean)
                            {
                                sum.Add(v);
                            }
                            else if (double.IsNaN(v))
                            {
                                nan++;
                            }
                            else
                            {
                                var sign = function == AggregationFunction.Min ? 1 : -1;
                                while (tail > head && sign * AggregationPlan.Compare(values[start + deque![tail - 1]], v) >= 0)
                                {
                                    tail--;
                                }

                                deque![tail++] = hi - start;
                            }
                        }

                        hi++;
                    }

                    if (t >= long.MinValue + window)
                    {
                        var lower = t - window;
                        while (lo < hi && keys.Times[lo] <= lower)
                        {
                            if (present is null || present[lo])
                            {
                                var v = values[lo];
                                inputs--;
                                if (function is AggregationFunction.Sum or AggregationFunction.Mean)
                                {
                                    sum.Remove(v);
                                }
                                else if (double.IsNaN(v))
                                {
                                    nan--;
                                }
                                else if (tail > head && deque![head] == lo - start)
                                {
                                    head++;
                                }
                            }

                            lo++;
                        }
                    }

                    var i = keys.EntityOrder[p];
                    switch (function)
                    {
                        case AggregationFunction.Sum:
                            result[i] = sum.ToDouble();
                            break;
                        case AggregationFunction.Mean when inputs > 0:
                            result[i] = sum.ToDouble() / inputs;
                            valid[i] = true;
                            break;
                        case AggregationFunction.Min or AggregationFunction.Max when inputs > 0:
                            result[i] = nan > 0 ? double.NaN : values[start + deque![head]];
                            valid[i] = true;
                            break;
                    }
                }
            }
        });

        return Build(DataType.Float64, result, valid);
    }

    /// <summary>Moves the window to end at t: events at or before t enter, events at or before t − window leave.</summary>
    private static void Advance(long[] times, long t, long window, ref int lo, ref int hi, int end)
    {
        while (hi < end && times[hi] <= t)
        {
            hi++;
        }

        if (t >= long.MinValue + window)
        {
            var lower = t - window;
            while (lo < hi && times[lo] <= lower)
            {
                lo++;
            }
        }
    }

    private static Column<T> Build<T>(DataType type, T[] values, bool[] valid)
        where T : unmanaged
    {
        var bits = new byte[Bitmap.ByteLength(values.Length)];
        var nulls = 0;
        for (var i = 0; i < values.Length; i++)
        {
            if (valid[i])
            {
                Bitmap.Set(bits, i);
            }
            else
            {
                values[i] = default;
                nulls++;
            }
        }

        return new Column<T>(type, values, 0, values.Length, nulls == 0 ? null : bits, 0, nulls);
    }
}
