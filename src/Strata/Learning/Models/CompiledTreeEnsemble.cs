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
/// <para>Batches run row blocks in parallel; each block walks one tree at a time over all its rows, level by level,
/// which gives the processor many independent loads to overlap. A single row walks many trees level by level for the
/// same reason. Trees with categorical splits use the same layout with a membership test on those nodes; deeper
/// trees keep explicit child pointers.</para>
/// </remarks>
public sealed class CompiledTreeEnsemble
{
    /// <summary>Deepest tree laid out as a perfect tree (deeper ones keep child pointers).</summary>
    public const int MaxPerfectDepth = 8;

    /// <summary>Rows per block in batch prediction (a block's widened rows stay in the first-level cache).</summary>
    internal const int BlockRows = 128;

    // Trees walked together by the single-row path; their step indices live on the stack.
    private const int TreeChunk = 64;

    private const byte PerfectNumeric = 0;
    private const byte PerfectCategorical = 1;
    private const byte Pointer = 2;

    private readonly int _featureCount;
    private readonly int _outputCount;
    private readonly double[] _baseMargins;

    // Per tree, in the ensemble's order.
    private readonly byte[] _treeKind;
    private readonly int[] _treeOutput;
    private readonly int[] _treeDepth;
    private readonly int[] _treeNode;
    private readonly int[] _treeLeaf;

    // Perfect trees: split nodes (column in the widened row, or ~index of a categorical split) and leaves.
    private readonly int[] _column;
    private readonly float[] _threshold;
    private readonly double[] _leaf;

    // Pointer trees: nodes with explicit children (Left < 0 marks a leaf whose value is in _pointerValue).
    private readonly PointerNode[] _pointer;
    private readonly double[] _pointerValue;

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
        float[]? rented = null;
        var wide = width <= 512 ? stackalloc float[512] : (rented = ArrayPool<float>.Shared.Rent(width));
        Widen(row, wide);
        PredictWide(wide, margins[.._outputCount]);
        if (rented is not null)
        {
            ArrayPool<float>.Shared.Return(rented);
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

        var blocks = (rows + BlockRows - 1) / BlockRows;
        var threads = maxDegreeOfParallelism < 0 ? Environment.ProcessorCount : Math.Max(1, maxDegreeOfParallelism);
        if (blocks <= 1 || threads == 1)
        {
            var scratch = new Scratch(this);
            for (var b = 0; b < blocks; b++)
            {
                var start = b * BlockRows;
                var count = Math.Min(BlockRows, rows - start);
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
                var start = b * BlockRows;
                var count = Math.Min(BlockRows, rows - start);
                PredictBlock(features, start, count, scratch, result.AsSpan(start * _outputCount, count * _outputCount));
                return scratch;
            },
            _ => { });
        result.CopyTo(margins);
    }

    private void PredictBlock(FeatureMatrix features, int start, int count, Scratch scratch, Span<double> margins)
    {
        var width = 2 * _featureCount;
        var block = scratch.Rows.AsSpan(0, count * width);
        for (var f = 0; f < _featureCount; f++)
        {
            if (features.Inputs[f].Kind == FeatureKind.Categorical)
            {
                var codes = features.Codes(f).Slice(start, count);
                for (var r = 0; r < count; r++)
                {
                    var code = codes[r];
                    block[(r * width) + f] = code < 0 ? float.NaN : code;
                    block[(r * width) + _featureCount + f] = code < 0 ? float.PositiveInfinity : code;
                }
            }
            else
            {
                var values = features.Numeric(f).Slice(start, count);
                for (var r = 0; r < count; r++)
                {
                    var v = values[r];
                    block[(r * width) + f] = v;
                    block[(r * width) + _featureCount + f] = float.IsNaN(v) ? float.PositiveInfinity : v;
                }
            }
        }

        for (var r = 0; r < count; r++)
        {
            _baseMargins.CopyTo(margins.Slice(r * _outputCount, _outputCount));
        }

        var steps = scratch.Steps.AsSpan(0, count);
        for (var t = 0; t < _treeKind.Length; t++)
        {
            var output = _treeOutput[t];
            switch (_treeKind[t])
            {
                case PerfectNumeric:
                    WalkNumeric(t, block, width, steps);
                    AddLeaves(t, steps, margins, output);
                    break;
                case PerfectCategorical:
                    WalkCategorical(t, block, width, steps);
                    AddLeaves(t, steps, margins, output);
                    break;
                default:
                    for (var r = 0; r < count; r++)
                    {
                        margins[(r * _outputCount) + output] += WalkPointer(_treeNode[t], block.Slice(r * width, width));
                    }

                    break;
            }
        }
    }

