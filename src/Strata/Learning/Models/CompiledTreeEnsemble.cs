using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Strata.Learning;

/// <summary>
/// A tree ensemble laid out for prediction. It gives the same margins as <see cref="TreeEnsemble.PredictRow"/>, bit
/// for bit: trees are summed in the same order, in double precision.
/// </summary>
/// <remarks>
/// <para>Layout. A tree of depth D ≤ <see cref="MaxPerfectDepth"/> is padded to a perfect binary tree: its 2^D − 1 split
/// nodes sit in breadth-first order, so a node's children are at 2i+1 and 2i+2 and a walk is exactly D steps of
/// <c>i = 2i + 1 + (value ≥ threshold)</c> with no leaf test and no child pointers. A leaf above depth D becomes a split
/// that always goes left (threshold NaN) over copies of its value.</para>
/// <para>Missing values. Each row is widened to 2F values: the F features as given, then the same with NaN replaced by
/// +∞. A split whose missing values go left reads the first copy (NaN ≥ t is false: left), one whose missing values go
/// right reads the second (+∞ ≥ t is true: right), so every numeric split is one comparison.</para>
/// <para>Batches run blocks of up to 128 rows in parallel. A block is widened column by column, and each
/// tree walks eight of its rows at a time with their step indices in registers, so the eight chains of loads overlap
/// and no step index goes through memory. A single row walks eight trees of the same depth at a time the same way;
/// their leaf values are summed afterwards in the ensemble's order. Trees with categorical splits use the perfect
/// layout with a membership test on those nodes; deeper trees keep explicit child pointers.</para>
/// </remarks>
[SkipLocalsInit]
public sealed class CompiledTreeEnsemble
{
    /// <summary>Deepest tree laid out as a perfect tree (deeper ones keep child pointers).</summary>
    public const int MaxPerfectDepth = 8;

    /// <summary>Most rows per block in batch prediction.</summary>
    internal const int MaxBlockRows = 128;

    // A block's widened columns should stay in the first-level cache: 16 Ki floats, fewer rows for wide models.
    private const int BlockFloats = 16 * 1024;

    private const byte PerfectNumeric = 0;
    private const byte PerfectCategorical = 1;
    private const byte Pointer = 2;

    private readonly int _featureCount;
    private readonly int _outputCount;
    private readonly int _blockRows;
    private readonly double[] _baseMargins;

    // Per tree, in the ensemble's order.
    private readonly byte[] _treeKind;
    private readonly int[] _treeOutput;
    private readonly int[] _treeDepth;
    private readonly int[] _treeNode;
    private readonly int[] _treeLeaf;

    // Perfect trees: split nodes (column in the widened row, or ~index of a categorical split) and leaves.
    private readonly int[] _column;
    private readonly int[] _offset;
    private readonly float[] _threshold;
    private readonly double[] _leaf;

    // Pointer trees: nodes with explicit children (Left < 0 marks a leaf whose value is in _pointerValue).
    private readonly PointerNode[] _pointer;
    private readonly double[] _pointerValue;

    // The single-row path: perfect numeric trees grouped by depth, and every other tree.
    private readonly DepthGroup[] _byDepth;
    private readonly int[] _otherTrees;

    // Categorical splits of either layout, and their bit sets.
    private readonly CategorySplit[] _categorical;
    private readonly uint[] _categoryBits;

