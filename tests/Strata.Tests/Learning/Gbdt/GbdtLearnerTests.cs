using Strata.Learning;
using Strata.Learning.Gbdt;
using static Strata.Tests.Learning.Gbdt.GbdtTestData;

namespace Strata.Tests.Learning.Gbdt;

public sealed class GbdtLearnerTests
{
    [Fact]
    public void Learns_xor_to_high_accuracy()
    {
        var table = Numeric(4000, 3, seed: 1, r => (r[0] > 0) ^ (r[1] > 0));
        var data = Train(table);
        var model = Fit(data, new GbdtOptions { NumBoostRound = 30, MaxDepth = 3 });
        Assert.Equal(LearningTask.BinaryClassification, model.Task);
        Assert.Equal(OutputTransform.Sigmoid, model.Transform);
        Assert.True(Accuracy(model, data) > 0.98, $"accuracy {Accuracy(model, data)}");
        var test = Train(Numeric(2000, 3, seed: 2, r => (r[0] > 0) ^ (r[1] > 0)));
        Assert.True(Accuracy(model, test) > 0.97, $"test accuracy {Accuracy(model, test)}");
    }

    [Fact]
    public void Learns_a_step_function_in_regression()
    {
        // x on a grid of 0.01 (fewer values than bins), so every step falls between two bins.
        static double Step(float x) => x < -0.5f ? 1 : x < 0.2f ? 5 : x < 0.6f ? -2 : 3;
        var random = new Random(3);
        var x = Enumerable.Range(0, 3000).Select(_ => (float?)(random.Next(-100, 100) / 100f)).ToArray();
        var table = Table.From(("x", Columns.Float32(x)), ("y", Columns.Float64(x.Select(v => (double?)Step(v!.Value)).ToArray())));
        var data = Train(table);
        var model = Fit(data, new GbdtOptions { NumBoostRound = 60, MaxDepth = 3, LearningRate = 0.3 });
        Assert.Equal(LearningTask.Regression, model.Task);
        Assert.True(Rmse(model, data) < 0.01, $"rmse {Rmse(model, data)}");
        var thresholds = model.Ensemble.Threshold.Where((t, n) => !model.Ensemble.IsLeaf(n)).Distinct().Order().ToArray();
        Assert.Equal([-0.505f, 0.195f, 0.595f], thresholds, (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Fact]
    public void Learns_three_classes_with_softmax()
    {
        var table = Numeric(3000, 2, seed: 4, r => r[0] < -0.3f ? "a" : r[1] < 0 ? "b" : "c");
        var data = Train(table);
        var model = Fit(data, new GbdtOptions { NumBoostRound = 30, MaxDepth = 3 });
        Assert.Equal(LearningTask.MulticlassClassification, model.Task);
        Assert.Equal(3, model.OutputCount);
        Assert.Equal(90, model.Ensemble.TreeCount);
        Assert.True(Accuracy(model, data) > 0.98, $"accuracy {Accuracy(model, data)}");
        var outputs = model.Predict(table);
        Assert.Equal(["probability_a", "probability_b", "probability_c", "label"], outputs.Schema.Names);
    }

    [Fact]
    public void Learns_an_interaction_of_two_categorical_features()
    {
        var random = new Random(5);
        var a = new string?[4000];
        var b = new string?[4000];
        var y = new List<object>();
        for (var i = 0; i < a.Length; i++)
        {
            var ca = random.Next(12);
            var cb = random.Next(8);
            a[i] = "a" + ca;
            b[i] = "b" + cb;
            y.Add(((ca % 3 == 0) ^ (cb is 1 or 4 or 6)) ? "yes" : "no");
        }

        var table = Table.From(("a", Columns.String(a)), ("b", Columns.String(b)), ("y", LabelColumn(y)));
        var data = Train(table);
        var model = Fit(data, new GbdtOptions { NumBoostRound = 40, MaxDepth = 3, MinDataPerGroup = 10 });
        Assert.True(Accuracy(model, data) > 0.99, $"accuracy {Accuracy(model, data)}");
        Assert.Contains(model.Ensemble.Flags, f => (f & TreeEnsemble.Categorical) != 0);
    }

    [Fact]
    public void Model_margins_equal_the_training_scores_it_was_fitted_with()
    {
        // Thresholds are bin boundaries, so the model on raw values must agree with training on bins: check by refitting
        // one more round and comparing the validation metric computed from binned scores with the model's own margins.
        static object Target(float[] r) => float.IsNaN(r[0]) ? 2 : r[0] + (float.IsNaN(r[1] * r[2]) ? 0 : r[1] * r[2]);
        var table = Numeric(2000, 4, seed: 6, Target, missing: 0.1);
        var data = Train(table);
        var valid = TrainingData.FromTable(Numeric(500, 4, seed: 7, Target, missing: 0.1), new TrainingSpec { Label = "y" }, data);
        var model = Fit(data, new GbdtOptions { NumBoostRound = 20, MaxDepth = 4 }, valid);
        var rmse = Rmse(model, valid);
        Assert.Equal(model.Metrics["valid_rmse"], rmse, 9);
    }

    [Fact]
    public void Every_objective_reduces_its_loss()
    {
        var random = new Random(8);
        foreach (var (objective, metric) in new[]
                 {
                     ("reg:squarederror", "rmse"), ("reg:absoluteerror", "mae"), ("reg:huber", "huber"), ("count:poisson", "poisson-nloglik"),
                 })
        {
            var table = Numeric(2000, 3, seed: 9, r => objective == "count:poisson"
                ? Math.Floor(Math.Exp(r[0] + r[1]) * 3)
                : (3 * r[0]) + (r[1] > 0 ? 2 : 0) + (objective != "reg:squarederror" && random.NextDouble() < 0.05 ? 20 : 0));
            var data = Train(table);
            var values = new List<double>();
            var progress = new SyncProgress(p => values.Add(p.ValidValue!.Value));
            var model = Fit(data, new GbdtOptions { Objective = objective, NumBoostRound = 30, MaxDepth = 3, LearningRate = 0.3 }, data, progress);
            Assert.Equal(30, values.Count);
            Assert.True(values[^1] < values[0] * 0.8, $"{objective}: {metric} went from {values[0]} to {values[^1]}");
            Assert.Equal(objective == "count:poisson" ? OutputTransform.Exp : OutputTransform.Identity, model.Transform);
        }

        var binary = Train(Numeric(2000, 3, seed: 10, r => r[0] + r[1] > 0.3f));
        var losses = new List<double>();
        Fit(binary, new GbdtOptions { NumBoostRound = 20 }, binary, new SyncProgress(p => losses.Add(p.ValidValue!.Value)));
        Assert.True(losses[^1] < losses[0] * 0.5, $"logloss went from {losses[0]} to {losses[^1]}");
    }

    [Fact]
    public void Absolute_error_fits_the_median_not_the_mean()
    {
        // A constant feature leaves only the base margin: the median of the labels, not their mean.
        var table = Table.From(("x", Columns.Float32(1, 1, 1, 1, 1)), ("y", Columns.Float64(1, 2, 3, 4, 100)));
        var model = Fit(Train(table), new GbdtOptions { Objective = "reg:absoluteerror", NumBoostRound = 3 });
        Assert.Equal(3, model.PredictMargins(table)[0], 9);
    }

    [Fact]
    public void Early_stopping_keeps_the_best_round()
    {
        // Noisy labels: the validation loss bottoms out and then rises as the trees fit noise.
        var random = new Random(11);
        var train = Train(Numeric(600, 5, seed: 12, r => r[0] > 0 ^ random.NextDouble() < 0.3));
        var valid = TrainingData.FromTable(Numeric(600, 5, seed: 13, r => r[0] > 0 ^ random.NextDouble() < 0.3), new TrainingSpec { Label = "y" }, train);
        var values = new List<double>();
        var model = Fit(train, new GbdtOptions { NumBoostRound = 300, MaxDepth = 6, LearningRate = 0.5, EarlyStoppingRounds = 10 }, valid,
            new SyncProgress(p => values.Add(p.ValidValue!.Value)));
        var best = values.IndexOf(values.Min());
        Assert.True(values.Count < 300, "training should have stopped early");
        Assert.Equal(best + 11, values.Count);
        Assert.Equal(best + 1, model.Ensemble.TreeCount);
        Assert.Equal(best + 1, model.Metrics["best_round"]);
        Assert.Equal(values.Min(), model.Metrics["valid_logloss"]);
        var logloss = -Enumerable.Range(0, valid.Rows).Average(r =>
        {
            var p = Model.Apply(OutputTransform.Sigmoid, Margins(model, valid)[r]);
            return valid.Labels[r] == 1 ? Math.Log(p) : Math.Log(1 - p);
        });
        Assert.Equal(values.Min(), logloss, 9);
    }

    [Fact]
    public void Sample_weights_pull_the_fit_towards_heavy_rows()
    {
        // Two groups of rows share every feature value but disagree on the label; the weights decide the answer.
        var x = Enumerable.Repeat((float?)0.5f, 200).ToArray();
        var y = Enumerable.Range(0, 200).Select(i => (double?)(i < 100 ? 0 : 10)).ToArray();
        var w = Enumerable.Range(0, 200).Select(i => (double?)(i < 100 ? 1 : 3)).ToArray();
        var table = Table.From(("x", Columns.Float32(x)), ("w", Columns.Float64(w)), ("y", Columns.Float64(y)));
        var unweighted = Fit(Train(table, features: ["x"]), new GbdtOptions { NumBoostRound = 5 });
        var weighted = Fit(Train(table, weight: "w", features: ["x"]), new GbdtOptions { NumBoostRound = 5 });
        Assert.Equal(5, unweighted.PredictMargins(table)[0], 6);
        Assert.Equal(7.5, weighted.PredictMargins(table)[0], 6);
    }

    [Fact]
    public void Class_weights_and_scale_pos_weight_move_the_base_probability()
    {
        var table = Table.From(("x", Columns.Float32(Enumerable.Repeat((float?)1f, 100).ToArray())),
            ("y", Columns.String(Enumerable.Range(0, 100).Select(i => i < 80 ? "neg" : "pos").ToArray())));
        var data = Train(table);
        double Probability(GbdtOptions o) => Model.Apply(OutputTransform.Sigmoid, Fit(data, o with { NumBoostRound = 1 }).PredictMargins(table)[0]);
        Assert.Equal(0.2, Probability(new GbdtOptions()), 3);
        Assert.Equal(0.5, Probability(new GbdtOptions { ClassWeights = "balanced" }), 3);
        Assert.Equal(0.5, Probability(new GbdtOptions { ClassWeights = "pos:4" }), 3);
        Assert.Equal(0.5, Probability(new GbdtOptions { ScalePosWeight = 4 }), 3);
        var error = Assert.Throws<StrataException>(() => Fit(data, new GbdtOptions { ClassWeights = "maybe:2" }));
        Assert.Contains("'maybe'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_seed_gives_a_bit_identical_model_whatever_the_thread_count()
    {
        // Enough rows that big nodes' histograms are built in several row chunks and partitions span several chunks.
        var table = Numeric(150_000, 8, seed: 14, r => (r[0] * r[1]) + r[2] > 0.1f, missing: 0.05);
        var data = Train(table);
        var options = new GbdtOptions
        {
            NumBoostRound = 4, MaxDepth = 5, Subsample = 0.8, ColsampleByTree = 0.8, ColsampleByNode = 0.7, Seed = 42, LearningRate = 0.2,
        };
        var hashes = new[] { 1, 2, 4, 1, 3 }.Select(t => Hash(Fit(data, options with { NThread = t }))).ToList();
        Assert.All(hashes, h => Assert.Equal(hashes[0], h));
        var lossGuide = new[] { 1, 2, 4 }.Select(t => Hash(Fit(data, options with { NThread = t, GrowPolicy = GrowPolicy.LossGuide, MaxLeaves = 20 }))).ToList();
        Assert.All(lossGuide, h => Assert.Equal(lossGuide[0], h));
        Assert.NotEqual(hashes[0], Hash(Fit(data, options with { Seed = 43 })));
    }

    [Fact]
    public void Depth_wise_growth_respects_max_depth_and_loss_guided_growth_respects_num_leaves()
    {
        var data = Train(Numeric(5000, 6, seed: 15, r => Math.Sin(4 * r[0]) + (r[1] * r[2]) + (r[3] > 0 ? 1 : 0)));
        var depthWise = Fit(data, new GbdtOptions { NumBoostRound = 5, MaxDepth = 4, MinChildWeight = 0 });
        Assert.All(Shapes(depthWise.Ensemble), s => Assert.True(s.Depth <= 4));
        Assert.Contains(Shapes(depthWise.Ensemble), s => s.Depth == 4 && s.Leaves == 16);
        var lossGuide = Fit(data, new GbdtOptions { NumBoostRound = 5, GrowPolicy = GrowPolicy.LossGuide, MaxLeaves = 13, MaxDepth = 0 });
        Assert.All(Shapes(lossGuide.Ensemble), s => Assert.Equal(13, s.Leaves));
        Assert.Contains(Shapes(lossGuide.Ensemble), s => s.Depth > 4);
        var both = Fit(data, new GbdtOptions { NumBoostRound = 5, GrowPolicy = GrowPolicy.LossGuide, MaxLeaves = 40, MaxDepth = 3 });
        Assert.All(Shapes(both.Ensemble), s => Assert.True(s.Depth <= 3 && s.Leaves <= 8));
        var capped = Fit(data, new GbdtOptions { NumBoostRound = 5, MaxDepth = 6, MaxLeaves = 10 });
        Assert.All(Shapes(capped.Ensemble), s => Assert.True(s.Leaves <= 10));
    }

    [Fact]
    public void Cover_and_gain_are_filled_for_every_node()
    {
        var data = Train(Numeric(3000, 4, seed: 16, r => r[0] + r[1] > 0));
        var e = Fit(data, new GbdtOptions { NumBoostRound = 5, MaxDepth = 3 }).Ensemble;
        for (var t = 0; t < e.TreeCount; t++)
        {
            var root = e.TreeStarts[t];
            for (var n = root; n < e.TreeStarts[t + 1]; n++)
            {
                Assert.True(e.Cover[n] > 0);
                if (e.IsLeaf(n))
                {
                    Assert.Equal(0, e.Gain[n]);
                }
                else
                {
                    Assert.True(e.Gain[n] > 0);
                    Assert.Equal(e.Cover[n], e.Cover[e.LeftChild[n]] + e.Cover[e.RightChild[n]], 6);
                }
            }
        }

        // The first tree's root covers every row's hessian: p(1 - p) at the base probability.
        var p = Model.Apply(OutputTransform.Sigmoid, e.BaseMargins[0]);
        Assert.Equal(data.Rows * p * (1 - p), e.Cover[0], 2);
    }

    [Fact]
    public void Constant_features_give_a_valid_model_without_splits()
    {
        var table = Table.From(("x", Columns.Float32(Enumerable.Repeat((float?)2f, 50).ToArray())),
            ("z", Columns.String(Enumerable.Repeat("k", 50).ToArray())),
            ("y", Columns.Float64(Enumerable.Range(0, 50).Select(i => (double?)i).ToArray())));
        var model = Fit(Train(table), new GbdtOptions { NumBoostRound = 4 });
        Assert.Equal(4, model.Ensemble.TreeCount);
        Assert.Equal(4, model.Ensemble.NodeCount);
        Assert.All(model.PredictMargins(table), m => Assert.Equal(24.5, m, 9));
    }

    [Fact]
    public void Labels_outside_the_objective_domain_are_refused()
    {
        var negative = Table.From(("x", Columns.Float32(1, 2, 3)), ("y", Columns.Float64(1, -2, 3)));
        var error = Assert.Throws<StrataException>(() => Fit(Train(negative), new GbdtOptions { Objective = "count:poisson" }));
        Assert.Equal(ErrorCodes.ArgumentInvalid, error.Code);
        Assert.Contains("row 2", error.Message, StringComparison.Ordinal);
        var notBinary = Table.From(("x", Columns.Float32(1, 2, 3)), ("y", Columns.Float64(0, 1, 0.5)));
        error = Assert.Throws<StrataException>(() => Fit(Train(notBinary), new GbdtOptions { Objective = "binary:logistic" }));
        Assert.Contains("0 or 1", error.Message, StringComparison.Ordinal);
        // 0/1 labels in a regression table are fine for the logistic loss.
        var zeroOne = Table.From(("x", Columns.Float32(1, 2, 3, 4)), ("y", Columns.Float64(0, 0, 1, 1)));
        Assert.Equal(OutputTransform.Sigmoid, Fit(Train(zeroOne), new GbdtOptions { Objective = "binary" }).Transform);
    }

    [Fact]
    public void A_class_count_other_than_num_class_is_refused()
    {
        var table = Numeric(100, 2, seed: 17, r => r[0] < -0.3f ? "a" : r[0] < 0.3f ? "b" : "c");
        var error = Assert.Throws<StrataException>(() => Fit(Train(table), new GbdtOptions { NumClass = 4 }));
        Assert.Contains("num_class=4", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 classes", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, Fit(Train(table), new GbdtOptions { NumClass = 3, NumBoostRound = 2 }).OutputCount);
        var wrongTask = Assert.Throws<StrataException>(() => Fit(Train(table), new GbdtOptions { Objective = "reg:squarederror" }));
        Assert.Contains("cannot learn a multiclass task", wrongTask.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_rows_and_non_finite_labels_are_refused_before_training()
    {
        var empty = Table.From(("x", Columns.Float32()), ("y", Columns.Float64()));
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => Train(empty)).Code);
        var infinite = Table.From(("x", Columns.Float32(1, 2)), ("y", Columns.Float64(1, double.PositiveInfinity)));
        Assert.Contains("finite", Assert.Throws<StrataException>(() => Train(infinite)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_model_carries_the_signature_settings_and_learner_name()
    {
        var table = Numeric(300, 2, seed: 18, r => r[0] > 0);
        var data = Train(table);
        var learner = new GbdtLearner(new GbdtOptions { NumBoostRound = 3, LearningRate = 0.1 });
        var before = learner.GetOutputSchema(table.Schema, new TrainingSpec { Label = "y" });
        var model = await learner.FitAsync(data);
        Assert.Equal("gbdt", model.Learner);
        Assert.Equal(before.Outputs, model.Signature.Outputs);
        Assert.Equal(before.Inputs, model.Signature.Inputs);
        Assert.Equal("0.1", model.Settings["learning_rate"]);
        Assert.Equal(learner.Options, GbdtOptions.Parse(model.Settings));
        var roundTrip = TreeEnsembleModel.FromParameters(ModelKinds.HeaderOf(model), model.ToParameters());
        Assert.Equal(model.PredictMargins(table), roundTrip.PredictMargins(table));
    }

    [Fact]
    public async Task Cancellation_stops_training()
    {
        var data = Train(Numeric(20_000, 5, seed: 19, r => r[0] > 0));
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress(p =>
        {
            if (p.Round == 2)
            {
                cts.Cancel();
            }
        });
        var fit = new GbdtLearner(new GbdtOptions { NumBoostRound = 1000 }).FitAsync(data, null, progress, cts.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fit);
    }

    /// <summary>Reports on the training thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
