using System.Runtime.CompilerServices;

namespace Strata.Learning.Gbdt;

/// <summary>One finished node: its split on bins (for binned traversal) and on raw values (for the model).</summary>
internal struct BuiltNode
{
    public int Feature;
    public float Threshold;
    public byte Flags;
    public int Left;
    public int Right;
    public double Value;
    public double Cover;
    public double Gain;
    public uint[]? Categories;
    public BinSet LeftBins;
}

/// <summary>A finished tree: nodes in creation order (children after their parent) and the output it adds to.</summary>
internal sealed class BuiltTree
{
    private BuiltTree(BuiltNode[] nodes, int output)
    {
        Nodes = nodes;
        Output = output;
    }

    public BuiltNode[] Nodes { get; }

    public int Output { get; }

    /// <summary>Turns grown nodes into thresholds, category sets and shrunk weights.</summary>
    public static BuiltTree From(IReadOnlyList<GrownNode> grown, int output, BinnedMatrix data, in SplitParams p, double eta)
    {
        var nodes = new BuiltNode[grown.Count];
        for (var i = 0; i < grown.Count; i++)
        {
            var g = grown[i];
            ref var n = ref nodes[i];
            n.Value = eta * p.Weight(g.G, g.H, p.Lambda);
            n.Cover = g.H;
            n.Left = g.Left;
            n.Right = g.Right;
            if (g.IsLeaf)
            {
                n.Feature = -1;
                continue;
            }

            var s = g.Split;
            n.Feature = s.Feature;
            n.Gain = s.Gain;
            n.LeftBins = s.LeftBins;
            n.Flags = s.MissingLeft ? TreeEnsemble.MissingLeft : (byte)0;
            var bins = data.Features[s.Feature];
            if (s.IsCategorical)
            {
                n.Flags |= TreeEnsemble.Categorical;
                var maxCode = -1;
                for (var b = 1; b < bins.BinCount; b++)
                {
                    if (s.LeftBins.Contains(b) && bins.BinToCode[b] >= 0)
                    {
                        maxCode = Math.Max(maxCode, bins.BinToCode[b]);
                    }
                }

                var words = new uint[(maxCode >> 5) + 1];
                for (var b = 1; b < bins.BinCount; b++)
                {
                    var code = bins.BinToCode[b];
                    if (s.LeftBins.Contains(b) && code >= 0)
                    {
                        words[code >> 5] |= 1u << (code & 31);
                    }
                }

                n.Categories = words;
            }
            else
            {
                // Left holds value bins 1..k, i.e. values below cut k; k = 0 sends only missing values left.
                n.Threshold = s.ThresholdBin == 0 ? float.NegativeInfinity : bins.Cuts[s.ThresholdBin - 1];
            }
        }

        return new BuiltTree(nodes, output);
    }

    /// <summary>The leaf a binned row reaches.</summary>
    public int Leaf(BinnedMatrix data, int row)
    {
        var bins = data.Bins;
        var stride = (long)data.FeatureCount * row;
        var node = 0;
        while (Nodes[node].Feature >= 0)
        {
            ref var n = ref Nodes[node];
            node = n.LeftBins.Contains(bins[stride + n.Feature]) ? n.Left : n.Right;
        }

        return node;
    }

    /// <summary>Adds the tree's output to the scores of the listed rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddTo(BinnedMatrix data, List<int> rows, double[] scores)
    {
        foreach (var r in rows)
        {
            scores[r] += Nodes[Leaf(data, r)].Value;
        }
    }

    /// <summary>Adds the tree's output to the scores of every row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddTo(BinnedMatrix data, double[] scores, int threads)
    {
        const int Block = 8192;
        Parallelism.For((data.Rows + Block - 1) / Block, threads, b =>
        {
            var end = Math.Min(data.Rows, (b + 1) * Block);
            for (var r = b * Block; r < end; r++)
            {
                scores[r] += Nodes[Leaf(data, r)].Value;
            }
        });
    }

    /// <summary>The flat arrays of a <see cref="TreeEnsemble"/>.</summary>
    public static TreeEnsemble ToEnsemble(List<BuiltTree> trees, int featureCount, double[] baseMargins)
    {
        var total = trees.Sum(t => t.Nodes.Length);
        var starts = new int[trees.Count + 1];
        var outputs = new int[trees.Count];
        var feature = new int[total];
        var threshold = new float[total];
        var left = new int[total];
        var right = new int[total];
        var flags = new byte[total];
        var value = new double[total];
        var cover = new double[total];
        var gain = new double[total];
        var catStart = new int[total];
        var catLength = new int[total];
        var bits = new List<uint>();
        var at = 0;
        for (var t = 0; t < trees.Count; t++)
        {
            starts[t] = at;
            outputs[t] = trees[t].Output;
            foreach (var n in trees[t].Nodes)
            {
                feature[at] = n.Feature;
                threshold[at] = n.Threshold;
                left[at] = n.Left < 0 ? -1 : starts[t] + n.Left;
                right[at] = n.Right < 0 ? -1 : starts[t] + n.Right;
                flags[at] = n.Flags;
                value[at] = n.Value;
                cover[at] = n.Cover;
                gain[at] = n.Gain;
                catStart[at] = -1;
                if (n.Categories is { } words)
                {
                    catStart[at] = bits.Count;
                    catLength[at] = words.Length;
                    bits.AddRange(words);
                }

                at++;
            }
        }

        starts[^1] = at;
        return new TreeEnsemble(featureCount, (double[])baseMargins.Clone(), starts, outputs, feature, threshold, left, right, flags,
            value, cover, gain, catStart, catLength, [.. bits]);
    }
}
