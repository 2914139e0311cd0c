using System.Runtime.CompilerServices;

namespace Strata.Learning;

/// <summary>
/// Per-prediction feature contributions of tree models by exact TreeSHAP (Lundberg, Erion and Lee 2018, "Consistent
/// individualized feature attribution for tree ensembles", Algorithm 2): the Shapley values of the features for one row,
/// in polynomial time, with each node's training cover (<see cref="TreeEnsemble.Cover"/>) weighting the paths a row does
/// not take. Per output, the contributions plus the bias (the expected margin) equal the row's raw margin.
/// </summary>
/// <remarks>
/// The algorithm follows XGBoost's implementation (<c>RegTree::TreeShap</c>), in double precision. A split whose
/// cover is not positive sends half of the expectation each way, so a model without covers still explains its margins.
/// </remarks>
public static class TreeShap
{
    /// <summary>Deepest tree explained (the path buffers grow with the square of the depth).</summary>
    public const int MaxDepth = 128;

    private static readonly ConditionalWeakTable<TreeEnsemble, Tables> Cache = [];

    /// <summary>The contributions of every feature to every output for one row, and the bias per output.</summary>
    /// <exception cref="StrataException">A tree deeper than <see cref="MaxDepth"/> (<see cref="ErrorCodes.DataLimit"/>).</exception>
    public static FeatureContributions Contributions(TreeEnsembleModel model, ReadOnlySpan<float> row)
    {
        ArgumentNullException.ThrowIfNull(model);
        var ensemble = model.Ensemble;
        var values = new double[ensemble.OutputCount * (ensemble.FeatureCount + 1)];
        Contributions(ensemble, row, values);
        return new FeatureContributions([.. model.Signature.Inputs.Select(i => i.Name)], ensemble.OutputCount, values);
    }

