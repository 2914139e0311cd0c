using Strata.Learning;
using Strata.Learning.Linear;

namespace Strata.Tests.Learning.Linear;

public sealed class LinearLearnerTests
{
    [Fact]
    public void Least_squares_recovers_known_coefficients()
    {
        var data = LinearTestData.Prepare(LinearTestData.Regression(20_000, seed: 1));

        var model = new LinearRegressionLearner().Fit(data);

        Assert.Equal(2.0, model.Weight("x1"), 2);
        Assert.Equal(-3.0, model.Weight("x2"), 2);
        // One-hot without a reference level: only differences between categories are identified, plus the intercept.
        Assert.Equal(1.0, model.Weight("cat=b") - model.Weight("cat=a"), 2);
        Assert.Equal(-2.0, model.Weight("cat=c") - model.Weight("cat=a"), 2);
        Assert.Equal(1.5, model.Intercepts[0] + model.Weight("cat=a"), 1);
        Assert.Empty(model.Warnings);
        Assert.Equal(1, model.Metrics["train.converged"]);
        Assert.True(model.Metrics["train.r2"] > 0.999);
    }

    [Fact]
    public void Logistic_regression_recovers_known_coefficients()
    {
        var data = LinearTestData.Prepare(LinearTestData.Binary(60_000, seed: 2));

        var model = new LogisticRegressionLearner(new LogisticRegressionOptions { L2 = 0 }).Fit(data);

        Assert.Equal(LearningTask.BinaryClassification, model.Task);
        Assert.Equal(OutputTransform.Sigmoid, model.Transform);
        Assert.Equal(1.0, model.Weight("x1"), 1);
        Assert.Equal(-2.0, model.Weight("x2"), 1);
        Assert.Equal(0.8, model.Weight("cat=b") - model.Weight("cat=a"), 1);
        Assert.Equal(-0.5, model.Intercepts[0] + model.Weight("cat=a"), 1);
    }

    [Fact]
    public void Multinomial_logistic_regression_recovers_differences_between_class_margins()
    {
        var data = LinearTestData.Prepare(LinearTestData.Multiclass(60_000, seed: 3));

        var model = new LogisticRegressionLearner(new LogisticRegressionOptions { L2 = 0 }).Fit(data);

        Assert.Equal(3, model.OutputCount);
        Assert.Equal(["k0", "k1", "k2"], model.ClassLabels);
        // Softmax margins are identified up to a shared shift: compare with class k0.
        Assert.Equal(1.0, model.Weight("x1", 1) - model.Weight("x1", 0), 1);
        Assert.Equal(-1.0, model.Weight("x2", 1) - model.Weight("x2", 0), 1);
        Assert.Equal(2.0, model.Weight("x2", 2) - model.Weight("x2", 0), 1);
        Assert.Equal(0.5, model.Intercepts[2] - model.Intercepts[0], 1);
    }

    [Fact]
    public void Scaling_a_feature_by_a_power_of_two_gives_bit_identical_predictions()
    {
        var table = LinearTestData.Binary(3_000, seed: 4);
        var scaled = LinearTestData.WithColumn(table, "x1", v => v * 4);

        var plain = new LogisticRegressionLearner().Fit(LinearTestData.Prepare(table));
        var other = new LogisticRegressionLearner().Fit(LinearTestData.Prepare(scaled));

        Assert.Equal(plain.PredictMargins(table), other.PredictMargins(scaled));
        Assert.Equal(plain.Weight("x1"), other.Weight("x1") * 4);
    }