    /// <summary>Walks every row of a block down a perfect tree without categorical splits; leaves the step index per row.</summary>
    private void WalkNumeric(int tree, ReadOnlySpan<float> block, int width, Span<int> steps)
    {
        var depth = _treeDepth[tree];
        steps.Clear();
        if (depth == 0)
        {
            return;
        }

        // NOTE: every column is < 2F = width and every step index stays < 2^depth − 1 (the tree's split nodes), both
        // by construction in Builder, so these reads skip bounds checks.
        ref var column = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_column), _treeNode[tree]);
        ref var threshold = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_threshold), _treeNode[tree]);
        ref var rows = ref MemoryMarshal.GetReference(block);
        ref var step = ref MemoryMarshal.GetReference(steps);
        var count = steps.Length;

        // The root is the same node for every row.
        var rootColumn = column;
        var rootThreshold = threshold;
        for (int r = 0, at = rootColumn; r < count; r++, at += width)
        {
            Unsafe.Add(ref step, r) = Unsafe.Add(ref rows, at) >= rootThreshold ? 2 : 1;
        }

        for (var level = 1; level < depth; level++)
        {
            for (int r = 0, rowStart = 0; r < count; r++, rowStart += width)
            {
                var i = Unsafe.Add(ref step, r);
                var value = Unsafe.Add(ref rows, rowStart + Unsafe.Add(ref column, i));
                Unsafe.Add(ref step, r) = (2 * i) + (value >= Unsafe.Add(ref threshold, i) ? 2 : 1);
            }
        }
    }

    private void WalkCategorical(int tree, ReadOnlySpan<float> block, int width, Span<int> steps)
    {
        var depth = _treeDepth[tree];
        var nodes = _treeNode[tree];
        steps.Clear();
        for (var level = 0; level < depth; level++)
        {
            for (var r = 0; r < steps.Length; r++)
            {
                var i = steps[r];
                steps[r] = (2 * i) + 1 + GoesRight(_column[nodes + i], _threshold[nodes + i], block.Slice(r * width, width));
            }
        }
    }

    private void AddLeaves(int tree, ReadOnlySpan<int> steps, Span<double> margins, int output)
    {
        // Step indices of the last level run from 2^D − 1 to 2^(D+1) − 2; the leaf is the offset into that level.
        var first = _treeLeaf[tree] - ((1 << _treeDepth[tree]) - 1);
        for (var r = 0; r < steps.Length; r++)
        {
            margins[(r * _outputCount) + output] += _leaf[first + steps[r]];
        }
    }

    private void PredictWide(ReadOnlySpan<float> wide, Span<double> margins)
    {
        _baseMargins.CopyTo(margins);
        Span<int> steps = stackalloc int[TreeChunk];
        ref var row = ref MemoryMarshal.GetReference(wide);
        for (var first = 0; first < _treeKind.Length; first += TreeChunk)
        {
            var count = Math.Min(TreeChunk, _treeKind.Length - first);
            var deepest = 0;
            for (var c = 0; c < count; c++)
            {
                steps[c] = 0;
                if (_treeKind[first + c] != Pointer)
                {
                    deepest = Math.Max(deepest, _treeDepth[first + c]);
                }
            }

            // Level by level across the chunk's trees: their walks are independent, so their loads overlap.
            for (var level = 0; level < deepest; level++)
            {
                for (var c = 0; c < count; c++)
                {
                    var t = first + c;
                    if (level >= _treeDepth[t] || _treeKind[t] == Pointer)
                    {
                        continue;
                    }

                    var node = _treeNode[t] + steps[c];
                    var column = _column[node];
                    var right = column >= 0
                        ? (Unsafe.Add(ref row, column) >= _threshold[node] ? 1 : 0)
                        : CategoricalGoesRight(~column, wide);
                    steps[c] = (2 * steps[c]) + 1 + right;
                }
            }

            // Sums in tree order, as the reference does, so the result is bit-identical.
            for (var c = 0; c < count; c++)
            {
                var t = first + c;
                margins[_treeOutput[t]] += _treeKind[t] == Pointer
                    ? WalkPointer(_treeNode[t], wide)
                    : _leaf[_treeLeaf[t] - ((1 << _treeDepth[t]) - 1) + steps[c]];
            }
        }
    }

    private double WalkPointer(int node, ReadOnlySpan<float> wide)
    {
        while (true)
        {
            var n = _pointer[node];
            if (n.Left < 0)
            {
                return _pointerValue[node];
            }

            node = GoesRight(n.Column, n.Threshold, wide) != 0 ? n.Right : n.Left;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int GoesRight(int column, float threshold, ReadOnlySpan<float> wide) =>
        column >= 0 ? (wide[column] >= threshold ? 1 : 0) : CategoricalGoesRight(~column, wide);

    /// <summary>The reference's categorical rule (<see cref="TreeEnsemble.Next"/>): 0 for left, 1 for right.</summary>
    private int CategoricalGoesRight(int index, ReadOnlySpan<float> wide)
    {
        var split = _categorical[index];
        var value = wide[split.Feature];
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

    private readonly record struct PointerNode(int Column, float Threshold, int Left, int Right);

    private readonly record struct CategorySplit(int Feature, int Start, int Length, bool MissingLeft);

    /// <summary>Per-thread buffers of the batch path.</summary>
    private sealed class Scratch(CompiledTreeEnsemble model)
    {
        public float[] Rows { get; } = new float[BlockRows * 2 * Math.Max(1, model._featureCount)];

        public int[] Steps { get; } = new int[BlockRows];
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