    private CompiledTreeEnsemble(Builder builder, TreeEnsemble ensemble)
    {
        _featureCount = ensemble.FeatureCount;
        _outputCount = ensemble.OutputCount;
        _baseMargins = (double[])ensemble.BaseMargins.Clone();
        _treeKind = builder.TreeKind;
        _treeOutput = (int[])ensemble.TreeOutputs.Clone();
        _treeDepth = builder.TreeDepth;
        _treeNode = builder.TreeNode;
        _treeLeaf = builder.TreeLeaf;
        _column = [.. builder.Column];
        _threshold = [.. builder.Threshold];
        _leaf = [.. builder.Leaf];

        // Batch blocks hold widened column c at c · block rows; categorical splits (column < 0) never use an offset.
        _blockRows = Math.Clamp(BlockFloats / Math.Max(1, 2 * _featureCount) / 8 * 8, 8, MaxBlockRows);
        _offset = [.. _column.Select(c => checked(Math.Max(c, 0) * _blockRows))];
        _byDepth = [.. Enumerable.Range(0, _treeKind.Length).Where(t => _treeKind[t] == PerfectNumeric)
            .GroupBy(t => _treeDepth[t]).Select(g => Group(g.Key, [.. g]))];
        _otherTrees = [.. Enumerable.Range(0, _treeKind.Length).Where(t => _treeKind[t] != PerfectNumeric)];
        _pointer = [.. builder.Nodes];
        _pointerValue = [.. builder.PointerValue];
        _categorical = [.. builder.Categorical];
        _categoryBits = (uint[])ensemble.CategoryBits.Clone();
    }

    /// <summary>Number of input features a row has.</summary>
    public int FeatureCount => _featureCount;

    /// <summary>Margins per row.</summary>
    public int OutputCount => _outputCount;

    /// <summary>Compiles a (validated) ensemble. The result does not share arrays with it.</summary>
    public static CompiledTreeEnsemble Compile(TreeEnsemble ensemble)
    {
        ArgumentNullException.ThrowIfNull(ensemble);
        return new CompiledTreeEnsemble(new Builder(ensemble), ensemble);
    }

    /// <summary>
    /// One row's margins; allocates nothing. <paramref name="row"/> holds every feature's value (NaN = missing, a
    /// category's code as a number); <paramref name="margins"/> receives <see cref="OutputCount"/> values.
    /// </summary>
    public void PredictMargins(ReadOnlySpan<float> row, Span<double> margins)
    {
        if (row.Length != _featureCount)
        {
            throw new ArgumentException($"the row has {row.Length} values, the model reads {_featureCount}", nameof(row));
        }

        if (margins.Length < _outputCount)
        {
            throw new ArgumentException($"room for {margins.Length} margins, the model gives {_outputCount}", nameof(margins));
        }

        var width = 2 * _featureCount;
        var trees = _treeKind.Length;
        float[]? rentedRow = null;
        double[]? rentedValues = null;

        // Both buffers are written in full before they are read, so they skip zeroing ([SkipLocalsInit]).
        var wide = width <= 256 ? stackalloc float[width] : (rentedRow = ArrayPool<float>.Shared.Rent(width));
        var values = trees <= 512 ? stackalloc double[trees] : (rentedValues = ArrayPool<double>.Shared.Rent(trees));
        Widen(row, wide);
        TreeValues(wide, values);

        // Sums in tree order, as the reference does, so the result is bit-identical; one output sums in a register
        // rather than through memory (each addition waits for the one before).
        if (_outputCount == 1)
        {
            var sum = _baseMargins[0];
            foreach (var v in values[..trees])
            {
                sum += v;
            }

            margins[0] = sum;
        }
        else
        {
            _baseMargins.CopyTo(margins);
            for (var t = 0; t < trees; t++)
            {
                margins[_treeOutput[t]] += values[t];
            }
        }

        if (rentedRow is not null)
        {
            ArrayPool<float>.Shared.Return(rentedRow);
        }

        if (rentedValues is not null)
        {
            ArrayPool<double>.Shared.Return(rentedValues);
        }
    }

    /// <summary>
    /// Margins for every row, row-major (<c>margins[row * OutputCount + k]</c>). Row blocks run in parallel on up to
    /// <paramref name="maxDegreeOfParallelism"/> threads (−1: all processors); the result does not depend on it.
    /// </summary>
    public void PredictMargins(FeatureMatrix features, Span<double> margins, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Count != _featureCount)
        {
            throw new ArgumentException($"the matrix has {features.Count} features, the model reads {_featureCount}", nameof(features));
        }