    /// <summary>
    /// Writes the contributions into <paramref name="destination"/>: per output, <see cref="TreeEnsemble.FeatureCount"/>
    /// contributions then the bias (XGBoost's <c>pred_contribs</c> layout).
    /// </summary>
    /// <exception cref="StrataException">A tree deeper than <see cref="MaxDepth"/> (<see cref="ErrorCodes.DataLimit"/>).</exception>
    public static void Contributions(TreeEnsemble ensemble, ReadOnlySpan<float> row, Span<double> destination)
    {
        ArgumentNullException.ThrowIfNull(ensemble);
        var width = ensemble.FeatureCount + 1;
        if (row.Length != ensemble.FeatureCount)
        {
            throw new ArgumentException($"the row has {row.Length} values, the model reads {ensemble.FeatureCount}", nameof(row));
        }

        if (destination.Length != ensemble.OutputCount * width)
        {
            throw new ArgumentException($"destination has {destination.Length} values, expected {ensemble.OutputCount * width}", nameof(destination));
        }

        var tables = Cache.GetValue(ensemble, e => new Tables(e));
        if (tables.Depth > MaxDepth)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"TreeSHAP explains trees up to depth {MaxDepth}; this model has a tree of depth {tables.Depth}");
        }

        destination.Clear();
        for (var k = 0; k < ensemble.OutputCount; k++)
        {
            destination[(k * width) + ensemble.FeatureCount] = ensemble.BaseMargins[k];
        }

        var maxd = tables.Depth + 2;
        var walker = new Walker(ensemble, new PathElement[maxd * (maxd + 1) / 2], row.ToArray());
        for (var t = 0; t < ensemble.TreeCount; t++)
        {
            var phi = destination.Slice(ensemble.TreeOutputs[t] * width, width);
            var root = ensemble.TreeStarts[t];
            phi[ensemble.FeatureCount] += tables.Mean[root];
            walker.Tree(root, phi);
        }
    }

    /// <summary>The share of a node's expectation each child carries: child cover over node cover.</summary>
    internal static (double Left, double Right) Fractions(TreeEnsemble e, int node)
    {
        var cover = e.Cover[node];
        return cover > 0 && double.IsFinite(cover)
            ? (e.Cover[e.LeftChild[node]] / cover, e.Cover[e.RightChild[node]] / cover)
            : (0.5, 0.5);
    }

    /// <summary>Per ensemble, computed once: each node's expected value and the deepest tree.</summary>
    private sealed class Tables
    {
        public Tables(TreeEnsemble e)
        {
            Mean = new double[e.NodeCount];
            var height = new int[e.NodeCount];

            // Children follow their parents, so one backward pass sees every child before its parent.
            for (var n = e.NodeCount - 1; n >= 0; n--)
            {
                if (e.IsLeaf(n))
                {
                    Mean[n] = e.LeafValue[n];
                    continue;
                }

                var (left, right) = Fractions(e, n);
                Mean[n] = (left * Mean[e.LeftChild[n]]) + (right * Mean[e.RightChild[n]]);
                height[n] = 1 + Math.Max(height[e.LeftChild[n]], height[e.RightChild[n]]);
            }

            for (var t = 0; t < e.TreeCount; t++)
            {
                Depth = Math.Max(Depth, height[e.TreeStarts[t]]);
            }
        }

        public double[] Mean { get; }

        public int Depth { get; }
    }

    private struct PathElement
    {
        public int Feature;
        public double Zero;
        public double One;
        public double Weight;
    }

    /// <summary>One row's walk; the recursion is bounded by the checked depth.</summary>
    private sealed class Walker(TreeEnsemble e, PathElement[] path, float[] row)
    {
        public void Tree(int root, Span<double> phi) => Recurse(root, phi, 0, 0, 1, 1, -1);

        private void Recurse(int node, Span<double> phi, int depth, int parentStart, double parentZero, double parentOne, int parentFeature)
        {
            // This node's path starts right after its parent's (XGBoost's layout): a copy it can extend and unwind.
            var start = parentStart + depth + 1;
            Array.Copy(path, parentStart, path, start, depth + 1);
            Extend(start, depth, parentZero, parentOne, parentFeature);
            if (e.IsLeaf(node))
            {
                var value = e.LeafValue[node];
                for (var i = 1; i <= depth; i++)
                {
                    var weight = UnwoundSum(start, depth, i);
                    ref var element = ref path[start + i];
                    phi[element.Feature] += weight * (element.One - element.Zero) * value;
                }

                return;
            }

            var feature = e.SplitFeature[node];
            var hot = e.Next(node, row[feature]);
            var cold = hot == e.LeftChild[node] ? e.RightChild[node] : e.LeftChild[node];
            var (left, right) = Fractions(e, node);
            var hotZero = hot == e.LeftChild[node] ? left : right;
            var coldZero = hot == e.LeftChild[node] ? right : left;
            var incomingZero = 1.0;
            var incomingOne = 1.0;

            // A feature met again higher up: undo that split so this one accounts for both.
            var index = 0;
            while (index <= depth && path[start + index].Feature != feature)
            {
                index++;
            }

            if (index <= depth)
            {
                incomingZero = path[start + index].Zero;
                incomingOne = path[start + index].One;
                Unwind(start, depth, index);
                depth--;
            }

            Recurse(hot, phi, depth + 1, start, hotZero * incomingZero, incomingOne, feature);
            Recurse(cold, phi, depth + 1, start, coldZero * incomingZero, 0, feature);
        }

        private void Extend(int start, int depth, double zero, double one, int feature)
        {
            ref var added = ref path[start + depth];
            added.Feature = feature;
            added.Zero = zero;
            added.One = one;
            added.Weight = depth == 0 ? 1 : 0;
            for (var i = depth - 1; i >= 0; i--)
            {
                path[start + i + 1].Weight += one * path[start + i].Weight * (i + 1) / (depth + 1);
                path[start + i].Weight = zero * path[start + i].Weight * (depth - i) / (depth + 1);
            }
        }

        private void Unwind(int start, int depth, int index)
        {
            var one = path[start + index].One;
            var zero = path[start + index].Zero;
            var next = path[start + depth].Weight;
            for (var i = depth - 1; i >= 0; i--)
            {
                ref var element = ref path[start + i];
                if (one != 0)
                {
                    var weight = element.Weight;
                    element.Weight = next * (depth + 1) / ((i + 1) * one);
                    next = weight - (element.Weight * zero * (depth - i) / (depth + 1));
                }
                else
                {
                    element.Weight = element.Weight * (depth + 1) / (zero * (depth - i));
                }
            }

            for (var i = index; i < depth; i++)
            {
                path[start + i].Feature = path[start + i + 1].Feature;
                path[start + i].Zero = path[start + i + 1].Zero;
                path[start + i].One = path[start + i + 1].One;
            }
        }

        private double UnwoundSum(int start, int depth, int index)
        {
            var one = path[start + index].One;
            var zero = path[start + index].Zero;
            var next = path[start + depth].Weight;
            var total = 0.0;
            for (var i = depth - 1; i >= 0; i--)
            {
                if (one != 0)
                {
                    var weight = next * (depth + 1) / ((i + 1) * one);
                    total += weight;
                    next = path[start + i].Weight - (weight * zero * ((depth - i) / (double)(depth + 1)));
                }
                else if (zero != 0)
                {
                    total += path[start + i].Weight / zero / ((depth - i) / (double)(depth + 1));
                }
            }

            return total;
        }
    }
}

/// <summary>A row's TreeSHAP values: per output, one contribution per feature and the bias (the model's expected margin).</summary>
public sealed class FeatureContributions
{
    private readonly double[] _values;

    internal FeatureContributions(IReadOnlyList<string> features, int outputs, double[] values)
    {
        Features = features;
        OutputCount = outputs;
        _values = values;
    }

    /// <summary>Feature names, in the model's input order.</summary>
    public IReadOnlyList<string> Features { get; }

    /// <summary>Outputs explained (1, or the number of classes).</summary>
    public int OutputCount { get; }

    /// <summary>The contribution of a feature to an output's margin.</summary>
    public double this[int output, int feature] => _values[(output * (Features.Count + 1)) + CheckFeature(feature)];

    /// <summary>Per output, the contributions then the bias (XGBoost's <c>pred_contribs</c> layout).</summary>
    public ReadOnlySpan<double> Values => _values;

    /// <summary>The expected margin of an output over the training distribution the covers describe.</summary>
    public double Bias(int output) => _values[(output * (Features.Count + 1)) + Features.Count];

    /// <summary>Bias plus every contribution: the raw margin of the row.</summary>
    public double Margin(int output)
    {
        var sum = 0.0;
        foreach (var v in _values.AsSpan(output * (Features.Count + 1), Features.Count + 1))
        {
            sum += v;
        }

        return sum;
    }

    private int CheckFeature(int feature) =>
        (uint)feature < (uint)Features.Count ? feature : throw new ArgumentOutOfRangeException(nameof(feature));
}
