using Strata.Learning;
using Strata.Learning.Gbdt;
using static Strata.Tests.Learning.Gbdt.GbdtTestData;

namespace Strata.Tests.Learning.Gbdt;

public sealed class GbdtSplitTests
{
    [Fact]
    public void Histogram_subtraction_equals_building_the_sibling_directly()
    {
        var table = Numeric(5000, 7, seed: 21, r => r[0] > 0, missing: 0.1);
        var data = Train(table);
        var binned = BinnedMatrix.Build(data.Features, 255, 200_000, 0, 2);
        var random = new Random(22);
        var gradHess = new float[2 * data.Rows];
        for (var r = 0; r < data.Rows; r++)
        {
            gradHess[2 * r] = (float)((random.NextDouble() * 2) - 1);
            gradHess[(2 * r) + 1] = (float)random.NextDouble();
        }

        var packed = new long[data.Rows];
        Histograms.Quantize(gradHess, Histograms.GradientLevels, Histograms.HessianLevels, packed);
        var rows = Enumerable.Range(0, data.Rows).ToArray();
        var left = rows.Where(r => random.NextDouble() < 0.3).ToArray();
        var right = rows.Except(left).ToArray();
        var f = binned.FeatureCount;
        double[] Node(int[] nodeRows, int chunks)
        {
            // Any cut into chunks and blocks of features gives the same sums: they are exact integers.
            var parts = new long[chunks][];
            for (var c = 0; c < chunks; c++)
            {
                parts[c] = new long[binned.TotalBins];
                var first = nodeRows.Length * c / chunks;
                var count = (nodeRows.Length * (c + 1) / chunks) - first;
                Histograms.Build(nodeRows.AsSpan(first, count), 0, count, binned, 0, 3, packed, parts[c]);
                Histograms.Build(nodeRows.AsSpan(first, count), 0, count, binned, 3, f, packed, parts[c]);
            }

            var hist = new double[2 * binned.TotalBins];
            Histograms.Merge(parts, 0, binned.TotalBins, hist);
            return hist;
        }

        var parent = Node(rows, 1);
        Assert.Equal(parent, Node(rows, 7));
        var direct = Node(right, 3);
        Histograms.Subtract(parent, Node(left, 2), 0, parent.Length);
        Assert.Equal(direct, parent);
        // Every row lands in exactly one bin per feature: feature 0's bins add up to the whole quantized sums.
        var (g, h) = (0.0, 0.0);
        for (var b = 0; b < binned.Features[0].BinCount; b++)
        {
            g += Node(rows, 1)[2 * b];
            h += Node(rows, 1)[(2 * b) + 1];
        }

        Assert.Equal(packed.Sum(v => (double)(v >> 32)), g);
        Assert.Equal(packed.Sum(v => (double)(v & 0xFFFFFFFF)), h);
        Assert.Equal(gradHess.Where((_, i) => i % 2 == 0).Sum(x => (double)x), g / Histograms.GradientLevels, 2);
    }

    [Fact]
    public void Bins_follow_the_thresholds_the_model_uses()
    {
        var values = Enumerable.Range(0, 3000).Select(i => (float)Math.Round(Math.Sin(i) * 100, 1)).ToArray();
        var bins = FeatureBins.Numeric(values.ToArray(), 16);
        Assert.True(bins.BinCount <= 17);
        foreach (var v in values.Append(float.PositiveInfinity).Append(float.NegativeInfinity).Append(-1000f))
        {
            var bin = bins.BinOf(v);
            for (var k = 1; k < bins.BinCount; k++)
            {
                // bin ≤ k exactly when v < cut k.
                Assert.Equal(bin <= k, k == bins.BinCount - 1 || v < bins.Cuts[k - 1]);
            }
        }

        Assert.Equal(0, bins.BinOf(float.NaN));
        var few = FeatureBins.Numeric(new float[] { 3, 1, 2, 2, 3, 1 }, 255);
        Assert.Equal([1.5f, 2.5f], few.Cuts);
    }

