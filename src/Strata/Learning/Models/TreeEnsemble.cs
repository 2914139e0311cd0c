using System.Runtime.CompilerServices;

namespace Strata.Learning;

/// <summary>
/// Decision trees in flat arrays, one slot per node across all trees: what the GBDT learner produces, what the
/// XGBoost importer reads into, what predictors compile and TreeSHAP walks. Node <c>n</c> of tree <c>t</c> lives in
/// [<see cref="TreeStarts"/>[t], TreeStarts[t + 1]); a tree's root is its first node and children always come after
/// their parent, which <see cref="Validate"/> checks, so a traversal cannot loop.
/// </summary>
/// <remarks>
/// Numeric split: go left when <c>value &lt; Threshold</c> (XGBoost's convention); a missing value (NaN) goes left when
/// the node's <see cref="MissingLeft"/> flag is set. Categorical split: the category code goes left when its bit is set
/// in the node's set; a missing or unseen category follows the missing flag. Tree <c>t</c> adds its leaf value to output
/// <see cref="TreeOutputs"/>[t] (the class for multiclass models), on top of <see cref="BaseMargins"/>.
/// </remarks>
public sealed class TreeEnsemble
{
    /// <summary>Flag: a missing value goes to the left child.</summary>
    public const byte MissingLeft = 1;

    /// <summary>Flag: the split tests category membership, not a threshold.</summary>
    public const byte Categorical = 2;

    /// <summary>Creates an ensemble from arrays (validated).</summary>
    public TreeEnsemble(
        int featureCount,
        double[] baseMargins,
        int[] treeStarts,
        int[] treeOutputs,
        int[] splitFeature,
        float[] threshold,
        int[] leftChild,
        int[] rightChild,
        byte[] flags,
        double[] leafValue,
        double[] cover,
        double[] gain,
        int[] categoryStart,
        int[] categoryLength,
        uint[] categoryBits)
    {
        FeatureCount = featureCount;
        BaseMargins = baseMargins;
        TreeStarts = treeStarts;
        TreeOutputs = treeOutputs;
        SplitFeature = splitFeature;
        Threshold = threshold;
        LeftChild = leftChild;
        RightChild = rightChild;
        Flags = flags;
        LeafValue = leafValue;
        Cover = cover;
        Gain = gain;
        CategoryStart = categoryStart;
        CategoryLength = categoryLength;
        CategoryBits = categoryBits;
        Validate();
    }

    /// <summary>Number of input features.</summary>
    public int FeatureCount { get; }

    /// <summary>Outputs (1, or the number of classes).</summary>
    public int OutputCount => BaseMargins.Length;

    /// <summary>Starting margin per output.</summary>
    public double[] BaseMargins { get; }

    /// <summary>Number of trees.</summary>
    public int TreeCount => TreeOutputs.Length;

    /// <summary>Total nodes.</summary>
    public int NodeCount => SplitFeature.Length;

    /// <summary>First node of each tree, plus the end: length TreeCount + 1.</summary>
    public int[] TreeStarts { get; }

    /// <summary>The output each tree adds to.</summary>
    public int[] TreeOutputs { get; }

    /// <summary>Feature tested by each node; -1 for a leaf.</summary>
    public int[] SplitFeature { get; }

    /// <summary>Numeric split threshold (left when value &lt; threshold).</summary>
    public float[] Threshold { get; }

    /// <summary>Left child (global node index), -1 for a leaf.</summary>
    public int[] LeftChild { get; }

    /// <summary>Right child (global node index), -1 for a leaf.</summary>
    public int[] RightChild { get; }

    /// <summary>Per node: <see cref="MissingLeft"/> | <see cref="Categorical"/>.</summary>
    public byte[] Flags { get; }

    /// <summary>Leaf output (internal nodes: the node's own weight, unused by prediction).</summary>
    public double[] LeafValue { get; }

    /// <summary>Sum of hessians (or sample weights) that reached each node in training, for TreeSHAP and importance.</summary>
    public double[] Cover { get; }

    /// <summary>Loss reduction of each split (0 for leaves), for importance.</summary>
    public double[] Gain { get; }

    /// <summary>Start of a categorical node's set in <see cref="CategoryBits"/> (in words), -1 for others.</summary>
    public int[] CategoryStart { get; }

    /// <summary>Length in 32-bit words of a categorical node's set (categories 0 .. 32·length-1).</summary>
    public int[] CategoryLength { get; }

    /// <summary>Bit sets of categories that go left.</summary>
    public uint[] CategoryBits { get; }

