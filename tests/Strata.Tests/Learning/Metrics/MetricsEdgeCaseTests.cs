using Strata.Learning;
using Strata.Learning.Metrics;
using Strata.Tests.Data.Profiling;

namespace Strata.Tests.Learning.Metrics;

public sealed class MetricsEdgeCaseTests
{
    [Fact]
    public void Auc_counts_a_tie_between_a_positive_and_a_negative_as_one_half()
    {
        Assert.Equal(0.5, BinaryMetrics.RocAuc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]));
        Assert.Equal(0.875, BinaryMetrics.RocAuc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.8]));
    }

    [Fact]
    public void Auc_matches_the_pairwise_definition_with_weights_and_ties()
    {
        Property.ForSeeds(Enumerable.Range(1, 20), seed =>
        {
            var random = new Random(seed);
            var n = random.Next(2, 200);
            var labels = Enumerable.Range(0, n).Select(_ => random.Next(2)).ToArray();
            labels[0] = 0;
            labels[1] = 1;
            var scores = Enumerable.Range(0, n).Select(_ => random.Next(10) / 10.0).ToArray();
            var weights = Enumerable.Range(0, n).Select(_ => random.Next(1, 4) / 2.0).ToArray();

            double concordant = 0, pairs = 0;
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    if (labels[i] == 1 && labels[j] == 0)
                    {
                        var w = weights[i] * weights[j];
                        pairs += w;
                        concordant += w * (scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0);
                    }
                }
            }

            Assert.Equal(concordant / pairs, BinaryMetrics.RocAuc(labels, scores, weights), 1e-12);
        });
    }

    [Fact]
    public void Rank_metrics_of_a_single_class_are_nan_not_an_error()
    {
        Assert.True(double.IsNaN(BinaryMetrics.RocAuc([0, 0, 0], [0.1, 0.5, 0.9])));
        Assert.True(double.IsNaN(BinaryMetrics.RocAuc([1, 1], [0.1, 0.5])));
        Assert.True(double.IsNaN(BinaryMetrics.AveragePrecision([0, 0, 0], [0.1, 0.5, 0.9])));
        Assert.Equal(1.0, BinaryMetrics.AveragePrecision([1, 1], [0.1, 0.5]));
        Assert.True(double.IsNaN(MulticlassMetrics.RocAucOneVsRest([0, 1, 1], [0.6, 0.3, 0.1, 0.2, 0.7, 0.1, 0.1, 0.8, 0.1], 3)));
    }

    [Fact]
    public void Every_metric_of_an_empty_set_is_nan()
    {
        foreach (var task in new[] { LearningTask.BinaryClassification, LearningTask.MulticlassClassification, LearningTask.Regression })
        {
            var set = MetricSet.Compute(task, 3, [], []);

            Assert.Equal(0, set.Rows);
            Assert.All(MetricSet.NamesFor(task), name => Assert.True(double.IsNaN(set[name]), $"{task} {name} = {set[name]}"));
        }
    }

    [Fact]
    public void A_slice_whose_weights_are_all_zero_has_nan_metrics()
    {
        var report = Evaluation.Evaluate(
            LearningTask.Regression,
            null,
            [1.0, 2.0, 3.0],
            [1.5, 2.0, 2.0],
            [1.0, 1.0, 0.0],
            ["a", "a", "b"]);

        Assert.Equal(["a", "b"], report.Slices.Select(s => s.Value));
        Assert.Equal(0.25 / 2, report.Overall[MetricNames.Mse], 1e-15);
        Assert.Equal(1, report.Slices[1].Metrics.Rows);
        Assert.True(double.IsNaN(report.Slices[1].Metrics[MetricNames.Rmse]));
    }

    [Fact]
    public void Evaluating_zero_rows_gives_nan_overall_and_no_slices()
    {
        var (table, model) = MetricsFixtureTests.Load("binary");

        var report = Evaluation.Evaluate(model, table.Slice(0, 0), "y", slice: "slice");

        Assert.Equal(0, report.Overall.Rows);
        Assert.Empty(report.Slices);
        Assert.True(double.IsNaN(report.Overall[MetricNames.RocAuc]));
        Assert.True(double.IsNaN(report.Overall[MetricNames.Accuracy]));
    }

    [Fact]
    public void Calibration_bins_are_ten_equal_width_bins_with_one_in_the_last()
    {
        var bins = BinaryMetrics.CalibrationCurve([1, 0, 1, 1], [0.0, 0.1, 0.95, 1.0]);

        Assert.Equal(10, bins.Length);
        Assert.Equal(1, bins[0].Rows);
        Assert.Equal(1, bins[1].Rows);
        Assert.Equal(2, bins[9].Rows);
        Assert.Equal(0.975, bins[9].MeanConfidence, 1e-15);
        // |1 − 0| + |0 − 0.1| + |2 − 1.95| over 4 rows.
        Assert.Equal((1 + 0.1 + 0.05) / 4, BinaryMetrics.ExpectedCalibrationError([1, 0, 1, 1], [0.0, 0.1, 0.95, 1.0]), 1e-15);
    }

    [Fact]
    public void Precision_of_a_class_never_predicted_is_zero_as_in_scikit_learn()
    {
        var result = ClassificationMetrics.PrecisionRecallF1([1, 0, 1], [0, 0, 0], 2, Average.Binary);

        Assert.Equal(new PrecisionRecall(0, 0, 0), result);
        Assert.Equal(1.0 / 3, ClassificationMetrics.PrecisionRecallF1([1, 0, 1], [0, 0, 0], 2, Average.Micro).F1, 1e-15);
    }

    [Fact]
    public void Macro_average_skips_classes_absent_from_both_truth_and_predictions()
    {
        var three = ClassificationMetrics.PrecisionRecallF1([0, 1, 1], [0, 1, 0], 3, Average.Macro);
        var two = ClassificationMetrics.PrecisionRecallF1([0, 1, 1], [0, 1, 0], 2, Average.Macro);

        Assert.Equal(two, three);
    }

    [Fact]
    public void R2_of_a_constant_label_is_one_when_perfect_and_zero_otherwise()
    {
        Assert.Equal(1, RegressionMetrics.R2([2.0, 2.0], [2.0, 2.0]));
        Assert.Equal(0, RegressionMetrics.R2([2.0, 2.0], [2.0, 3.0]));
    }

    [Fact]
    public void Log_loss_clips_certain_wrong_predictions_to_a_finite_loss()
    {
        var loss = BinaryMetrics.LogLoss([1, 0], [0.0, 0.0]);

        Assert.Equal(-Math.Log(2.220446049250313e-16) / 2, loss, 1e-12);
    }

    [Fact]
    public void Bad_inputs_are_refused_with_the_row()
    {
        Assert.Contains("label is 2 at row 2", Assert.Throws<StrataException>(() => BinaryMetrics.RocAuc([0, 2], [0.1, 0.2])).Message, StringComparison.Ordinal);
        Assert.Contains("score is NaN at row 1", Assert.Throws<StrataException>(() => BinaryMetrics.RocAuc([0, 1], [double.NaN, 0.2])).Message, StringComparison.Ordinal);
        Assert.Contains("sample weight is -1 at row 2", Assert.Throws<StrataException>(() => BinaryMetrics.BrierScore([0, 1], [0.1, 0.2], [1, -1])).Message, StringComparison.Ordinal);
        Assert.Contains("probability is 1.5", Assert.Throws<StrataException>(() => BinaryMetrics.LogLoss([0, 1], [0.1, 1.5])).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => RegressionMetrics.Mae([1.0, 2.0], [1.0]));
    }

    [Fact]
    public void Evaluating_a_model_refuses_unknown_classes_and_null_labels_by_row()
    {
        var (table, model) = MetricsFixtureTests.Load("multiclass");
        var rows = table.Slice(0, 2);
        var unknown = Table.From([.. rows.Schema.Names.Select(n => (n, n == "y" ? Columns.String("ant", "dog") : rows[n]))]);
        var missing = Table.From([.. rows.Schema.Names.Select(n => (n, n == "y" ? Columns.String("ant", null) : rows[n]))]);

        Assert.Contains("class 'dog' at row 2", Assert.Throws<StrataException>(() => Evaluation.Evaluate(model, unknown, "y")).Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.DataNull, Assert.Throws<StrataException>(() => Evaluation.Evaluate(model, missing, "y")).Code);
        Assert.Contains("no slice column 'region'", Assert.Throws<StrataException>(() => Evaluation.Evaluate(model, rows, "y", slice: "region")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Numeric_slices_are_ordered_by_value_and_null_comes_last()
    {
        var (table, model) = MetricsFixtureTests.Load("regression");
        var rows = table.Slice(0, 6);
        var sliced = Table.From([.. rows.Schema.Names.Select(n => (n, rows[n])), ("bucket", Columns.Int64(10, 9, null, 10, 100, 9))]);

        var report = Evaluation.Evaluate(model, sliced, "y", slice: "bucket");

        Assert.Equal(["9", "10", "100", null], report.Slices.Select(s => s.Value));
        Assert.Equal([2, 2, 1, 1], report.Slices.Select(s => s.Metrics.Rows));
    }

    [Fact]
    public void The_report_prints_overall_and_per_slice_rows_and_a_confusion_matrix()
    {
        var (table, model) = MetricsFixtureTests.Load("binary");

        var report = Evaluation.Evaluate(model, table, "y", slice: "slice");
        var text = report.ToText();
        var output = report.ToTable();

        var lines = text.Split('\n');
        Assert.StartsWith("slice ", lines[0], StringComparison.Ordinal);
        Assert.Contains("auc", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("(all)", lines[1], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("solo", StringComparison.Ordinal) && l.Contains("NaN", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("(null)", StringComparison.Ordinal));
        Assert.Contains("confusion matrix (all rows):", text, StringComparison.Ordinal);
        Assert.Equal(["slice", "rows", "weight", .. MetricSet.NamesFor(LearningTask.BinaryClassification)], output.Schema.Names);
        Assert.Equal(1 + report.Slices.Count, output.RowCount);
        Assert.Equal(report.Overall[MetricNames.RocAuc], output.GetColumn<double>("auc")[0]);
    }
}
