using Strata.Learning;
using Strata.Learning.Linear;

namespace Strata.Tests.Learning.Linear;

/// <summary>Bad input gives a clear error (a <see cref="StrataException"/> naming the problem) or documented behaviour.</summary>
public sealed class LinearBadInputTests
{
    [Fact]
    public void Zero_rows_are_refused_before_training()
    {
        var empty = LinearTestData.Binary(10, seed: 1).Slice(0, 0);

        var error = Assert.Throws<StrataException>(() => LinearTestData.Prepare(empty));

        Assert.Equal(ErrorCodes.ArgumentInvalid, error.Code);
        Assert.Contains("no rows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_label_with_one_class_is_refused()
    {
        var table = LinearTestData.WithColumn(LinearTestData.Regression(50, seed: 2), "y", _ => 1);
        var allTrue = Table.From(("x1", table["x1"]), ("y", Columns.Bool([.. Enumerable.Repeat((bool?)true, 50)])));

        var error = Assert.Throws<StrataException>(() => TrainingData.FromTable(allTrue, new TrainingSpec { Label = "y", Task = LearningTask.BinaryClassification }));

        Assert.Contains("exactly 2 classes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_class_without_rows_in_training_data_prepared_like_another_set_is_refused_by_name()
    {
        var reference = LinearTestData.Prepare(LinearTestData.Binary(200, seed: 3));
        var table = LinearTestData.Binary(200, seed: 4);
        var onlyFalse = table.Take([.. Enumerable.Range(0, table.RowCount).Where(i => !table.GetColumn<bool>("y")[i])]);
        var train = TrainingData.FromTable(onlyFalse, new TrainingSpec { Label = "y" }, like: reference);

        var error = Assert.Throws<StrataException>(() => new LogisticRegressionLearner().Fit(train));

        Assert.Equal(ErrorCodes.ArgumentInvalid, error.Code);
        Assert.Contains("class 'true'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_class_with_only_zero_weights_counts_as_absent()
    {
        var table = LinearTestData.Binary(300, seed: 5);
        var y = table.GetColumn<bool>("y");
        var weights = Columns.Float64([.. Enumerable.Range(0, table.RowCount).Select(i => (double?)(y[i] ? 0 : 1))]);
        var weighted = Table.From([.. table.Schema.Names.Select(n => (n, table[n])), ("w", weights)]);

        var error = Assert.Throws<StrataException>(() => new LinearSvmLearner().Fit(LinearTestData.Prepare(weighted, weight: "w")));

        Assert.Contains("zero weights", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_weight_zero_is_refused()
    {
        var table = LinearTestData.Regression(30, seed: 6);
        var weighted = Table.From([.. table.Schema.Names.Select(n => (n, table[n])), ("w", Columns.Float64([.. Enumerable.Repeat((double?)0, 30)]))]);

        var error = Assert.Throws<StrataException>(() => new LinearRegressionLearner().Fit(LinearTestData.Prepare(weighted, weight: "w")));

        Assert.Contains("every sample weight is zero", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_learner_refuses_a_task_it_does_not_do_and_says_which_it_does()
    {
        var regression = LinearTestData.Prepare(LinearTestData.Regression(40, seed: 7));
        var multiclass = LinearTestData.Prepare(LinearTestData.Multiclass(60, seed: 8));
        var binary = LinearTestData.Prepare(LinearTestData.Binary(40, seed: 9));

        Assert.Contains("does binary or multiclass", Assert.Throws<StrataException>(() => new LogisticRegressionLearner().Fit(regression)).Message, StringComparison.Ordinal);
        Assert.Contains("does binary", Assert.Throws<StrataException>(() => new LinearSvmLearner().Fit(multiclass)).Message, StringComparison.Ordinal);
        Assert.Contains("does regression", Assert.Throws<StrataException>(() => new LinearRegressionLearner().Fit(binary)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Labels_outside_the_classes_are_refused_with_the_row()
    {
        var reference = LinearTestData.Prepare(LinearTestData.Multiclass(100, seed: 10));
        var table = Table.From(("x1", Columns.Float64(1, 2)), ("x2", Columns.Float64(1, 2)), ("y", Columns.String("k0", "k9")));

        var error = Assert.Throws<StrataException>(() => TrainingData.FromTable(table, new TrainingSpec { Label = "y" }, like: reference));

        Assert.Contains("'k9' at row 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_infinite_feature_is_refused_by_name_and_row()
    {
        var table = LinearTestData.WithColumn(LinearTestData.Regression(20, seed: 11), "x1", v => v > 0.5 ? double.PositiveInfinity : v);

        var error = Assert.Throws<StrataException>(() => new LinearRegressionLearner().Fit(LinearTestData.Prepare(table)));

        Assert.Contains("feature 'x1' is +infinity at row", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_feature_missing_everywhere_gets_weight_zero_and_a_warning()
    {
        var table = LinearTestData.WithColumn(LinearTestData.Regression(100, seed: 12), "x1", _ => null);

        var model = new LinearRegressionLearner().Fit(LinearTestData.Prepare(table));

        Assert.Equal(0, model.Weight("x1"));
        Assert.Contains(model.Warnings, w => w.Contains("x1", StringComparison.Ordinal));
    }

    [Fact]
    public void Separable_data_without_a_penalty_is_reported()
    {
        var x = Columns.Float64(-2, -1, 1, 2);
        var table = Table.From(("x", x), ("y", Columns.Bool(false, false, true, true)));

        var model = new LogisticRegressionLearner(new LogisticRegressionOptions { L2 = 0 }).Fit(LinearTestData.Prepare(table));
        var penalised = new LogisticRegressionLearner(new LogisticRegressionOptions { L2 = 0.01 }).Fit(LinearTestData.Prepare(table));

        // The loss has no minimum: its gradient vanishes as the weight grows, so the solver stops at the tolerance.
        Assert.Contains(model.Warnings, w => w.Contains("linearly separable", StringComparison.Ordinal));
        Assert.True(model.Weight("x") > 5, "the weight grows on separable data");
        Assert.Empty(penalised.Warnings);
        Assert.True(penalised.Weight("x") < model.Weight("x"));
    }

    [Fact]
    public void A_constant_label_gives_a_constant_regression()
    {
        var table = LinearTestData.WithColumn(LinearTestData.Regression(100, seed: 13), "y", _ => 7.5);

        var model = new LinearRegressionLearner().Fit(LinearTestData.Prepare(table));

        Assert.All(model.PredictMargins(table), m => Assert.Equal(7.5, m, 1e-9));
    }

    [Fact]
    public void Validation_data_encoded_differently_is_refused()
    {
        var train = LinearTestData.Prepare(LinearTestData.Binary(100, seed: 14));
        var other = LinearTestData.Prepare(LinearTestData.Binary(100, seed: 15).Select("x1", "x2", "y"));

        var error = Assert.Throws<StrataException>(() => new LogisticRegressionLearner().Fit(train, other));

        Assert.Contains("like: train", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_set_in_code_are_checked_too()
    {
        var data = LinearTestData.Prepare(LinearTestData.Regression(20, seed: 16));

        var error = Assert.Throws<StrataException>(() => new LinearRegressionLearner(new LinearRegressionOptions { L2 = -1 }).Fit(data));

        Assert.Equal("linear: option 'l2': '-1' must be finite and ≥ 0", error.Message);
    }
}