    /// <summary>True when a node is a leaf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsLeaf(int node) => SplitFeature[node] < 0;

    /// <summary>The child a value goes to (the reference semantics every predictor must match).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Next(int node, float value)
    {
        var flags = Flags[node];
        if (float.IsNaN(value))
        {
            return (flags & MissingLeft) != 0 ? LeftChild[node] : RightChild[node];
        }

        if ((flags & Categorical) != 0)
        {
            // A negative or fractional code is no category at all: it goes where missing values go.
            if (!(value >= 0 && value < int.MaxValue) || value != MathF.Floor(value))
            {
                return (flags & MissingLeft) != 0 ? LeftChild[node] : RightChild[node];
            }

            var code = (int)value;
            var inSet = (code >> 5) < CategoryLength[node] && (CategoryBits[CategoryStart[node] + (code >> 5)] & (1u << (code & 31))) != 0;
            return inSet ? LeftChild[node] : RightChild[node];
        }

        return value < Threshold[node] ? LeftChild[node] : RightChild[node];
    }

    /// <summary>The leaf a row reaches in a tree; <paramref name="row"/> holds every feature's value (NaN = missing).</summary>
    public int Leaf(int tree, ReadOnlySpan<float> row)
    {
        var node = TreeStarts[tree];
        while (!IsLeaf(node))
        {
            node = Next(node, row[SplitFeature[node]]);
        }

        return node;
    }

    /// <summary>Adds one row's margins (reference implementation: simple and slow; predictors compile faster ones).</summary>
    public void PredictRow(ReadOnlySpan<float> row, Span<double> margins)
    {
        BaseMargins.CopyTo(margins);
        for (var t = 0; t < TreeCount; t++)
        {
            margins[TreeOutputs[t]] += LeafValue[Leaf(t, row)];
        }
    }

    /// <summary>
    /// Checks every length, index and child pointer, so a hostile model file cannot cause an out-of-range read or a loop.
    /// </summary>
    /// <exception cref="StrataException">The arrays are inconsistent (<see cref="ErrorCodes.DataMalformed"/>), naming the tree and node.</exception>
    public void Validate()
    {
        var n = SplitFeature.Length;
        Require(FeatureCount >= 0, "feature count is negative");
        Require(BaseMargins.Length >= 1, "there are no outputs");
        Require(TreeStarts.Length == TreeOutputs.Length + 1, "tree starts and tree outputs differ in length");
        Require(Threshold.Length == n && LeftChild.Length == n && RightChild.Length == n && Flags.Length == n
            && LeafValue.Length == n && Cover.Length == n && Gain.Length == n && CategoryStart.Length == n && CategoryLength.Length == n,
            $"node arrays differ in length (expected {n} each)");
        Require(TreeStarts.Length > 0 && TreeStarts[0] == 0 && TreeStarts[^1] == n, "tree starts do not cover the nodes");
        for (var t = 0; t < TreeOutputs.Length; t++)
        {
            var start = TreeStarts[t];
            var end = TreeStarts[t + 1];
            Require(end > start && end <= n, $"tree {t} has no nodes or ends beyond the {n} nodes");
            Require((uint)TreeOutputs[t] < (uint)BaseMargins.Length, $"tree {t} adds to output {TreeOutputs[t]}, beyond {BaseMargins.Length}");
            for (var node = start; node < end; node++)
            {
                var feature = SplitFeature[node];
                if (feature < 0)
                {
                    Require(feature == -1 && LeftChild[node] == -1 && RightChild[node] == -1, $"tree {t} node {node - start}: a leaf with children");
                    Require(double.IsFinite(LeafValue[node]), $"tree {t} node {node - start}: leaf value is not finite");
                    continue;
                }

                Require(feature < FeatureCount, $"tree {t} node {node - start}: feature {feature} beyond {FeatureCount}");
                Require(LeftChild[node] > node && LeftChild[node] < end && RightChild[node] > node && RightChild[node] < end,
                    $"tree {t} node {node - start}: children must follow their parent within the tree");
                if ((Flags[node] & Categorical) != 0)
                {
                    var s = CategoryStart[node];
                    var len = CategoryLength[node];
                    Require(s >= 0 && len >= 0 && (long)s + len <= CategoryBits.Length, $"tree {t} node {node - start}: category set out of range");
                }
                else
                {
                    Require(!float.IsNaN(Threshold[node]), $"tree {t} node {node - start}: threshold is NaN");
                }
            }
        }
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new StrataException(ErrorCodes.DataMalformed, "invalid tree ensemble: " + message);
        }
    }
}