    [Fact]
    public void Standardisation_is_folded_so_predictions_do_not_depend_on_feature_units()
    {
        var table = LinearTestData.Regression(2_000, seed: 5);
        // Features are float32, so the transformed values are rounded again (about 1e-7 relative): predictions agree
        // to that, not bit for bit (a large offset such as +1000 would round away real digits of x1).
        var shifted = LinearTestData.WithColumn(LinearTestData.WithColumn(table, "x1", v => (v * 3.7) - 2), "x2", v => v * 0.001);
        var options = new LinearRegressionOptions { L2 = 0.1, Tolerance = 1e-10 };

        var plain = new LinearRegressionLearner(options).Fit(LinearTestData.Prepare(table));
        var other = new LinearRegressionLearner(options).Fit(LinearTestData.Prepare(shifted));

        var a = plain.PredictMargins(table);
        var b = other.PredictMargins(shifted);
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i], b[i], 1e-5 * Math.Max(1, Math.Abs(a[i])));
        }
    }

    [Fact]
    public void Prediction_needs_no_scaler_it_is_intercept_plus_weights_times_raw_values()
    {
        var table = LinearTestData.Regression(500, seed: 6);
        var model = new LinearRegressionLearner(new LinearRegressionOptions { L2 = 0.01 }).Fit(LinearTestData.Prepare(table));

        var margins = model.PredictMargins(table);

        var x1 = table.GetColumn<double>("x1");
        var x2 = table.GetColumn<double>("x2");
        var cat = table.GetStringColumn("cat");
        for (var i = 0; i < table.RowCount; i++)
        {
            var expected = model.Intercepts[0] + (model.Weight("x1") * (float)x1[i]) + (model.Weight("x2") * (float)x2[i]) + model.Weight("cat=" + cat[i]);
            Assert.Equal(expected, margins[i], 1e-9 * Math.Max(1, Math.Abs(expected)));
        }
    }

    [Fact]
    public void Missing_numbers_are_imputed_with_the_training_mean()
    {
        var table = LinearTestData.WithColumn(LinearTestData.Regression(1_000, seed: 7), "x1", v => v > 1.5 ? null : v);
        var model = new LinearRegressionLearner().Fit(LinearTestData.Prepare(table));
        var x1 = table.GetColumn<double>("x1");
        var present = Enumerable.Range(0, table.RowCount).Where(i => !x1.IsNull(i)).Select(i => (double)(float)x1[i]).ToArray();

        Assert.Equal(present.Average(), model.ImputeValues[0], 1e-9);
        var missing = Table.From(("x1", Columns.Float64([null])), ("x2", Columns.Float64(3.0)), ("cat", Columns.String("b")));
        var atMean = Table.From(("x1", Columns.Float64(model.ImputeValues[0])), ("x2", Columns.Float64(3.0)), ("cat", Columns.String("b")));
        Assert.Equal(model.PredictMargins(atMean)[0], model.PredictMargins(missing)[0], 1e-6);
    }

    [Fact]
    public void Categories_are_one_hot_and_a_missing_or_unseen_category_adds_nothing()
    {
        var table = LinearTestData.Regression(1_000, seed: 8);
        var model = new LinearRegressionLearner().Fit(LinearTestData.Prepare(table));
        Assert.Equal(["x1", "x2", "cat=a", "cat=b", "cat=c"], model.TermNames);

        var rows = Table.From(
            ("x1", Columns.Float64(0.5, 0.5, 0.5, 0.5)),
            ("x2", Columns.Float64(2.0, 2.0, 2.0, 2.0)),
            ("cat", Columns.String("b", "purple", null, "c")));
        var margins = model.PredictMargins(rows);

        var numeric = model.Intercepts[0] + (model.Weight("x1") * 0.5) + (model.Weight("x2") * 2.0);
        Assert.Equal(numeric + model.Weight("cat=b"), margins[0], 1e-9);
        Assert.Equal(numeric, margins[1], 1e-9);
        Assert.Equal(numeric, margins[2], 1e-9);
        Assert.Equal(numeric + model.Weight("cat=c"), margins[3], 1e-9);
    }

    [Fact]
    public void Integer_columns_can_be_forced_categorical()
    {
        var random = new Random(9);
        var code = Enumerable.Range(0, 600).Select(_ => (long?)random.Next(3) * 10).ToArray();
        var y = code.Select(c => (double?)(c == 10 ? 5.0 : 1.0) + (0.01 * LinearTestData.Normal(random))).ToArray();
        var table = Table.From(("code", Columns.Int64(code)), ("y", Columns.Float64(y)));

        var data = TrainingData.FromTable(table, new TrainingSpec { Label = "y", Categorical = ["code"] });
        var model = new LinearRegressionLearner().Fit(data);

        Assert.Equal(["code=0", "code=10", "code=20"], model.TermNames);
        Assert.Equal(4.0, model.Weight("code=10") - model.Weight("code=0"), 2);
    }

    [Fact]
    public void A_constant_feature_keeps_weight_zero_and_is_reported()
    {
        var table = LinearTestData.WithColumn(LinearTestData.Regression(500, seed: 10), "x2", _ => 4.25);

        var model = new LinearRegressionLearner().Fit(LinearTestData.Prepare(table));

        Assert.Equal(0, model.Weight("x2"));
        Assert.Contains(model.Warnings, w => w.Contains("constant", StringComparison.Ordinal) && w.Contains("x2", StringComparison.Ordinal));
        Assert.Equal(1, model.Metrics["train.converged"]);
    }

    [Fact]
    public void Non_convergence_is_recorded_as_a_warning_not_hidden()
    {
        var data = LinearTestData.Prepare(LinearTestData.Binary(2_000, seed: 11));

        var model = new LogisticRegressionLearner(new LogisticRegressionOptions { MaxIterations = 2 }).Fit(data);

        Assert.Equal(0, model.Metrics["train.converged"]);
        Assert.Equal(2, model.Metrics["train.iterations"]);
        Assert.Contains(model.Warnings, w => w.StartsWith("did not converge", StringComparison.Ordinal));
        Assert.StartsWith("did not converge", model.Settings[LinearModel.WarningsKey], StringComparison.Ordinal);
    }

    [Fact]
    public void Same_data_gives_bit_identical_weights_whatever_the_thread_count()
    {
        // 50 000 rows make 25 blocks, so several threads really share the gradient.
        var data = LinearTestData.Prepare(LinearTestData.Multiclass(50_000, seed: 12));

        var one = new LogisticRegressionLearner(new LogisticRegressionOptions { Threads = 1 }).Fit(data);
        var four = new LogisticRegressionLearner(new LogisticRegressionOptions { Threads = 4 }).Fit(data);
        var again = new LogisticRegressionLearner(new LogisticRegressionOptions { Threads = 4 }).Fit(data);

        Assert.True(one.Weights.SequenceEqual(four.Weights));
        Assert.True(one.Intercepts.SequenceEqual(four.Intercepts));
        Assert.True(four.Weights.SequenceEqual(again.Weights));
        Assert.Equal(one.Settings, four.Settings);
    }

    [Fact]
    public void Sample_weights_act_like_repeated_rows()
    {
        var table = LinearTestData.Binary(400, seed: 13);
        var weights = Enumerable.Range(0, table.RowCount).Select(i => (double?)(1 + (i % 3))).ToArray();
        var weighted = Table.From([.. table.Schema.Names.Select(n => (n, table[n])), ("w", Columns.Float64(weights))]);
        var repeated = table.Take([.. Enumerable.Range(0, table.RowCount).SelectMany(i => Enumerable.Repeat(i, 1 + (i % 3)))]);
        var options = new LogisticRegressionOptions { Tolerance = 1e-10 };

        var a = new LogisticRegressionLearner(options).Fit(TrainingData.FromTable(weighted, new TrainingSpec { Label = "y", Weight = "w" }));
        var b = new LogisticRegressionLearner(options).Fit(LinearTestData.Prepare(repeated));

        for (var t = 0; t < a.Weights.Length; t++)
        {
            Assert.Equal(b.Weights[t], a.Weights[t], 1e-7);
        }

        Assert.Equal(b.Intercepts[0], a.Intercepts[0], 1e-7);
    }

    [Fact]
    public async Task Training_stops_when_cancelled()
    {
        var data = LinearTestData.Prepare(LinearTestData.Binary(5_000, seed: 14));
        using var cancel = new CancellationTokenSource();
        var options = new LogisticRegressionOptions { Tolerance = 0, MaxIterations = 1_000_000 };

        // The first iteration's report cancels; the solver must notice before the next one.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new LogisticRegressionLearner(options).FitAsync(data, progress: new SyncProgress(_ => cancel.Cancel()), cancellationToken: cancel.Token));
    }

    [Fact]
    public void Progress_reports_each_iteration_with_the_objective()
    {
        var reports = new List<TrainingProgress>();
        var data = LinearTestData.Prepare(LinearTestData.Binary(1_000, seed: 15));

        var model = new LogisticRegressionLearner().Fit(data, progress: new SyncProgress(reports.Add));

        Assert.Equal(model.Metrics["train.iterations"], reports.Count);
        Assert.Equal(Enumerable.Range(1, reports.Count), reports.Select(r => r.Round));
        Assert.All(reports, r => Assert.Equal("objective", r.Metric));
        Assert.True(reports[^1].TrainValue < reports[0].TrainValue);
    }

    [Fact]
    public void A_validation_set_adds_validation_metrics()
    {
        var train = LinearTestData.Prepare(LinearTestData.Binary(2_000, seed: 16));
        var valid = TrainingData.FromTable(LinearTestData.Binary(1_000, seed: 17), new TrainingSpec { Label = "y" }, like: train);

        var model = new LogisticRegressionLearner().Fit(train, valid);

        Assert.InRange(model.Metrics["valid.auc"], 0.8, 1.0);
        Assert.InRange(model.Metrics["valid.log_loss"], 0.1, 0.6);
        Assert.True(model.Metrics.ContainsKey("train.accuracy"));
    }

    [Fact]
    public void Svm_scores_separate_the_classes_and_platt_probabilities_are_calibrated()
    {
        var train = LinearTestData.Prepare(LinearTestData.Binary(6_000, seed: 18));
        var test = LinearTestData.Binary(6_000, seed: 19);

        var model = new LinearSvmLearner().Fit(train);

        Assert.Equal("svm", model.Learner);
        Assert.True(model.CalibrationSlope > 0, "Platt's A is negative, so the slope on the score is positive");
        var probabilities = model.Predict(test).GetColumn<double>("probability");
        var truth = test.GetColumn<bool>("y");
        var meanProbability = Enumerable.Range(0, test.RowCount).Average(i => probabilities[i]);
        var meanTruth = Enumerable.Range(0, test.RowCount).Average(i => truth[i] ? 1.0 : 0.0);
        Assert.Equal(meanTruth, meanProbability, 0.02);
        Assert.InRange(model.Metrics["train.auc"], 0.85, 1.0);

        var uncalibrated = new LinearSvmLearner(new LinearSvmOptions { Calibrate = false }).Fit(train);
        Assert.Equal(1, uncalibrated.CalibrationSlope);
        Assert.Equal(0, uncalibrated.CalibrationOffset);
        Assert.True(uncalibrated.Weights.SequenceEqual(model.Weights), "calibration changes the probabilities, not the SVM");
    }

    [Fact]
    public void Elastic_net_on_the_svm_and_logistic_zeroes_an_irrelevant_feature()
    {
        var table = LinearTestData.Binary(3_000, seed: 20);
        var random = new Random(21);
        var noisy = Table.From([.. table.Schema.Names.Select(n => (n, table[n])), ("noise", Columns.Float64([.. Enumerable.Range(0, table.RowCount).Select(_ => (double?)LinearTestData.Normal(random))]))]);
        var data = LinearTestData.Prepare(noisy);

        var logistic = new LogisticRegressionLearner(new LogisticRegressionOptions { L1 = 0.02, L2 = 0.01 }).Fit(data);
        var svm = new LinearSvmLearner(new LinearSvmOptions { L1 = 0.05 }).Fit(data);

        Assert.Equal(0, logistic.Weight("noise"));
        Assert.Equal(0, svm.Weight("noise"));
        Assert.NotEqual(0, logistic.Weight("x2"));
        Assert.NotEqual(0, svm.Weight("x2"));
    }

    [Fact]
    public void Multinomial_lasso_zeroes_an_irrelevant_feature_for_every_class()
    {
        var table = LinearTestData.Multiclass(3_000, seed: 22);
        var random = new Random(23);
        var noisy = Table.From([.. table.Schema.Names.Select(n => (n, table[n])), ("noise", Columns.Float64([.. Enumerable.Range(0, table.RowCount).Select(_ => (double?)LinearTestData.Normal(random))]))]);

        var model = new LogisticRegressionLearner(new LogisticRegressionOptions { L1 = 0.02, L2 = 0 }).Fit(LinearTestData.Prepare(noisy));

        Assert.All(Enumerable.Range(0, 3), k => Assert.Equal(0, model.Weight("noise", k)));
        Assert.Equal(1, model.Metrics["train.converged"]);
        Assert.True(model.Metrics["train.accuracy"] > 0.6);
    }

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
