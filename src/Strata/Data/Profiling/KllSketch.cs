using System.Buffers;
using System.Diagnostics;
using System.Numerics;
using System.Numerics.Tensors;

namespace Strata.Data.Profiling;

/// <summary>
/// A mergeable quantile sketch over doubles: KLL (Karnin, Lang and Liberty, 2016) with the level capacities, lazy
/// compaction and merge of Apache DataSketches, so DataSketches' measured error bounds apply. With the default
/// <c>k = 200</c>, an estimated normalized rank is within ±1.33% of the true rank for a single query, and within ±1.65%
/// for all queries at once (a PMF, CDF or histogram), each with 99% confidence (see <see cref="NormalizedRankError(int, bool)"/>).
/// </summary>
/// <remarks>
/// <para>
/// Items live in one contiguous array: level <c>h</c> (weight <c>2^h</c>) occupies <c>[levels[h], levels[h+1])</c> and
/// the free space is <c>[0, levels[0])</c>, so updates fill it from the top down without allocating. Levels above 0 are
/// kept sorted; a compaction sorts level 0 when it needs to.
/// </para>
/// <para>
/// The compaction coin is a seeded SplitMix64 whose state is part of the sketch (and of its JSON), so the same
/// sequence of updates and merges on sketches with the same seed gives a bit-identical sketch. NaN is ignored;
/// ±infinity is an ordinary (extreme) value. Not thread-safe for writes; concurrent queries on a sketch that is no longer
/// updated are safe.
/// </para>
/// </remarks>
public sealed class KllSketch
{
    /// <summary>The default accuracy parameter (±1.33% single-query rank error at 99% confidence).</summary>
    public const int DefaultK = 200;

    /// <summary>The smallest accepted <c>k</c>.</summary>
    public const int MinK = 8;

    /// <summary>The largest accepted <c>k</c>.</summary>
    public const int MaxK = ushort.MaxValue;

    /// <summary>The default seed of the compaction coin.</summary>
    public const ulong DefaultSeed = 0x4B4C4C5F53545241UL;

    /// <summary>Minimum level width (DataSketches' <c>m</c>).</summary>
    internal const int M = 8;

    /// <summary>Runs at least this long take the sort-and-merge path of <see cref="Update(ReadOnlySpan{double})"/>.</summary>
    public const int BulkRun = 256;

    // NOTE: a depth of at most 60 keeps 2^level weights and the capacity arithmetic inside 64 bits.
    internal const int MaxLevels = 61;

    private static readonly ulong[] PowersOfThree = BuildPowersOfThree();

    private readonly int _k;
    private double[] _items;
    private int[] _levels;
    private int[] _capacities;
    private int _numLevels;
    private long _n;
    private double _min = double.NaN;
    private double _max = double.NaN;
    private bool _levelZeroSorted;
    private ulong _random;
    private volatile SortedView? _view;

