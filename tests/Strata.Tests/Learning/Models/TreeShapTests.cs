using Strata.Learning;

namespace Strata.Tests.Learning.Models;

public sealed class TreeShapTests
{
    [Theory]
    [InlineData(1, 1, 0.0, 6, 0.85)]
    [InlineData(2, 1, 0.4, 8, 0.8)]
    [InlineData(3, 3, 0.3, 5, 0.85)]
    [InlineData(4, 1, 0.2, 16, 0.6)]
    public void Contributions_plus_bias_equal_the_margin_on_random_trees(int seed, int outputs, double categoricalShare, int depth, double splitChance)
    {
        var shape = new RandomTrees.Shape(Features: 6, Trees: 30, MaxDepth: depth, Outputs: outputs, CategoricalShare: categoricalShare, SplitChance: splitChance);
        for (var s = 0; s < 10; s++)
        {
            var modelSeed = (seed * 100) + s;
            var model = RandomTrees.Model(modelSeed, shape, outputs > 1 ? LearningTask.MulticlassClassification : LearningTask.Regression);
            var categorical = RandomTrees.CategoricalFeatures(modelSeed, shape);
            var random = new Random(modelSeed);
            var margins = new double[outputs];
            for (var r = 0; r < 50; r++)
            {
                var row = RandomTrees.Row(random, shape.Features, categorical);
                model.PredictMargins(row, margins);
                var contributions = TreeShap.Contributions(model, row);
                for (var k = 0; k < outputs; k++)
                {
                    var sum = contributions.Margin(k);
                    Assert.True(Math.Abs(sum - margins[k]) <= 1e-9 * Math.Max(1, Math.Abs(margins[k])),
                        $"seed {modelSeed}, row {r}, output {k}: contributions + bias = {sum:R}, margin {margins[k]:R}");
                }
            }
        }
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void Contributions_are_the_exact_shapley_values_of_the_cover_weighted_expectation(int seed)
    {
        // Brute force over all 2^5 coalitions: v(S) = E[f(x) | x_S] with unknown features averaged by cover (Algorithm 1
        // of Lundberg et al. 2018), and φ_i = Σ_S |S|!(F−|S|−1)!/F! (v(S ∪ {i}) − v(S)).
        const int F = 5;
        var shape = new RandomTrees.Shape(Features: F, Trees: 6, MaxDepth: 5, CategoricalShare: 0.4);
        var model = RandomTrees.Model(seed, shape);
        var e = model.Ensemble;
        var random = new Random(seed);
        for (var r = 0; r < 20; r++)
        {
            var row = RandomTrees.Row(random, F, RandomTrees.CategoricalFeatures(seed, shape));
            var contributions = TreeShap.Contributions(model, row);
            for (var i = 0; i < F; i++)
            {
                var phi = 0.0;
                for (var set = 0; set < 1 << F; set++)
                {
                    if ((set & (1 << i)) != 0)
                    {
                        continue;
                    }

                    var size = System.Numerics.BitOperations.PopCount((uint)set);
                    var weight = Factorial(size) * Factorial(F - size - 1) / Factorial(F);
                    phi += weight * (Expectation(e, row, set | (1 << i)) - Expectation(e, row, set));
                }

                Assert.True(Math.Abs(phi - contributions[0, i]) <= 1e-9, $"seed {seed}, row {r}, feature {i}: brute force {phi:R}, TreeSHAP {contributions[0, i]:R}");
            }

            Assert.Equal(Expectation(e, row, 0), contributions.Bias(0), 9);
        }
    }

    [Fact]
    public void A_feature_no_tree_splits_on_contributes_nothing()
    {
        // Nine features, trees of depth 2: most features go unused.
        var model = RandomTrees.Model(21, new RandomTrees.Shape(Features: 9, Trees: 2, MaxDepth: 2, CategoricalShare: 0));
        var unused = FeatureImportance.Of(model).Select((imp, f) => (imp, f)).Where(p => p.imp.Splits == 0).Select(p => p.f).ToList();
        Assert.NotEmpty(unused);
        var random = new Random(1);
        for (var r = 0; r < 20; r++)
        {
            var contributions = TreeShap.Contributions(model, RandomTrees.Row(random, 9));
            Assert.All(unused, f => Assert.Equal(0, contributions[0, f]));
        }
    }

    [Fact]
    public void Importance_counts_splits_gain_and_cover_per_feature()
    {
        var model = RandomTrees.Model(22, new RandomTrees.Shape(Features: 5, Trees: 15));
        var importance = FeatureImportance.Of(model);
        var e = model.Ensemble;
        Assert.Equal(model.Signature.Inputs.Select(i => i.Name), importance.Select(i => i.Feature));
        Assert.Equal(e.SplitFeature.Count(f => f >= 0), importance.Sum(i => i.Splits));
        Assert.Equal(Enumerable.Range(0, e.NodeCount).Where(n => !e.IsLeaf(n)).Sum(n => e.Gain[n]), importance.Sum(i => i.TotalGain), 9);
        Assert.All(importance, i => Assert.Equal(i.Splits == 0 ? 0 : i.TotalCover / i.Splits, i.AverageCover));
    }

    private static double Expectation(TreeEnsemble e, float[] row, int known)
    {
        var total = e.BaseMargins[0];
        for (var t = 0; t < e.TreeCount; t++)
        {
            total += Expect(e, e.TreeStarts[t], row, known);
        }

        return total;
    }

    private static double Expect(TreeEnsemble e, int node, float[] row, int known)
    {
        if (e.IsLeaf(node))
        {
            return e.LeafValue[node];
        }

        var feature = e.SplitFeature[node];
        if ((known & (1 << feature)) != 0)
        {
            return Expect(e, e.Next(node, row[feature]), row, known);
        }

        var c = e.Cover[node];
        return (e.Cover[e.LeftChild[node]] / c * Expect(e, e.LeftChild[node], row, known))
            + (e.Cover[e.RightChild[node]] / c * Expect(e, e.RightChild[node], row, known));
    }

    private static double Factorial(int n) => n <= 1 ? 1 : n * Factorial(n - 1);
}
