using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Strata.Data.Profiling;

namespace Strata.Learning.Gbdt;

/// <summary>A node of a tree being grown: its split (internal nodes) or its rows (leaves), and its sums.</summary>
internal sealed class GrownNode
{
    public SplitInfo Split = SplitInfo.None;
    public int Left = -1;
    public int Right = -1;
    public double G;
    public double H;
    public int Start;
    public int Count;
    public int Depth;
    public double Value;
    /// <summary>Position in the tree (creation order: children after their parent).</summary>
    public int Id;
    /// <summary>
    /// Set on a parent whose children are leaves at the maximum depth: its rows were not partitioned (its children have
    /// no row ranges), and the caller adds the children's values by testing the split on each of the parent's rows.
    /// </summary>
    public bool Unpartitioned;

    public bool IsLeaf => Left < 0;
}

/// <summary>
/// Grows one tree on binned data from interleaved gradients: histograms per node (the smaller child built from its rows,
/// the larger by subtraction from the parent), best splits per feature, rows partitioned stably in one index array so
/// every node owns a contiguous range. Depth-wise growth splits a whole level at once; loss-guided growth splits the
/// best leaf. Work is spread over threads by (node, feature block) and (node, row chunk), never by splitting a sum.
/// </summary>
internal sealed class TreeGrower
{
    private const int PartitionChunk = 16384;

    private readonly BinnedMatrix _data;
    private readonly SplitParams _params;
    private readonly GbdtOptions _options;
    private readonly int _threads;
    private readonly bool _leafRows;
    private readonly int[] _rows;
    private readonly int[] _scratch;
    private readonly HistogramPool<double> _pool;
    private readonly HistogramPool<long> _chunkPool;
    private readonly List<GrownNode> _nodes = [];
    private long[] _packed = [];
    private double _gradientUnit = 1;
    private double _hessianUnit = 1;
    private bool _identity;
    private bool[] _treeFeatures = [];
    private ulong _treeSeed;

    public TreeGrower(BinnedMatrix data, GbdtOptions options, SplitParams splitParams, int threads, bool leafRows)
    {
        _leafRows = leafRows;
        _data = data;
        _options = options;
        _params = splitParams;
        _threads = threads;
        _rows = new int[data.Rows];
        _scratch = new int[data.Rows];
        _pool = new HistogramPool<double>(2 * data.TotalBins);
        _chunkPool = new HistogramPool<long>(data.TotalBins);
    }

    /// <summary>The row index array: the caller fills [0, rowCount) with the rows of the tree before growing.</summary>
    public int[] Rows => _rows;

    public IReadOnlyList<GrownNode> Nodes => _nodes;

    /// <summary>Where growing spends its time (for benchmarks and profiling).</summary>
    public GbdtTimings Timings { get; } = new();

    /// <summary>
    /// Grows a tree on rows [0, rowCount) of <see cref="Rows"/> (identity: they are 0..rowCount-1 in order) from packed
    /// quantized gradients (see <see cref="Histograms"/>); a quantization unit is worth <paramref name="gradientUnit"/>
    /// of gradient and <paramref name="hessianUnit"/> of hessian.
    /// </summary>
    public IReadOnlyList<GrownNode> Grow(
        long[] packed, double gradientUnit, double hessianUnit, int rowCount, bool identity, bool[] treeFeatures, ulong treeSeed, CancellationToken cancellationToken)
    {
        _packed = packed;
        _gradientUnit = gradientUnit;
        _hessianUnit = hessianUnit;
        _identity = identity;
        _treeFeatures = treeFeatures;
        _treeSeed = treeSeed;
        _nodes.Clear();
        var root = new GrownNode { Start = 0, Count = rowCount, Depth = 0 };
        _nodes.Add(root);
        var rootHist = _pool.Rent();
        BuildHistograms([(root, rootHist)]);
        _identity = false;
        var first = Array.IndexOf(treeFeatures, true);
        (root.G, root.H) = Sums(rootHist, first);
        var hists = new Dictionary<GrownNode, double[]> { [root] = rootHist };
        if (CanSplit(root))
        {
            FindSplits([root], hists);
        }

        var leaves = 1;
        var maxLeaves = _options.MaxLeaves > 0 ? _options.MaxLeaves : _options.GrowPolicy == GrowPolicy.LossGuide ? 31 : int.MaxValue;
        if (_options.GrowPolicy == GrowPolicy.DepthWise)
        {
            var level = new List<GrownNode> { root };
            while (level.Count > 0 && leaves < maxLeaves)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var split = level.Where(n => n.Split.IsValid).ToList();
                if (leaves + split.Count > maxLeaves)
                {
                    // Stable sort: equal gains keep node order.
                    split = [.. split.OrderByDescending(n => n.Split.Gain).Take(maxLeaves - leaves).OrderBy(n => n.Id)];
                }

                foreach (var n in level.Except(split))
                {
                    n.Split = SplitInfo.None;
                    _pool.Return(hists.GetValueOrDefault(n));
                    hists.Remove(n);
                }

                if (split.Count == 0)
                {
                    break;
                }

                level = SplitAll(split, hists);
                leaves += split.Count;
            }

            foreach (var n in level)
            {
                n.Split = SplitInfo.None;
            }
        }
        else
        {
            var open = new List<GrownNode> { root };
            while (leaves < maxLeaves)
            {
                cancellationToken.ThrowIfCancellationRequested();
                GrownNode? best = null;
                foreach (var n in open)
                {
                    if (n.Split.IsValid && (best is null || n.Split.Gain > best.Split.Gain))
                    {
                        best = n;
                    }
                }

                if (best is null)
                {
                    break;
                }

                open.Remove(best);
                open.AddRange(SplitAll([best], hists));
                leaves++;
            }

            foreach (var n in open)
            {
                n.Split = SplitInfo.None;
            }
        }