    /// <summary>Creates an empty sketch.</summary>
    /// <param name="k">Accuracy parameter in [<see cref="MinK"/>, <see cref="MaxK"/>]; space grows linearly with it.</param>
    /// <param name="seed">Seed of the compaction coin.</param>
    public KllSketch(int k = DefaultK, ulong seed = DefaultSeed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, MinK);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, MaxK);
        _k = k;
        _items = new double[k];
        _levels = [k, k];
        _numLevels = 1;
        _capacities = ComputeCapacities(k, 1);
        _random = seed;
    }

    private KllSketch(KllSketch other)
    {
        _k = other._k;
        _items = (double[])other._items.Clone();
        _levels = (int[])other._levels.Clone();
        _capacities = other._capacities;
        _numLevels = other._numLevels;
        _n = other._n;
        _min = other._min;
        _max = other._max;
        _levelZeroSorted = other._levelZeroSorted;
        _random = other._random;
        _view = other._view;
    }

    /// <summary>The accuracy parameter.</summary>
    public int K => _k;

    /// <summary>Number of values the sketch has seen (NaN excluded).</summary>
    public long N => _n;

    /// <summary>True before the first value.</summary>
    public bool IsEmpty => _n == 0;

    /// <summary>True once the sketch has compacted, i.e. it no longer holds every value it has seen.</summary>
    public bool IsEstimationMode => _numLevels > 1;

    /// <summary>The smallest value seen (exact), or NaN when empty.</summary>
    public double Min => _min;

    /// <summary>The largest value seen (exact), or NaN when empty.</summary>
    public double Max => _max;

    /// <summary>Number of values the sketch keeps.</summary>
    public int RetainedCount => _levels[_numLevels] - _levels[0];

    /// <summary>
    /// DataSketches' empirical normalized rank error of a KLL sketch at 99% confidence: <c>2.296 / k^0.9723</c> for a
    /// single rank or quantile query, <c>2.446 / k^0.9433</c> when <paramref name="pmf"/> (all queries of a PMF, CDF or
    /// histogram at once). For k = 200: 0.0133 and 0.0165.
    /// </summary>
    public static double NormalizedRankError(int k, bool pmf) =>
        pmf ? 2.446 / Math.Pow(k, 0.9433) : 2.296 / Math.Pow(k, 0.9723);

    /// <summary>This sketch's normalized rank error at 99% confidence (see <see cref="NormalizedRankError(int, bool)"/>).</summary>
    public double NormalizedRankError(bool pmf) => NormalizedRankError(_k, pmf);

    /// <summary>Adds a value; NaN is ignored.</summary>
    public void Update(double value)
    {
        if (double.IsNaN(value))
        {
            return;
        }

        if (_n == 0)
        {
            _min = value;
            _max = value;
        }
        else
        {
            if (value < _min)
            {
                _min = value;
            }

            if (value > _max)
            {
                _max = value;
            }
        }

        InternalUpdate(value);
        _view = null;
    }

    /// <summary>
    /// Adds values; NaN is ignored. A short run gives exactly the sketch that adding its values one at a time would. A run
    /// of at least <see cref="BulkRun"/> values is radix-sorted and merged in as one sorted level 0 through DataSketches'
    /// general compress — a KLL merge of an exact sketch — which is several times faster and no less accurate (each
    /// low level is compacted once per run instead of once per few values), though not bit-identical to one-at-a-time
    /// updates.
    /// </summary>
    public void Update(ReadOnlySpan<double> values)
    {
        if (values.IsEmpty)
        {
            return;
        }

        var min = TensorPrimitives.Min(values);
        var max = TensorPrimitives.Max(values);
        if (double.IsNaN(min) || double.IsNaN(max))
        {
            // Rare: NaN anywhere makes Min/Max NaN, so filter one value at a time.
            foreach (var value in values)
            {
                Update(value);
            }

            return;
        }

        if (_n == 0)
        {
            _min = min;
            _max = max;
        }
        else
        {
            if (min < _min)
            {
                _min = min;
            }

            if (max > _max)
            {
                _max = max;
            }
        }

        _view = null;
        if (values.Length >= BulkRun)
        {
            UpdateBulk(values, sorted: false);
            return;
        }

        while (!values.IsEmpty)
        {
            if (_levels[0] == 0)
            {
                CompressWhileUpdating();
            }

            var take = Math.Min(_levels[0], values.Length);
            var start = _levels[0] - take;
            var destination = _items.AsSpan(start, take);
            values[..take].CopyTo(destination);

            // One-at-a-time updates fill the free space downwards, so the run is stored reversed to match them exactly.
            destination.Reverse();
            _levels[0] = start;
            _n += take;
            _levelZeroSorted = false;
            values = values[take..];
        }
    }

    /// <summary>Merges another sketch (with the same <see cref="K"/>) into this one; the other is not changed.</summary>
    /// <exception cref="StrataException">The sketches have different <c>k</c>.</exception>
    public void Merge(KllSketch other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._k != _k)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"cannot merge a KLL sketch with k={other._k} into one with k={_k}");
        }

        if (other.IsEmpty)
        {
            return;
        }

        if (ReferenceEquals(other, this))
        {
            other = other.Clone();
        }

        if (IsEmpty)
        {
            _min = other._min;
            _max = other._max;
        }
        else
        {
            if (other._min < _min)
            {
                _min = other._min;
            }

            if (other._max > _max)
            {
                _max = other._max;
            }
        }

        var finalN = checked(_n + other._n);
        for (var i = other._levels[0]; i < other._levels[1]; i++)
        {
            InternalUpdate(other._items[i]);
        }

        if (other._numLevels >= 2)
        {
            MergeHigherLevels(other, finalN);
        }

        _n = finalN;
        _view = null;
    }

    /// <summary>A deep copy (including the coin's state).</summary>
    public KllSketch Clone() => new(this);

    /// <summary>
    /// The estimated <paramref name="q"/>-quantile: the smallest retained value whose estimated inclusive rank is at least
    /// <c>ceil(q·n)</c>. <c>q = 0</c> and <c>q = 1</c> give the exact minimum and maximum. NaN when empty.
    /// </summary>
    public double Quantile(double q)
    {
        if (!(q >= 0 && q <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(q), q, "a quantile's fraction must be within [0, 1]");
        }

        if (IsEmpty)
        {
            return double.NaN;
        }

        if (q == 0)
        {
            return _min;
        }

        if (q == 1)
        {
            return _max;
        }

        var view = GetView();
        var rank = NaturalRank(q, _n);
        var index = LowerBound(view.Cumulative, rank);
        return view.Items[Math.Min(index, view.Items.Length - 1)];
    }

    /// <summary>Estimated quantiles for several fractions (see <see cref="Quantile(double)"/>).</summary>
    public double[] Quantiles(ReadOnlySpan<double> fractions)
    {
        var result = new double[fractions.Length];
        for (var i = 0; i < fractions.Length; i++)
        {
            result[i] = Quantile(fractions[i]);
        }

        return result;
    }

    /// <summary>The estimated fraction of values ≤ <paramref name="value"/> (the CDF at that point); NaN when empty.</summary>
    public double Rank(double value)
    {
        if (double.IsNaN(value))
        {
            throw new ArgumentException("the rank of NaN is undefined", nameof(value));
        }

        return IsEmpty ? double.NaN : (double)CountAtMost(value) / _n;
    }

    /// <summary>
    /// The estimated CDF at increasing split points: entry <c>i</c> is the fraction of values ≤ <c>splitPoints[i]</c>,
    /// and a last entry 1. Empty when the sketch is empty.
    /// </summary>
    public double[] Cdf(ReadOnlySpan<double> splitPoints)
    {
        ValidateSplitPoints(splitPoints);
        if (IsEmpty)
        {
            return [];
        }

        var result = new double[splitPoints.Length + 1];
        for (var i = 0; i < splitPoints.Length; i++)
        {
            result[i] = (double)CountAtMost(splitPoints[i]) / _n;
        }

        result[^1] = 1;
        return result;
    }

    /// <summary>
    /// The estimated PMF over the intervals <c>(-∞, s0], (s0, s1], …, (s_last, +∞)</c> of increasing split points. Empty
    /// when the sketch is empty.
    /// </summary>
    public double[] Pmf(ReadOnlySpan<double> splitPoints)
    {
        var cdf = Cdf(splitPoints);
        for (var i = cdf.Length - 1; i > 0; i--)
        {
            cdf[i] -= cdf[i - 1];
        }

        return cdf;
    }

    /// <summary>The estimated number of values ≤ <paramref name="value"/> (a sum of retained weights, so an integer).</summary>
    internal long CountAtMost(double value)
    {
        if (IsEmpty)
        {
            return 0;
        }

        var view = GetView();
        var index = UpperBound(view.Items, value);
        return index == 0 ? 0 : view.Cumulative[index - 1];
    }

    /// <summary>Retained values in ascending order with their cumulative weights (for distances such as KS).</summary>
    internal (double[] Items, long[] Cumulative) SortedItems()
    {
        var view = GetView();
        return (view.Items, view.Cumulative);
    }

    /// <summary>Number of distinct retained values; the exact distinct count while not in estimation mode.</summary>
    internal int CountDistinctRetained()
    {
        var items = GetView().Items;
        var distinct = items.Length == 0 ? 0 : 1;
        for (var i = 1; i < items.Length; i++)
        {
            if (items[i] != items[i - 1])
            {
                distinct++;
            }
        }

        return distinct;
    }

    private static void ValidateSplitPoints(ReadOnlySpan<double> splitPoints)
    {
        for (var i = 0; i < splitPoints.Length; i++)
        {
            if (double.IsNaN(splitPoints[i]) || (i > 0 && !(splitPoints[i] > splitPoints[i - 1])))
            {
                throw new ArgumentException("split points must be strictly increasing and not NaN", nameof(splitPoints));
            }
        }
    }

    private void InternalUpdate(double value)
    {
        if (_levels[0] == 0)
        {
            CompressWhileUpdating();
        }

        _n++;
        _levelZeroSorted = false;
        _items[--_levels[0]] = value;
    }

    private bool NextBit() => (SplitMix64.Next(ref _random) >> 63) != 0;

    private int FindLevelToCompact()
    {
        for (var level = 0; level < _numLevels; level++)
        {
            if (_levels[level + 1] - _levels[level] >= _capacities[level])
            {
                return level;
            }
        }

        throw new InvalidOperationException("KLL capacity calculation error: no level is full");
    }

    private void CompressWhileUpdating()
    {
        var level = FindLevelToCompact();
        if (level == _numLevels - 1)
        {
            AddEmptyTopLevelToCompletelyFullSketch();
        }

        var levels = _levels;
        var items = _items;
        var rawBeg = levels[level];
        var rawEnd = levels[level + 1];
        var popAbove = levels[level + 2] - rawEnd;
        var rawPop = rawEnd - rawBeg;
        var oddPop = (rawPop & 1) != 0;
        var adjBeg = oddPop ? rawBeg + 1 : rawBeg;
        var adjPop = oddPop ? rawPop - 1 : rawPop;
        var halfAdjPop = adjPop / 2;

        if (level == 0)
        {
            items.AsSpan(adjBeg, adjPop).Sort();
        }

        if (popAbove == 0)
        {
            RandomlyHalveUp(items, adjBeg, adjPop, NextBit());
        }
        else
        {
            RandomlyHalveDown(items, adjBeg, adjPop, NextBit());
            MergeSortedInPlace(items, adjBeg, halfAdjPop, rawEnd, popAbove, adjBeg + halfAdjPop);
        }

        levels[level + 1] -= halfAdjPop;
        if (oddPop)
        {
            // The odd one out stays behind as the level's only item.
            levels[level] = levels[level + 1] - 1;
            items[levels[level]] = items[rawBeg];
        }
        else
        {
            levels[level] = levels[level + 1];
        }

        Debug.Assert(levels[level] == rawBeg + halfAdjPop, "a compaction frees exactly half of the compacted items");

        // Shift the levels below up so that the freed space sits at the bottom, where level 0 grows into it.
        if (level > 0)
        {
            var amount = rawBeg - levels[0];
            items.AsSpan(levels[0], amount).CopyTo(items.AsSpan(levels[0] + halfAdjPop));
            for (var lvl = 0; lvl < level; lvl++)
            {
                levels[lvl] += halfAdjPop;
            }
        }
    }

    private void AddEmptyTopLevelToCompletelyFullSketch()
    {
        if (_numLevels >= MaxLevels)
        {
            throw new InvalidOperationException("KLL sketch cannot grow beyond 61 levels");
        }

        var currentCapacity = _levels[_numLevels];
        Debug.Assert(_levels[0] == 0 && _items.Length == currentCapacity, "only a full sketch grows");
        var delta = LevelCapacity(_k, _numLevels + 1, 0);
        var items = new double[currentCapacity + delta];
        _items.AsSpan().CopyTo(items.AsSpan(delta));
        var levels = new int[_numLevels + 2];
        for (var i = 0; i <= _numLevels; i++)
        {
            levels[i] = _levels[i] + delta;
        }

        _numLevels++;
        levels[_numLevels] = currentCapacity + delta;
        _items = items;
        _levels = levels;
        _capacities = ComputeCapacities(_k, _numLevels);
    }

    /// <summary>
    /// Adds an ascending run of non-NaN values (such as integers sorted before conversion): the same sketch as
    /// <see cref="Update(ReadOnlySpan{double})"/> of those values (up to the order of −0 and +0), without sorting them again.
    /// </summary>
    internal void UpdateSorted(ReadOnlySpan<double> sorted)
    {
        if (sorted.Length < BulkRun)
        {
            Update(sorted);
            return;
        }

        Debug.Assert(!double.IsNaN(sorted[0]) && !double.IsNaN(sorted[^1]), "a sorted run holds no NaN");
        if (_n == 0 || sorted[0] < _min)
        {
            _min = sorted[0];
        }

        if (_n == 0 || sorted[^1] > _max)
        {
            _max = sorted[^1];
        }

        _view = null;
        UpdateBulk(sorted, sorted: true);
    }

    /// <summary>Merges a run of non-NaN values in as a sorted level 0 together with the current level 0, then compresses.</summary>
    private void UpdateBulk(ReadOnlySpan<double> values, bool sorted)
    {
        var levelZero = _levels[1] - _levels[0];
        var above = _levels[_numLevels] - _levels[1];
        var runLength = levelZero + values.Length;

        // Rented: a profile makes one of these per 8192 values, and general compress indexes within its length only.
        var workbuf = ArrayPool<double>.Shared.Rent(runLength + above);
        if (sorted)
        {
            var existing = _items.AsSpan(_levels[0], levelZero);
            if (!_levelZeroSorted)
            {
                // Level 0 is unordered by definition, so sorting it in place changes nothing it means.
                existing.Sort();
            }

            MergeSorted(existing, values, workbuf.AsSpan(0, runLength));
        }
        else
        {
            _items.AsSpan(_levels[0], levelZero).CopyTo(workbuf);
            values.CopyTo(workbuf.AsSpan(levelZero));
            RadixSort.Sort(workbuf.AsSpan(0, runLength));
        }

        _items.AsSpan(_levels[1], above).CopyTo(workbuf.AsSpan(runLength));

        var finalN = checked(_n + values.Length);
        var size = UpperBoundOnNumLevels(finalN) + 2;
        var worklevels = new int[size];
        var outlevels = new int[size];
        worklevels[1] = runLength;
        for (var lvl = 1; lvl < _numLevels; lvl++)
        {
            worklevels[lvl + 1] = worklevels[lvl] + (_levels[lvl + 1] - _levels[lvl]);
        }

        var result = GeneralCompress(_k, _numLevels, workbuf, worklevels, outlevels, isLevelZeroSorted: true, ref _random);
        Install(workbuf, outlevels, result);
        ArrayPool<double>.Shared.Return(workbuf);
        _n = finalN;

        // Level 0 is now the sorted run, or what a compaction of it left (at most one value).
        _levelZeroSorted = true;
    }

    /// <summary>Makes the output of <see cref="GeneralCompress"/> the sketch's levels, free space at the bottom.</summary>
    private void Install(double[] workbuf, int[] outlevels, (int NumLevels, int Capacity, int NumItems) result)
    {
        var (finalNumLevels, finalCapacity, finalNumItems) = result;
        if (finalCapacity != _items.Length)
        {
            _items = new double[finalCapacity];
        }

        var freeSpaceAtBottom = finalCapacity - finalNumItems;
        workbuf.AsSpan(outlevels[0], finalNumItems).CopyTo(_items.AsSpan(freeSpaceAtBottom));
        var shift = freeSpaceAtBottom - outlevels[0];
        _levels = new int[finalNumLevels + 1];
        for (var lvl = 0; lvl <= finalNumLevels; lvl++)
        {
            _levels[lvl] = outlevels[lvl] + shift;
        }

        _numLevels = finalNumLevels;
        _capacities = ComputeCapacities(_k, finalNumLevels);
    }

    private int SafeLevelSize(int level) => level >= _numLevels ? 0 : _levels[level + 1] - _levels[level];

    private void MergeHigherLevels(KllSketch other, long finalN)
    {
        var tmpItems = RetainedCount + (other._levels[other._numLevels] - other._levels[1]);
        var workbuf = new double[tmpItems];
        var ub = UpperBoundOnNumLevels(finalN);
        var worklevels = new int[ub + 2];
        var outlevels = new int[ub + 2];
        var provisionalNumLevels = Math.Max(_numLevels, other._numLevels);

        // Level 0 of the other sketch was already added item by item; merge the sorted levels above pairwise.
        var selfPopZero = SafeLevelSize(0);
        _items.AsSpan(_levels[0], selfPopZero).CopyTo(workbuf);
        worklevels[1] = selfPopZero;
        for (var lvl = 1; lvl < provisionalNumLevels; lvl++)
        {
            var selfPop = SafeLevelSize(lvl);
            var otherPop = other.SafeLevelSize(lvl);
            worklevels[lvl + 1] = worklevels[lvl] + selfPop + otherPop;
            var destination = workbuf.AsSpan(worklevels[lvl], selfPop + otherPop);
            if (otherPop == 0)
            {
                if (selfPop > 0)
                {
                    _items.AsSpan(_levels[lvl], selfPop).CopyTo(destination);
                }
            }
            else if (selfPop == 0)
            {
                other._items.AsSpan(other._levels[lvl], otherPop).CopyTo(destination);
            }
            else
            {
                MergeSorted(_items.AsSpan(_levels[lvl], selfPop), other._items.AsSpan(other._levels[lvl], otherPop), destination);
            }
        }

        var result = GeneralCompress(_k, provisionalNumLevels, workbuf, worklevels, outlevels, _levelZeroSorted, ref _random);
        Debug.Assert(result.NumLevels <= ub, "a merge never needs more levels than log2(n) + 1");
        Install(workbuf, outlevels, result);
    }

    /// <summary>
    /// Compacts levels bottom-up until the items fit the capacity of the resulting number of levels (DataSketches'
    /// general compress). <paramref name="buffer"/> is both input and output.
    /// </summary>
    private static (int NumLevels, int Capacity, int NumItems) GeneralCompress(
        int k, int numLevelsIn, double[] buffer, int[] inLevels, int[] outLevels, bool isLevelZeroSorted, ref ulong random)
    {
        var numLevels = numLevelsIn;
        var currentItemCount = inLevels[numLevels] - inLevels[0];
        var targetItemCount = TotalCapacity(k, numLevels);
        outLevels[0] = 0;
        for (var level = 0; ; level++)
        {
            // At the current top level, add an empty level above it for convenience (numLevels grows only if used).
            if (level == numLevels - 1)
            {
                inLevels[level + 2] = inLevels[level + 1];
            }

            var rawBeg = inLevels[level];
            var rawLim = inLevels[level + 1];
            var rawPop = rawLim - rawBeg;
            if (currentItemCount < targetItemCount || rawPop < LevelCapacity(k, numLevels, level))
            {
                Debug.Assert(rawBeg >= outLevels[level], "data never moves upwards");
                buffer.AsSpan(rawBeg, rawPop).CopyTo(buffer.AsSpan(outLevels[level]));
                outLevels[level + 1] = outLevels[level] + rawPop;
            }
            else
            {
                var popAbove = inLevels[level + 2] - rawLim;
                var oddPop = (rawPop & 1) != 0;
                var adjBeg = oddPop ? rawBeg + 1 : rawBeg;
                var adjPop = oddPop ? rawPop - 1 : rawPop;
                var halfAdjPop = adjPop / 2;
                if (oddPop)
                {
                    buffer[outLevels[level]] = buffer[rawBeg];
                    outLevels[level + 1] = outLevels[level] + 1;
                }
                else
                {
                    outLevels[level + 1] = outLevels[level];
                }

                if (level == 0 && !isLevelZeroSorted)
                {
                    buffer.AsSpan(adjBeg, adjPop).Sort();
                }

                var bit = (SplitMix64.Next(ref random) >> 63) != 0;
                if (popAbove == 0)
                {
                    RandomlyHalveUp(buffer, adjBeg, adjPop, bit);
                }
                else
                {
                    RandomlyHalveDown(buffer, adjBeg, adjPop, bit);
                    MergeSortedInPlace(buffer, adjBeg, halfAdjPop, rawLim, popAbove, adjBeg + halfAdjPop);
                }

                currentItemCount -= halfAdjPop;
                inLevels[level + 1] -= halfAdjPop;

                // Compacting the old top level created a new one, and with it the capacity of a new bottom level.
                if (level == numLevels - 1)
                {
                    numLevels++;
                    targetItemCount += LevelCapacity(k, numLevels, 0);
                }
            }

            if (level == numLevels - 1)
            {
                break;
            }
        }

        Debug.Assert(outLevels[numLevels] - outLevels[0] == currentItemCount, "general compress lost track of items");
        return (numLevels, targetItemCount, currentItemCount);
    }

    private static void RandomlyHalveDown(double[] buffer, int start, int length, bool offset)
    {
        var half = length / 2;
        var j = start + (offset ? 1 : 0);
        for (var i = start; i < start + half; i++)
        {
            buffer[i] = buffer[j];
            j += 2;
        }
    }

    private static void RandomlyHalveUp(double[] buffer, int start, int length, bool offset)
    {
        var half = length / 2;
        var j = start + length - 1 - (offset ? 1 : 0);
        for (var i = start + length - 1; i >= start + half; i--)
        {
            buffer[i] = buffer[j];
            j -= 2;
        }
    }

    /// <summary>Merges two sorted runs of one buffer into a third position of it; the output never overtakes run B.</summary>
    private static void MergeSortedInPlace(double[] buffer, int startA, int lengthA, int startB, int lengthB, int startC)
    {
        var limA = startA + lengthA;
        var limB = startB + lengthB;
        var limC = startC + lengthA + lengthB;
        var a = startA;
        var b = startB;
        for (var c = startC; c < limC; c++)
        {
            if (a == limA)
            {
                buffer[c] = buffer[b++];
            }
            else if (b == limB)
            {
                buffer[c] = buffer[a++];
            }
            else if (buffer[a] < buffer[b])
            {
                buffer[c] = buffer[a++];
            }
            else
            {
                buffer[c] = buffer[b++];
            }
        }
    }

    private static void MergeSorted(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> destination)
    {
        int i = 0, j = 0, c = 0;
        while (i < a.Length && j < b.Length)
        {
            destination[c++] = a[i] < b[j] ? a[i++] : b[j++];
        }

        a[i..].CopyTo(destination[c..]);
        b[j..].CopyTo(destination[(c + a.Length - i)..]);
    }

    /// <summary>1 + floor(log2 n): no sketch of n values has more levels.</summary>
    internal static int UpperBoundOnNumLevels(long n) => n <= 0 ? 1 : 1 + (63 - BitOperations.LeadingZeroCount((ulong)n));

    /// <summary>Nominal capacity of level <paramref name="height"/> in a sketch of <paramref name="numLevels"/> levels: about k·(2/3)^depth, at least m.</summary>
    internal static int LevelCapacity(int k, int numLevels, int height)
    {
        var depth = numLevels - height - 1;
        return Math.Max(M, CapacityAtDepth(k, depth));
    }

    /// <summary>Sum of the nominal level capacities: the size of the items array of a sketch with that many levels.</summary>
    internal static int TotalCapacity(int k, int numLevels)
    {
        var total = 0;
        for (var h = 0; h < numLevels; h++)
        {
            total += LevelCapacity(k, numLevels, h);
        }

        return total;
    }

    private static int[] ComputeCapacities(int k, int numLevels)
    {
        var capacities = new int[numLevels];
        for (var h = 0; h < numLevels; h++)
        {
            capacities[h] = LevelCapacity(k, numLevels, h);
        }

        return capacities;
    }

    private static int CapacityAtDepth(int k, int depth)
    {
        if (depth <= 30)
        {
            return CapacityAtDepthUpTo30(k, depth);
        }

        var half = depth / 2;
        return CapacityAtDepthUpTo30(CapacityAtDepthUpTo30(k, half), depth - half);
    }

    private static int CapacityAtDepthUpTo30(int k, int depth)
    {
        // round(k · 2^depth / 3^depth), pre-multiplied by 2 for rounding.
        var twoK = (ulong)k << 1;
        var tmp = (twoK << depth) / PowersOfThree[depth];
        return (int)((tmp + 1) >> 1);
    }

    private static ulong[] BuildPowersOfThree()
    {
        var powers = new ulong[31];
        powers[0] = 1;
        for (var i = 1; i < powers.Length; i++)
        {
            powers[i] = powers[i - 1] * 3;
        }

        return powers;
    }

    /// <summary>ceil(q·n), with q·n rounded to 8 decimals first for modest n so that 0.3·10 is 3, not 3.0000000000000004.</summary>
    private static long NaturalRank(double q, long n)
    {
        var rank = q * n;
        if (n <= 1_000_000)
        {
            rank = Math.Round(rank * 1e8) / 1e8;
        }

        return (long)Math.Ceiling(rank);
    }

    private static int LowerBound(long[] sorted, long value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private static int UpperBound(double[] sorted, double value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] <= value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private SortedView GetView()
    {
        if (_view is { } view)
        {
            return view;
        }

        var retained = RetainedCount;
        var items = new double[retained];
        var weights = new long[retained];
        var at = 0;
        for (var level = 0; level < _numLevels; level++)
        {
            var weight = 1L << level;
            for (var i = _levels[level]; i < _levels[level + 1]; i++)
            {
                items[at] = _items[i];
                weights[at++] = weight;
            }
        }

        Array.Sort(items, weights);
        var cumulative = weights;
        for (var i = 1; i < cumulative.Length; i++)
        {
            cumulative[i] += cumulative[i - 1];
        }

        // Publishing a fully built view; a concurrent reader that builds its own simply drops one of them.
        view = new SortedView(items, cumulative);
        _view = view;
        return view;
    }

    /// <summary>The sketch's state for serialization: levels relative to the first retained item.</summary>
    internal KllState ExportState()
    {
        var offset = _levels[0];
        var levels = new int[_numLevels + 1];
        for (var i = 0; i <= _numLevels; i++)
        {
            levels[i] = _levels[i] - offset;
        }

        return new KllState(_k, _n, _min, _max, _levelZeroSorted, _random, levels, _items.AsSpan(offset, RetainedCount).ToArray());
    }

    /// <summary>Rebuilds a sketch from saved state, checking every invariant; <paramref name="path"/> names the field in errors.</summary>
    /// <exception cref="StrataException">The state is inconsistent (<see cref="ErrorCodes.DataMalformed"/>).</exception>
    internal static KllSketch ImportState(KllState state, string path)
    {
        Check(state.K is >= MinK and <= MaxK, path, "k", $"must be within [{MinK}, {MaxK}], not {state.K}");
        Check(state.N >= 0, path, "n", "must not be negative");
        var levels = state.Levels;
        var items = state.Items;
        Check(levels.Length >= 2 && levels.Length - 1 <= MaxLevels, path, "levels", $"must hold 2 to {MaxLevels + 1} boundaries");
        var numLevels = levels.Length - 1;
        Check(levels[0] == 0, path, "levels", "must start at 0");
        for (var i = 1; i < levels.Length; i++)
        {
            Check(levels[i] >= levels[i - 1], path, "levels", "must not decrease");
        }

        Check(items.Length == levels[^1], path, "items", $"holds {items.Length} values but the levels describe {levels[^1]}");
        var capacity = TotalCapacity(state.K, numLevels);
        Check(items.Length <= capacity, path, "items", $"holds {items.Length} values, more than the {capacity} a sketch of {numLevels} levels keeps");
        Check(numLevels <= UpperBoundOnNumLevels(state.N), path, "levels", $"{numLevels} levels are too many for n = {state.N}");

        var weight = 0L;
        for (var h = 0; h < numLevels; h++)
        {
            weight += (long)(levels[h + 1] - levels[h]) << h;
            Check(weight >= 0, path, "levels", "describe more weight than fits in 64 bits");
        }

        Check(weight == state.N, path, "n", $"is {state.N} but the retained items weigh {weight}");
        if (state.N == 0)
        {
            Check(double.IsNaN(state.Min) && double.IsNaN(state.Max), path, "min", "must be absent for an empty sketch");
        }
        else
        {
            Check(!double.IsNaN(state.Min) && !double.IsNaN(state.Max) && state.Min <= state.Max, path, "min", "and max must be numbers with min ≤ max");
            for (var i = 0; i < items.Length; i++)
            {
                Check(items[i] >= state.Min && items[i] <= state.Max, path, "items", $"[{i}] is NaN or outside [min, max]");
            }

            for (var h = 0; h < numLevels; h++)
            {
                if (h == 0 && !state.LevelZeroSorted)
                {
                    continue;
                }

                for (var i = levels[h] + 1; i < levels[h + 1]; i++)
                {
                    Check(items[i - 1] <= items[i], path, "items", $"level {h} is not sorted at [{i}]");
                }
            }
        }

        var sketch = new KllSketch(state.K, state.Random);
        var free = capacity - items.Length;
        sketch._items = new double[capacity];
        items.CopyTo(sketch._items.AsSpan(free));
        sketch._levels = new int[numLevels + 1];
        for (var i = 0; i <= numLevels; i++)
        {
            sketch._levels[i] = levels[i] + free;
        }

        sketch._numLevels = numLevels;
        sketch._capacities = ComputeCapacities(state.K, numLevels);
        sketch._n = state.N;
        sketch._min = state.Min;
        sketch._max = state.Max;
        sketch._levelZeroSorted = state.LevelZeroSorted;
        return sketch;
    }

    private static void Check(bool condition, string path, string field, string message)
    {
        if (!condition)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"profile JSON: {path}.{field} {message}");
        }
    }

    private sealed record SortedView(double[] Items, long[] Cumulative);
}

/// <summary>A KLL sketch's saved state: retained items with level boundaries starting at 0.</summary>
internal sealed record KllState(int K, long N, double Min, double Max, bool LevelZeroSorted, ulong Random, int[] Levels, double[] Items);