        var rows = features.Rows;
        var needed = (long)rows * _outputCount;
        if (margins.Length < needed)
        {
            throw new ArgumentException($"room for {margins.Length} margins, {rows} rows need {needed}", nameof(margins));
        }

        var blocks = (rows + _blockRows - 1) / _blockRows;
        var threads = maxDegreeOfParallelism < 0 ? Environment.ProcessorCount : Math.Max(1, maxDegreeOfParallelism);
        if (blocks <= 1 || threads == 1)
        {
            var scratch = new Scratch(this);
            for (var b = 0; b < blocks; b++)
            {
                var start = b * _blockRows;
                var count = Math.Min(_blockRows, rows - start);
                PredictBlock(features, start, count, scratch, margins.Slice(start * _outputCount, count * _outputCount));
            }

            return;
        }

        // Spans cannot cross threads: blocks write into one array that is copied out once (a few bytes per row).
        var result = GC.AllocateUninitializedArray<double>((int)needed);
        Parallel.For(
            0,
            blocks,
            new ParallelOptions { MaxDegreeOfParallelism = threads },
            () => new Scratch(this),
            (b, _, scratch) =>
            {
                var start = b * _blockRows;
                var count = Math.Min(_blockRows, rows - start);
                PredictBlock(features, start, count, scratch, result.AsSpan(start * _outputCount, count * _outputCount));
                return scratch;
            },
            _ => { });
        result.CopyTo(margins);
    }

    /// <summary>One block: its rows widened into columns (column c of row r at c · block rows + r), then tree by tree.</summary>
    private void PredictBlock(FeatureMatrix features, int start, int count, Scratch scratch, Span<double> margins)
    {
        var block = scratch.Columns;
        for (var f = 0; f < _featureCount; f++)
        {
            var raw = block.AsSpan(f * _blockRows, count);
            var filled = block.AsSpan((_featureCount + f) * _blockRows, count);
            if (features.Inputs[f].Kind == FeatureKind.Categorical)
            {
                var codes = features.Codes(f).Slice(start, count);
                for (var r = 0; r < count; r++)
                {
                    raw[r] = codes[r] < 0 ? float.NaN : codes[r];
                    filled[r] = codes[r] < 0 ? float.PositiveInfinity : codes[r];
                }
            }
            else
            {
                var values = features.Numeric(f).Slice(start, count);
                values.CopyTo(raw);
                for (var r = 0; r < count; r++)
                {
                    filled[r] = float.IsNaN(values[r]) ? float.PositiveInfinity : values[r];
                }
            }
        }

        for (var r = 0; r < count; r++)
        {
            _baseMargins.CopyTo(margins.Slice(r * _outputCount, _outputCount));
        }

        for (var t = 0; t < _treeKind.Length; t++)
        {
            if (_treeKind[t] == PerfectNumeric)
            {
                WalkNumeric(t, block, count, margins);
            }
            else
            {
                var output = _treeOutput[t];
                for (var r = 0; r < count; r++)
                {
                    margins[(r * _outputCount) + output] += Walk(t, new Row(block, r, _blockRows));
                }
            }
        }
    }

    /// <summary>
    /// Walks the rows of a block down a perfect tree without categorical splits and adds their leaves. Eight rows go
    /// down together, their step indices in registers, so their loads overlap.
    /// </summary>
    private void WalkNumeric(int tree, float[] block, int count, Span<double> margins)
    {
        var depth = _treeDepth[tree];
        var output = _treeOutput[tree];
        var k = _outputCount;

        // NOTE: every offset is a widened column times the block rows (< 2F · block rows), every step index stays below the
        // tree's 2^depth − 1 split nodes and every leaf index below its 2^depth leaves, all by construction in Builder;
        // so the reads below skip bounds checks.
        ref var offset = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_offset), _treeNode[tree]);
        ref var threshold = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_threshold), _treeNode[tree]);
        ref var leaf = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_leaf), _treeLeaf[tree] - ((1 << depth) - 1));
        ref var columns = ref MemoryMarshal.GetArrayDataReference(block);
        var r0 = 0;
        for (; r0 + 8 <= count; r0 += 8)
        {
            ref var v = ref Unsafe.Add(ref columns, r0);
            nint i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
            for (var level = 0; level < depth; level++)
            {
                // Widening the offset before adding the lane lets the lane become part of the load's address.
                i0 = (2 * i0) + 1 + Right(Unsafe.Add(ref v, Unsafe.Add(ref offset, i0)), Unsafe.Add(ref threshold, i0));
                i1 = (2 * i1) + 1 + Right(Unsafe.Add(ref v, (nint)Unsafe.Add(ref offset, i1) + 1), Unsafe.Add(ref threshold, i1));
                i2 = (2 * i2) + 1 + Right(Unsafe.Add(ref v, (nint)Unsafe.Add(ref offset, i2) + 2), Unsafe.Add(ref threshold, i2));
                i3 = (2 * i3) + 1 + Right(Unsafe.Add(ref v, (nint)Unsafe.Add(ref offset, i3) + 3), Unsafe.Add(ref threshold, i3));
                i4 = (2 * i4) + 1 + Right(Unsafe.Add(ref v, (nint)Unsafe.Add(ref offset, i4) + 4), Unsafe.Add(ref threshold, i4));
                i5 = (2 * i5) + 1 + Right(Unsafe.Add(ref v, (nint)Unsafe.Add(ref offset, i5) + 5), Unsafe.Add(ref threshold, i5));
                i6 = (2 * i6) + 1 + Right(Unsafe.Add(ref v, (nint)Unsafe.Add(ref offset, i6) + 6), Unsafe.Add(ref threshold, i6));
                i7 = (2 * i7) + 1 + Right(Unsafe.Add(ref v, (nint)Unsafe.Add(ref offset, i7) + 7), Unsafe.Add(ref threshold, i7));
            }

            var m = (r0 * k) + output;
            margins[m] += Unsafe.Add(ref leaf, i0);
            margins[m + k] += Unsafe.Add(ref leaf, i1);
            margins[m + (2 * k)] += Unsafe.Add(ref leaf, i2);
            margins[m + (3 * k)] += Unsafe.Add(ref leaf, i3);
            margins[m + (4 * k)] += Unsafe.Add(ref leaf, i4);
            margins[m + (5 * k)] += Unsafe.Add(ref leaf, i5);
            margins[m + (6 * k)] += Unsafe.Add(ref leaf, i6);
            margins[m + (7 * k)] += Unsafe.Add(ref leaf, i7);
        }

        for (; r0 < count; r0++)
        {
            ref var v = ref Unsafe.Add(ref columns, r0);
            nint i = 0;
            for (var level = 0; level < depth; level++)
            {
                i = (2 * i) + 1 + Right(Unsafe.Add(ref v, Unsafe.Add(ref offset, i)), Unsafe.Add(ref threshold, i));
            }

            margins[(r0 * k) + output] += Unsafe.Add(ref leaf, i);
        }
    }

    /// <summary>Each tree's leaf value for one widened row.</summary>
    private void TreeValues(ReadOnlySpan<float> wide, Span<double> values)
    {
        foreach (var group in _byDepth)
        {
            Walk(group, wide, values);
        }

        foreach (var t in _otherTrees)
        {
            values[t] = Walk(t, new Row(wide));
        }
    }

    /// <summary>
    /// The leaf values of a group's trees. Tree j has its split nodes at [j·S, j·S + S − 1) and its leaves at
    /// [j·S, j·S + S), S = 2^depth, so a step index g carries its tree (g &amp; ~low) and its place (g &amp; low) at once:
    /// the next one is g + (g &amp; low) + 1 + right, and after the last level g − low is the leaf. Eight trees walk
    /// together with their indices in registers, so their loads overlap.
    /// </summary>
    private static void Walk(DepthGroup group, ReadOnlySpan<float> wide, Span<double> values)
    {
        // NOTE: every index stays within the group's arrays and every column within the row, by construction in Builder.
        var stepper = new Stepper(group.Nodes, wide);
        var depth = group.Depth;
        nint low = (1 << depth) - 1;
        nint stride = 1 << depth;
        ref var leaves = ref MemoryMarshal.GetArrayDataReference(group.Leaves);
        var trees = group.Trees;
        var t = 0;
        for (; t + 8 <= trees.Length; t += 8)
        {
            var g0 = t * stride;
            nint g1 = g0 + stride, g2 = g1 + stride, g3 = g2 + stride, g4 = g3 + stride, g5 = g4 + stride, g6 = g5 + stride, g7 = g6 + stride;
            for (var level = 0; level < depth; level++)
            {
                g0 = stepper.Step(g0, low);
                g1 = stepper.Step(g1, low);
                g2 = stepper.Step(g2, low);
                g3 = stepper.Step(g3, low);
                g4 = stepper.Step(g4, low);
                g5 = stepper.Step(g5, low);
                g6 = stepper.Step(g6, low);
                g7 = stepper.Step(g7, low);
            }

            values[trees[t]] = Unsafe.Add(ref leaves, g0 - low);
            values[trees[t + 1]] = Unsafe.Add(ref leaves, g1 - low);
            values[trees[t + 2]] = Unsafe.Add(ref leaves, g2 - low);
            values[trees[t + 3]] = Unsafe.Add(ref leaves, g3 - low);
            values[trees[t + 4]] = Unsafe.Add(ref leaves, g4 - low);
            values[trees[t + 5]] = Unsafe.Add(ref leaves, g5 - low);
            values[trees[t + 6]] = Unsafe.Add(ref leaves, g6 - low);
            values[trees[t + 7]] = Unsafe.Add(ref leaves, g7 - low);
        }

        for (; t < trees.Length; t++)
        {
            var g = t * stride;
            for (var level = 0; level < depth; level++)
            {
                g = stepper.Step(g, low);
            }

            values[trees[t]] = Unsafe.Add(ref leaves, g - low);
        }
    }

    /// <summary>One step down a perfect tree of a group: the next step index.</summary>
    private readonly ref struct Stepper(SplitNode[] nodes, ReadOnlySpan<float> row)
    {
        private readonly ref SplitNode _nodes = ref MemoryMarshal.GetArrayDataReference(nodes);
        private readonly ref float _row = ref MemoryMarshal.GetReference(row);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public nint Step(nint g, nint low)
        {
            ref var node = ref Unsafe.Add(ref _nodes, g);
            return g + (g & low) + 1 + Right(Unsafe.Add(ref _row, node.Column), node.Threshold);
        }
    }

    /// <summary>A tree with categorical splits or child pointers, one row at a time.</summary>
    private double Walk(int tree, Row row)
    {
        if (_treeKind[tree] == Pointer)
        {
            var node = _treeNode[tree];
            while (true)
            {
                var n = _pointer[node];
                if (n.Left < 0)
                {
                    return _pointerValue[node];
                }

                node = GoesRight(n.Column, n.Threshold, row) != 0 ? n.Right : n.Left;
            }
        }

        var nodes = _treeNode[tree];
        var i = 0;
        for (var level = 0; level < _treeDepth[tree]; level++)
        {
            i = (2 * i) + 1 + GoesRight(_column[nodes + i], _threshold[nodes + i], row);
        }

        return _leaf[_treeLeaf[tree] - ((1 << _treeDepth[tree]) - 1) + i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int GoesRight(int column, float threshold, Row row) =>
        column >= 0 ? Right(row[column], threshold) : CategoricalGoesRight(~column, row);

    /// <summary>1 when a value goes right at a numeric split, else 0, without a branch (the outcome is a coin toss to a predictor).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Right(float value, float threshold) => Unsafe.BitCast<bool, byte>(value >= threshold);

    /// <summary>The reference's categorical rule (<see cref="TreeEnsemble.Next"/>): 0 for left, 1 for right.</summary>
    private int CategoricalGoesRight(int index, Row row)
    {
        var split = _categorical[index];
        var value = row[split.Feature];
        if (float.IsNaN(value) || !(value >= 0 && value < int.MaxValue) || value != MathF.Floor(value))
        {
            return split.MissingLeft ? 0 : 1;
        }

        var code = (int)value;
        var inSet = (code >> 5) < split.Length && (_categoryBits[split.Start + (code >> 5)] & (1u << (code & 31))) != 0;
        return inSet ? 0 : 1;
    }

    private static void Widen(ReadOnlySpan<float> row, Span<float> wide)
    {
        var n = row.Length;
        for (var f = 0; f < n; f++)
        {
            var v = row[f];
            wide[f] = v;
            wide[n + f] = float.IsNaN(v) ? float.PositiveInfinity : v;
        }
    }

    /// <summary>One widened row: a span (single-row path) or a column of a block (value c at c · stride).</summary>
    private readonly ref struct Row
    {
        private readonly ReadOnlySpan<float> _values;
        private readonly int _stride;

        public Row(ReadOnlySpan<float> wide)
        {
            _values = wide;
            _stride = 1;
        }

        public Row(float[] block, int row, int stride)
        {
            _values = block.AsSpan(row);
            _stride = stride;
        }

        public float this[int column] => _values[column * _stride];
    }

    private readonly record struct SplitNode(int Column, float Threshold);

    /// <summary>
    /// Perfect numeric trees of one depth for the single-row path: their indices, and their split nodes (as column and
    /// threshold, one load) and leaves, each tree in a slot of 2^depth.
    /// </summary>
    private sealed record DepthGroup(int Depth, int[] Trees, SplitNode[] Nodes, double[] Leaves);

    private DepthGroup Group(int depth, int[] trees)
    {
        var stride = 1 << depth;
        var nodes = new SplitNode[trees.Length * stride];
        var leaves = new double[trees.Length * stride];
        for (var j = 0; j < trees.Length; j++)
        {
            for (var i = 0; i < stride - 1; i++)
            {
                var n = _treeNode[trees[j]] + i;
                nodes[(j * stride) + i] = new SplitNode(_column[n], _threshold[n]);
            }

            _leaf.AsSpan(_treeLeaf[trees[j]], stride).CopyTo(leaves.AsSpan(j * stride));
        }

        return new DepthGroup(depth, trees, nodes, leaves);
    }

    private readonly record struct PointerNode(int Column, float Threshold, int Left, int Right);

    private readonly record struct CategorySplit(int Feature, int Start, int Length, bool MissingLeft);

    /// <summary>Per-thread buffers of the batch path.</summary>
    private sealed class Scratch(CompiledTreeEnsemble model)
    {
        public float[] Columns { get; } = new float[model._blockRows * 2 * Math.Max(1, model._featureCount)];
    }

    /// <summary>Lays out an ensemble's trees; only reads arrays that <see cref="TreeEnsemble.Validate"/> has checked.</summary>
    private sealed class Builder
    {
        private readonly TreeEnsemble _ensemble;

        public Builder(TreeEnsemble ensemble)
        {
            _ensemble = ensemble;
            var trees = ensemble.TreeCount;
            TreeKind = new byte[trees];
            TreeDepth = new int[trees];
            TreeNode = new int[trees];
            TreeLeaf = new int[trees];
            var height = Heights(ensemble);
            for (var t = 0; t < trees; t++)
            {
                var root = ensemble.TreeStarts[t];
                var depth = height[root];
                if (depth <= MaxPerfectDepth)
                {
                    LayOutPerfect(t, root, depth);
                }
                else
                {
                    LayOutPointer(t, root, ensemble.TreeStarts[t + 1]);
                }
            }
        }

        public byte[] TreeKind { get; }

        public int[] TreeDepth { get; }

        public int[] TreeNode { get; }

        public int[] TreeLeaf { get; }

        public List<int> Column { get; } = [];

        public List<float> Threshold { get; } = [];

        public List<double> Leaf { get; } = [];

        public List<PointerNode> Nodes { get; } = [];

        public List<double> PointerValue { get; } = [];

        public List<CategorySplit> Categorical { get; } = [];

        /// <summary>Longest path below each node; children follow parents, so one backward pass suffices.</summary>
        private static int[] Heights(TreeEnsemble e)
        {
            var height = new int[e.NodeCount];
            for (var n = e.NodeCount - 1; n >= 0; n--)
            {
                height[n] = e.IsLeaf(n) ? 0 : 1 + Math.Max(height[e.LeftChild[n]], height[e.RightChild[n]]);
            }

            return height;
        }

        private void LayOutPerfect(int tree, int root, int depth)
        {
            var splits = (1 << depth) - 1;
            var at = new int[(2 * splits) + 1];
            at[0] = root;
            TreeDepth[tree] = depth;
            TreeNode[tree] = Column.Count;
            TreeLeaf[tree] = Leaf.Count;
            var categorical = false;
            for (var p = 0; p < splits; p++)
            {
                var n = at[p];
                if (_ensemble.IsLeaf(n))
                {
                    // A leaf above the last level: a split that always goes left (NaN ≥ anything is false) onto itself.
                    Column.Add(0);
                    Threshold.Add(float.NaN);
                    at[(2 * p) + 1] = n;
                    at[(2 * p) + 2] = n;
                    continue;
                }

                Column.Add(ColumnOf(n, ref categorical));
                Threshold.Add(_ensemble.Threshold[n]);
                at[(2 * p) + 1] = _ensemble.LeftChild[n];
                at[(2 * p) + 2] = _ensemble.RightChild[n];
            }

            for (var p = splits; p < at.Length; p++)
            {
                // Depth is the longest path from the root, so whatever sits at the last level is a leaf.
                Leaf.Add(_ensemble.LeafValue[at[p]]);
            }

            TreeKind[tree] = categorical ? PerfectCategorical : PerfectNumeric;
        }

        private void LayOutPointer(int tree, int start, int end)
        {
            TreeKind[tree] = Pointer;
            TreeNode[tree] = Nodes.Count;
            var offset = Nodes.Count - start;
            var categorical = false;
            for (var n = start; n < end; n++)
            {
                if (_ensemble.IsLeaf(n))
                {
                    Nodes.Add(new PointerNode(0, 0, -1, -1));
                    PointerValue.Add(_ensemble.LeafValue[n]);
                }
                else
                {
                    Nodes.Add(new PointerNode(ColumnOf(n, ref categorical), _ensemble.Threshold[n], _ensemble.LeftChild[n] + offset, _ensemble.RightChild[n] + offset));
                    PointerValue.Add(0);
                }
            }
        }

        /// <summary>The widened-row column a numeric split reads, or ~index of a categorical split.</summary>
        private int ColumnOf(int node, ref bool categorical)
        {
            var feature = _ensemble.SplitFeature[node];
            var missingLeft = (_ensemble.Flags[node] & TreeEnsemble.MissingLeft) != 0;
            if ((_ensemble.Flags[node] & TreeEnsemble.Categorical) != 0)
            {
                categorical = true;
                Categorical.Add(new CategorySplit(feature, _ensemble.CategoryStart[node], _ensemble.CategoryLength[node], missingLeft));
                return ~(Categorical.Count - 1);
            }

            return missingLeft ? feature : _ensemble.FeatureCount + feature;
        }
    }
}