        foreach (var h in hists.Values)
        {
            _pool.Return(h);
        }

        return _nodes;
    }

    private bool Terminal(GrownNode parent) => !_leafRows && _options.MaxDepth > 0 && parent.Depth + 1 >= _options.MaxDepth;

    private bool CanSplit(GrownNode node) =>
        (_options.MaxDepth == 0 || node.Depth < _options.MaxDepth) && node.Count >= 2 && node.H >= 2 * _params.MinChild;

    private static (double G, double H) Sums(double[] hist, int offset, int bins)
    {
        double g = 0, h = 0;
        for (var b = 0; b < bins; b++)
        {
            g += hist[2 * (offset + b)];
            h += hist[(2 * (offset + b)) + 1];
        }

        return (g, h);
    }

    private (double G, double H) Sums(double[] hist, int feature)
    {
        var (g, h) = Sums(hist, _data.Offsets[feature], _data.Features[feature].BinCount);
        return (g * _gradientUnit, h * _hessianUnit);
    }

    /// <summary>Splits the given leaves: partitions their rows, makes their children and finds the children's best splits.</summary>
    private List<GrownNode> SplitAll(List<GrownNode> parents, Dictionary<GrownNode, double[]> hists)
    {
        // Children at the maximum depth are leaves whatever their rows: unless the caller needs each leaf's rows, their
        // parent's rows stay as they are and the caller routes them by the split when it adds the leaf values.
        var partitioned = parents.Where(p => !Terminal(p)).ToList();
        var counts = partitioned.Count > 0 ? Partition(partitioned) : [];
        var leftCounts = new int[parents.Count];
        for (int i = 0, j = 0; i < parents.Count; i++)
        {
            leftCounts[i] = Terminal(parents[i]) ? 0 : counts[j++];
        }

        var children = new List<GrownNode>(2 * parents.Count);
        var builds = new List<(GrownNode Node, double[] Hist)>();
        var subtractions = new List<(double[] Parent, double[] Small)>();
        var searchable = new List<GrownNode>();
        for (var i = 0; i < parents.Count; i++)
        {
            var p = parents[i];
            var s = p.Split;
            var terminal = Terminal(p);
            p.Unpartitioned = terminal;
            var left = new GrownNode { Start = p.Start, Count = terminal ? -1 : leftCounts[i], Depth = p.Depth + 1, G = s.LeftG, H = s.LeftH };
            var right = new GrownNode
            {
                Start = terminal ? p.Start : p.Start + leftCounts[i], Count = terminal ? -1 : p.Count - leftCounts[i], Depth = p.Depth + 1, G = s.RightG, H = s.RightH,
            };
            p.Left = left.Id = _nodes.Count;
            _nodes.Add(left);
            p.Right = right.Id = _nodes.Count;
            _nodes.Add(right);
            children.Add(left);
            children.Add(right);
            var parentHist = hists[p];
            hists.Remove(p);
            var leftSplits = CanSplit(left);
            var rightSplits = CanSplit(right);
            if (!leftSplits && !rightSplits)
            {
                _pool.Return(parentHist);
                continue;
            }

            var (small, large) = left.Count <= right.Count ? (left, right) : (right, left);
            var smallHist = _pool.Rent();
            builds.Add((small, smallHist));
            subtractions.Add((parentHist, smallHist));
            hists[small] = smallHist;
            hists[large] = parentHist;
            if (leftSplits)
            {
                searchable.Add(left);
            }

            if (rightSplits)
            {
                searchable.Add(right);
            }
        }

        BuildHistograms(builds);
        var subtractStarted = Stopwatch.GetTimestamp();
        var total = 2 * _data.TotalBins;
        const int Slice = 8192;
        var slices = (total + Slice - 1) / Slice;
        Parallelism.For(subtractions.Count * slices, _threads, t =>
        {
            var (parent, small) = subtractions[t / slices];
            var start = t % slices * Slice;
            Histograms.Subtract(parent, small, start, Math.Min(Slice, total - start));
        });
        Timings.Subtraction += Stopwatch.GetElapsedTime(subtractStarted).TotalSeconds;

        foreach (var c in children)
        {
            if (!searchable.Contains(c) && hists.Remove(c, out var h))
            {
                _pool.Return(h);
            }
        }

        if (searchable.Count > 0)
        {
            FindSplits(searchable, hists);
        }

        return children;
    }

    /// <summary>
    /// Builds histograms in tasks of (node, row chunk, feature block). A big node's rows are cut into chunks whose number
    /// depends only on the node's size, each summed into its own histogram and then added up in chunk order, so the
    /// floating-point result never depends on the thread count. Feature blocks (which change no sum) are used only when
    /// a node has too few chunks to keep the threads busy: each block pays the per-row overhead once more.
    /// </summary>
    private void BuildHistograms(List<(GrownNode Node, double[] Hist)> builds)
    {
        var started = Stopwatch.GetTimestamp();
        var features = _data.FeatureCount;
        var tasks = new List<(int Build, int Chunk, int Chunks, int F0, int F1)>();
        var partial = new long[builds.Count][][];
        var allChunks = builds.Sum(b => ChunksOf(b.Node.Count));
        for (var i = 0; i < builds.Count; i++)
        {
            var chunks = ChunksOf(builds[i].Node.Count);
            var blocks = allChunks >= 4 * _threads ? 1 : Math.Clamp(_threads, 1, features);
            partial[i] = new long[chunks][];
            for (var c = 0; c < chunks; c++)
            {
                partial[i][c] = _chunkPool.Rent();
                for (var b = 0; b < blocks; b++)
                {
                    tasks.Add((i, c, chunks, features * b / blocks, features * (b + 1) / blocks));
                }
            }
        }

        Parallelism.For(tasks.Count, _threads, t =>
        {
            var (i, c, chunks, f0, f1) = tasks[t];
            var node = builds[i].Node;
            var first = (int)((long)node.Count * c / chunks);
            var count = (int)((long)node.Count * (c + 1) / chunks) - first;
            var rows = _identity ? ReadOnlySpan<int>.Empty : _rows.AsSpan(node.Start + first, count);
            Histograms.Build(rows, node.Start + first, count, _data, f0, f1, _packed, partial[i][c]);
        });
        const int Slice = 4096;
        var total = _data.TotalBins;
        var slices = (total + Slice - 1) / Slice;
        Parallelism.For(builds.Count * slices, _threads, m =>
        {
            var i = m / slices;
            var start = m % slices * Slice;
            Histograms.Merge(partial[i], start, Math.Min(Slice, total - start), builds[i].Hist);
        });
        for (var i = 0; i < builds.Count; i++)
        {
            foreach (var chunk in partial[i])
            {
                _chunkPool.Return(chunk);
            }

            Timings.HistogramRows += builds[i].Node.Count;
        }

        Timings.Histograms += Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    /// <summary>
    /// Row chunks of a histogram build: a function of the row count alone, no chunk over <see cref="Histograms.MaxChunkRows"/>
    /// rows (so no packed sum overflows), and enough of them on big nodes to keep the threads busy.
    /// </summary>
    private static int ChunksOf(int rows) =>
        Math.Max(1, Math.Max((rows + Histograms.MaxChunkRows - 1) / Histograms.MaxChunkRows, Math.Min(16, rows / (1 << 15))));

    /// <summary>Finds each node's best split over its sampled features; ties go to the lower feature, then the lower bin.</summary>
    private void FindSplits(List<GrownNode> nodes, Dictionary<GrownNode, double[]> hists)
    {
        var started = Stopwatch.GetTimestamp();
        var features = _data.FeatureCount;
        var allowed = new bool[nodes.Count][];
        for (var i = 0; i < nodes.Count; i++)
        {
            allowed[i] = NodeFeatures(nodes[i]);
        }

        // Tasks of (node, block of features): a feature's search is a few microseconds, too little to schedule alone.
        // Each block keeps its best in feature order and the blocks are compared in order, so ties go to the lower feature.
        const int Block = 8;
        var blocks = (features + Block - 1) / Block;
        var results = new SplitInfo[nodes.Count * blocks];
        Parallelism.For(nodes.Count * blocks, _threads, t =>
        {
            var i = t / blocks;
            var n = nodes[i];
            var hist = hists[n];
            ref var best = ref results[t];
            best = SplitInfo.None;
            Span<double> scaled = stackalloc double[2 * BinnedMatrix.BinStride];
            var end = Math.Min(features, ((t % blocks) + 1) * Block);
            for (var f = t % blocks * Block; f < end; f++)
            {
                if (allowed[i][f])
                {
                    // From quantization units to gradients and hessians.
                    var bins = _data.Features[f];
                    var source = hist.AsSpan(2 * _data.Offsets[f], 2 * bins.BinCount);
                    for (var k = 0; k < source.Length; k += 2)
                    {
                        scaled[k] = source[k] * _gradientUnit;
                        scaled[k + 1] = source[k + 1] * _hessianUnit;
                    }

                    SplitFinder.Search(scaled[..source.Length], bins, f, n.G, n.H, n.Count, _params, ref best);
                }
            }
        });
        for (var i = 0; i < nodes.Count; i++)
        {
            var best = SplitInfo.None;
            for (var b = 0; b < blocks; b++)
            {
                ref var r = ref results[(i * blocks) + b];
                if (r.IsValid && r.Gain > best.Gain)
                {
                    best = r;
                }
            }

            nodes[i].Split = best;
        }

        Timings.Splits += Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    /// <summary>The tree's features, thinned per level and per node when colsample_bylevel / bynode ask for it.</summary>
    private bool[] NodeFeatures(GrownNode node)
    {
        var set = _treeFeatures;
        if (_options.ColsampleByLevel < 1)
        {
            set = Sample(set, _options.ColsampleByLevel, SplitMix64.Mix(_treeSeed, 0x1E7E1UL + (ulong)node.Depth));
        }

        if (_options.ColsampleByNode < 1)
        {
            set = Sample(set, _options.ColsampleByNode, SplitMix64.Mix(_treeSeed, 0x40DEUL + ((ulong)node.Id << 8)));
        }

        return set;
    }

    /// <summary>A random subset (at least one) of the features set in <paramref name="from"/>.</summary>
    public static bool[] Sample(bool[] from, double fraction, ulong seed)
    {
        var candidates = new List<int>();
        for (var f = 0; f < from.Length; f++)
        {
            if (from[f])
            {
                candidates.Add(f);
            }
        }

        var k = Math.Max(1, (int)Math.Round(candidates.Count * fraction));
        var state = seed;
        for (var i = 0; i < k && i < candidates.Count - 1; i++)
        {
            var j = i + (int)(SplitMix64.Next(ref state) % (ulong)(candidates.Count - i));
            (candidates[i], candidates[j]) = (candidates[j], candidates[i]);
        }

        var result = new bool[from.Length];
        for (var i = 0; i < k && i < candidates.Count; i++)
        {
            result[candidates[i]] = true;
        }

        return result;
    }

    /// <summary>
    /// Stable partition of each parent's rows by its split: chunks partition locally (left rows to the scratch array,
    /// right rows compacted in place), then every chunk's pieces are copied to their final places. Returns the left counts.
    /// </summary>
    private int[] Partition(List<GrownNode> parents)
    {
        var started = Stopwatch.GetTimestamp();
        var chunkStart = new int[parents.Count + 1];
        for (var i = 0; i < parents.Count; i++)
        {
            chunkStart[i + 1] = chunkStart[i] + Math.Max(1, (parents[i].Count + PartitionChunk - 1) / PartitionChunk);
        }

        var chunks = chunkStart[^1];
        var owner = new int[chunks];
        for (var i = 0; i < parents.Count; i++)
        {
            owner.AsSpan(chunkStart[i], chunkStart[i + 1] - chunkStart[i]).Fill(i);
        }

        var goLeft = new byte[parents.Count * 256];
        for (var i = 0; i < parents.Count; i++)
        {
            for (var b = 0; b < 256; b++)
            {
                goLeft[(i * 256) + b] = parents[i].Split.LeftBins.Contains(b) ? (byte)1 : (byte)0;
            }
        }

        var lefts = new int[chunks];
        Parallelism.For(chunks, _threads, c =>
        {
            var i = owner[c];
            var p = parents[i];
            var start = p.Start + ((c - chunkStart[i]) * PartitionChunk);
            var end = Math.Min(p.Start + p.Count, start + PartitionChunk);
            lefts[c] = PartitionChunkRows(start, end, p.Split.Feature, goLeft.AsSpan(i * 256, 256));
        });
        var leftCounts = new int[parents.Count];
        var leftBefore = new int[chunks];
        var rightBefore = new int[chunks];
        for (var i = 0; i < parents.Count; i++)
        {
            int l = 0, r = 0;
            for (var c = chunkStart[i]; c < chunkStart[i + 1]; c++)
            {
                var size = Math.Min(PartitionChunk, parents[i].Count - ((c - chunkStart[i]) * PartitionChunk));
                leftBefore[c] = l;
                rightBefore[c] = r;
                l += lefts[c];
                r += size - lefts[c];
            }

            leftCounts[i] = l;
        }

        Parallelism.For(chunks, _threads, c =>
        {
            var i = owner[c];
            var p = parents[i];
            var start = p.Start + ((c - chunkStart[i]) * PartitionChunk);
            var size = Math.Min(PartitionChunk, p.Count - ((c - chunkStart[i]) * PartitionChunk));
            var nl = lefts[c];
            _scratch.AsSpan(start, nl).CopyTo(_rows.AsSpan(p.Start + leftBefore[c], nl));
            _scratch.AsSpan(start + nl, size - nl).CopyTo(_rows.AsSpan(p.Start + leftCounts[i] + rightBefore[c], size - nl));
        });
        Timings.Partition += Stopwatch.GetElapsedTime(started).TotalSeconds;
        return leftCounts;
    }

    /// <summary>Left rows of [start, end) to the scratch array from start, right rows after them; returns the left count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe int PartitionChunkRows(int start, int end, int feature, ReadOnlySpan<byte> goLeft)
    {
        ref var bins = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_data.Columns), (nint)feature * _data.Rows);
        ref var table = ref MemoryMarshal.GetReference(goLeft);
        var rows = _rows;
        var scratch = _scratch;
        ref var rowBase = ref MemoryMarshal.GetArrayDataReference(rows);
        ref var scratchBase = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scratch), start);
        int nl = 0, nr = 0;
        const int Ahead = 32;
        var prefetch = Sse.IsSupported && end - start > 1 && (long)4 * (end - start) < (long)rows[end - 1] - rows[start];
        for (var i = start; i < end; i++)
        {
            if (prefetch && i + Ahead < end)
            {
                // Scattered rows deep in the tree: start fetching a later row's bin while this one is tested.
                Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref bins, Unsafe.Add(ref rowBase, i + Ahead))));
            }

            // Branch-free: the side is a coin flip to the predictor. The row is written to both places and only the
            // chosen side's cursor moves; right rows compact in place (the write position never passes the read one).
            var r = Unsafe.Add(ref rowBase, i);
            int left = Unsafe.Add(ref table, Unsafe.Add(ref bins, r));
            Unsafe.Add(ref scratchBase, nl) = r;
            Unsafe.Add(ref rowBase, start + nr) = r;
            nl += left;
            nr += 1 - left;
        }

        rows.AsSpan(start, nr).CopyTo(scratch.AsSpan(start + nl, nr));
        return nl;
    }
}