    [Fact]
    public void Missing_values_learn_their_default_direction()
    {
        // Missing x behaves like large x in the first table and like small x in the second.
        foreach (var (missingLike, expectLeft) in new[] { (0.9f, false), (-0.9f, true) })
        {
            var random = new Random(23);
            var x = new float?[4000];
            var y = new double?[4000];
            for (var i = 0; i < x.Length; i++)
            {
                var v = (float)((random.NextDouble() * 2) - 1);
                x[i] = random.NextDouble() < 0.2 ? null : v;
                y[i] = (x[i] ?? missingLike) > 0.25f ? 1 : 0;
            }

            var table = Table.From(("x", Columns.Float32(x)), ("y", Columns.Float64(y)));
            var model = Fit(Train(table), new GbdtOptions { NumBoostRound = 1, MaxDepth = 1 });
            var e = model.Ensemble;
            Assert.Equal(0, e.SplitFeature[0]);
            Assert.Equal(0.25f, e.Threshold[0], 0.02f);
            Assert.Equal(expectLeft, (e.Flags[0] & TreeEnsemble.MissingLeft) != 0);
            var probe = Table.From(("x", Columns.Float32(null, missingLike)), ("y", Columns.Float64(0, 0)));
            var margins = model.PredictMargins(probe);
            Assert.Equal(margins[1], margins[0]);
        }
    }

    [Fact]
    public void A_split_on_missing_alone_is_found_when_missingness_is_the_signal()
    {
        var random = new Random(24);
        var x = Enumerable.Range(0, 2000).Select(i => random.NextDouble() < 0.3 ? (float?)null : (float)random.NextDouble()).ToArray();
        var y = x.Select(v => (double?)(v is null ? 1 : 0)).ToArray();
        var model = Fit(Train(Table.From(("x", Columns.Float32(x)), ("y", Columns.Float64(y)))), new GbdtOptions { NumBoostRound = 1, MaxDepth = 1 });
        var e = model.Ensemble;
        Assert.Equal(float.NegativeInfinity, e.Threshold[0]);
        Assert.NotEqual(0, e.Flags[0] & TreeEnsemble.MissingLeft);
    }

    [Fact]
    public void A_categorical_subset_split_beats_one_hot_on_a_designed_case()
    {
        // 30 categories, the label is membership in a random half of them: one subset split separates it exactly,
        // while one category against the rest peels off one category per split.
        var random = new Random(25);
        var positive = Enumerable.Range(0, 30).Where(_ => random.NextDouble() < 0.5).ToHashSet();
        var codes = Enumerable.Range(0, 6000).Select(_ => random.Next(30)).ToArray();
        var table = Table.From(
            ("c", Columns.String(codes.Select(c => (string?)$"cat{c:D2}").ToArray())),
            ("y", Columns.Bool(codes.Select(c => (bool?)positive.Contains(c)).ToArray())));
        var data = Train(table);
        var options = new GbdtOptions { NumBoostRound = 3, MaxDepth = 2, LearningRate = 1, MinDataPerGroup = 20 };
        var subset = Fit(data, options);
        var oneHot = Fit(data, options with { MaxCatToOnehot = 1000 });
        Assert.Equal(1.0, Accuracy(subset, data));
        Assert.True(Accuracy(oneHot, data) < 0.9, $"one-hot accuracy {Accuracy(oneHot, data)}");
        var e = subset.Ensemble;
        Assert.NotEqual(0, e.Flags[0] & TreeEnsemble.Categorical);
        // The root's set is exactly the positive (or the negative) categories.
        var left = Enumerable.Range(0, 30).Where(c => (e.CategoryBits[e.CategoryStart[0] + (c >> 5)] & (1u << (c & 31))) != 0).ToHashSet();
        var categories = data.Features.Inputs[0].Categories!;
        var leftCodes = left.Select(c => int.Parse(categories[c][3..], System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        Assert.True(leftCodes.SetEquals(positive) || leftCodes.SetEquals(Enumerable.Range(0, 30).Except(positive)));
    }

    [Fact]
    public void Unseen_and_missing_categories_follow_the_missing_direction()
    {
        var random = new Random(26);
        var c = Enumerable.Range(0, 3000).Select(_ => random.Next(10)).ToArray();
        var table = Table.From(("c", Columns.String(c.Select(v => (string?)("k" + v)).ToArray())), ("y", Columns.Float64(c.Select(v => (double?)(v % 2 == 0 ? 5 : -5)).ToArray())));
        var model = Fit(Train(table), new GbdtOptions { NumBoostRound = 10, MinDataPerGroup = 10 });
        var probe = Table.From(("c", Columns.String("k2", "k3", null, "never-seen")), ("y", Columns.Float64(0, 0, 0, 0)));
        var m = model.PredictMargins(probe);
        Assert.True(m[0] > 4.5 && m[1] < -4.5);
        Assert.Equal(m[2], m[3]);
    }
}
