namespace Strata.Data.Profiling;

/// <summary>
/// Exact counts and sums of values over fixed bin edges: mergeable by addition, so windows of served data can be counted on a reference's edges and compared with it
/// exactly (a quantile sketch's rank error would swamp small drifts at large sample sizes).
/// </summary>
/// <remarks>
/// Bin 0 is (−∞, e₀), bin i is [eᵢ₋₁, eᵢ), the last is [eₖ₋₁, +∞), as NumPy's <c>searchsorted(edges, x, side="right")</c>.
/// NaN is counted apart. A grid over [e₀, eₖ₋₁] narrows each lookup to the few edges in one cell, so adding a value costs
/// a multiply and a short search instead of a binary search over every edge.
/// </remarks>
public sealed class FixedBinHistogram
{
    /// <summary>The most edges a histogram may have.</summary>
    public const int MaxEdges = 1 << 16;

    private readonly double[] _edges;
    private readonly long[] _counts;
    private readonly double[] _sums;
    private readonly int[] _gridStart;
    private readonly double _gridScale;

    /// <summary>Creates an empty histogram over <paramref name="edges"/> (finite, strictly ascending, at most <see cref="MaxEdges"/>).</summary>
    /// <exception cref="StrataException">Edges not finite or not ascending, or too many (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public FixedBinHistogram(IReadOnlyList<double> edges)
    {
        ArgumentNullException.ThrowIfNull(edges);
        if (edges.Count > MaxEdges)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"a fixed-bin histogram takes at most {MaxEdges} edges, not {edges.Count}");
        }

        _edges = [.. edges];
        for (var i = 0; i < _edges.Length; i++)
        {
            if (!double.IsFinite(_edges[i]) || (i > 0 && !(_edges[i] > _edges[i - 1])))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"histogram edge {i} ({_edges[i]}) must be finite and above the one before");
            }
        }

        _counts = new long[_edges.Length + 1];
        _sums = new double[_edges.Length + 1];
        var cells = Math.Max(1, _edges.Length * 4);
        _gridStart = new int[cells + 1];
        if (_edges.Length > 1)
        {
            var width = _edges[^1] - _edges[0];
            _gridScale = double.IsFinite(cells / width) ? cells / width : 0;

            // _gridStart[c] = the number of edges ≤ the start of cell c, so a value in cell c has its bin in
            // [_gridStart[c], _gridStart[c + 1]].
            var e = 0;
            for (var c = 0; c <= cells; c++)
            {
                var start = c == cells ? _edges[^1] : _edges[0] + (c / _gridScale);
                while (e < _edges.Length && _edges[e] <= start)
                {
                    e++;
                }

                _gridStart[c] = e;
            }
        }
    }

    private FixedBinHistogram(FixedBinHistogram other)
    {
        _edges = other._edges;
        _gridStart = other._gridStart;
        _gridScale = other._gridScale;
        _counts = (long[])other._counts.Clone();
        _sums = (double[])other._sums.Clone();
        Total = other.Total;
        NanCount = other.NanCount;
    }

    /// <summary>The interior edges.</summary>
    public IReadOnlyList<double> Edges => _edges;

    /// <summary>Values per bin (one more bin than edges).</summary>
    public IReadOnlyList<long> Counts => _counts;

    /// <summary>Non-NaN values counted.</summary>
    public long Total { get; private set; }

    /// <summary>NaN values seen (not in any bin).</summary>
    public long NanCount { get; private set; }

    /// <summary>Sum of the values per bin: with the counts, each bin's mean (exact tails and discrete values for Wasserstein).</summary>
    public IReadOnlyList<double> Sums => _sums;

    /// <summary>Counts one value.</summary>
    public void Add(double value)
    {
        if (double.IsNaN(value))
        {
            NanCount++;
            return;
        }

        var bin = BinOf(value);
        _counts[bin]++;
        _sums[bin] += value;
        Total++;
    }

    /// <summary>Counts values.</summary>
    public void Add(ReadOnlySpan<double> values)
    {
        if (_edges.Length == 0)
        {
            foreach (var v in values)
            {
                Add(v);
            }

            return;
        }

        // NOTE: the arrays live in locals: this loop is the whole cost of a window update.
        var edges = _edges;
        var counts = _counts;
        var sums = _sums;
        var grid = _gridStart;
        var first = edges[0];
        var last = edges[^1];
        var scale = _gridScale;
        var k = edges.Length;
        long nan = 0;
        foreach (var v in values)
        {
            int bin;
            if (v >= first)
            {
                if (v >= last)
                {
                    bin = k;
                }
                else
                {
                    bin = Search(edges, grid, v, scale);
                }
            }
            else if (v < first)
            {
                bin = 0;
            }
            else
            {
                nan++;
                continue;
            }

            counts[bin]++;
            sums[bin] += v;
        }

        Total += values.Length - nan;
        NanCount += nan;
    }

    /// <summary>The bin a (non-NaN) value falls in.</summary>
    public int BinOf(double value)
    {
        var edges = _edges;
        if (edges.Length == 0 || value < edges[0])
        {
            return 0;
        }

        if (value >= edges[^1])
        {
            return edges.Length;
        }

        return Search(edges, _gridStart, value, _gridScale);
    }

    /// <summary>
    /// The bin of a value within [e₀, eₖ₋₁): its grid cell bounds the edges to search, so the binary search is short.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static int Search(double[] edges, int[] grid, double value, double scale)
    {
        // NOTE: value is within [e0, e_last), so the cell index is within [0, cells); the clamp guards rounding.
        var cell = Math.Min((int)((value - edges[0]) * scale), grid.Length - 2);
        int lo = grid[cell], hi = grid[cell + 1];

        // The bin is the number of edges ≤ value, within [lo, hi].
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (edges[mid] <= value)
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

    /// <summary>Adds another histogram's counts; both must have the same edges.</summary>
    /// <exception cref="StrataException">Different edges (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public void Merge(FixedBinHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!ReferenceEquals(other._edges, _edges) && !other._edges.AsSpan().SequenceEqual(_edges))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "cannot merge fixed-bin histograms with different edges");
        }

        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] = checked(_counts[i] + other._counts[i]);
            _sums[i] += other._sums[i];
        }

        Total = checked(Total + other.Total);
        NanCount = checked(NanCount + other.NanCount);
    }

    /// <summary>A deep copy.</summary>
    public FixedBinHistogram Clone() => new(this);

    /// <summary>Restores saved state.</summary>
    internal static FixedBinHistogram FromState(IReadOnlyList<double> edges, IReadOnlyList<long> counts, IReadOnlyList<double> sums, long nanCount)
    {
        var histogram = new FixedBinHistogram(edges);
        if (counts.Count != histogram._counts.Length || sums.Count != histogram._sums.Length)
        {
            throw new StrataException(
                ErrorCodes.DataMalformed, $"a histogram with {edges.Count} edges needs {edges.Count + 1} counts and sums, not {counts.Count} and {sums.Count}");
        }

        for (var i = 0; i < counts.Count; i++)
        {
            if (counts[i] < 0)
            {
                throw new StrataException(ErrorCodes.DataMalformed, $"histogram count {i} is negative");
            }

            histogram._counts[i] = counts[i];
            histogram._sums[i] = sums[i];
            histogram.Total = checked(histogram.Total + counts[i]);
        }

        histogram.NanCount = nanCount;
        return histogram;
    }
}
