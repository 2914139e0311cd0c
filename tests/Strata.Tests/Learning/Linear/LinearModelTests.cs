using Strata.Learning;
using Strata.Learning.Linear;

namespace Strata.Tests.Learning.Linear;

public sealed class LinearModelTests
{
    [Theory]
    [InlineData("logistic")]
    [InlineData("linear")]
    [InlineData("svm")]
    [InlineData("logistic-multiclass")]
    public async Task Parameters_round_trip_through_model_kinds(string which)
    {
        var (learner, table) = which switch
        {
            "logistic" => (LinearLearners.Create("logistic"), LinearTestData.Binary(500, seed: 1)),
            "svm" => (LinearLearners.Create("svm"), LinearTestData.Binary(500, seed: 2)),
            "linear" => (LinearLearners.Create("linear"), LinearTestData.Regression(500, seed: 3)),
            _ => (LinearLearners.Create("logistic"), LinearTestData.Multiclass(500, seed: 4)),
        };
        var model = (LinearModel)await learner.FitAsync(LinearTestData.Prepare(table));

        var parameters = model.ToParameters();
        var rebuilt = ModelKinds.Create(ModelKinds.HeaderOf(model), parameters);

        Assert.Equal(LinearModel.Kind, parameters.Kind);
        var copy = Assert.IsType<LinearModel>(rebuilt);
        Assert.Equal(model.PredictMargins(table), copy.PredictMargins(table));
        Assert.Equal(model.Metrics, copy.Metrics);
        Assert.Equal(model.Signature, copy.Signature);
        Assert.Equal(model.TermNames, copy.TermNames);
    }

    [Theory]
    [InlineData("weights", 4)]
    [InlineData("intercepts", 2)]
    [InlineData("impute", 1)]
    [InlineData("calibration", 3)]
    public void Loading_checks_every_array_length(string array, int length)
    {
        var model = new LinearRegressionLearner().Fit(LinearTestData.Prepare(LinearTestData.Regression(100, seed: 5)));
        var good = model.ToParameters();
        var bad = new ModelParameters(LinearModel.Kind).Add("term_count", good.Int64("term_count"));
        foreach (var (name, values) in good.Arrays)
        {
            bad.Add(name, name == array ? new double[length] : values);
        }

        var error = Assert.Throws<StrataException>(() => ModelKinds.Create(ModelKinds.HeaderOf(model), bad));

        Assert.Equal(ErrorCodes.DataMalformed, error.Code);
        Assert.Contains(array, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loading_refuses_a_term_count_that_disagrees_with_the_signature_and_values_that_are_not_finite()
    {
        var model = new LinearRegressionLearner().Fit(LinearTestData.Prepare(LinearTestData.Regression(100, seed: 6)));
        var good = model.ToParameters();
        var wrongCount = new ModelParameters(LinearModel.Kind).Add("term_count", 9);
        var notFinite = new ModelParameters(LinearModel.Kind).Add("term_count", good.Int64("term_count"));
        foreach (var (name, values) in good.Arrays)
        {
            wrongCount.Add(name, values);
            notFinite.Add(name, name == "weights" ? ((double[])values).Select((v, i) => i == 0 ? double.NaN : v).ToArray() : values);
        }

        Assert.Contains("term count 9", Assert.Throws<StrataException>(() => ModelKinds.Create(ModelKinds.HeaderOf(model), wrongCount)).Message, StringComparison.Ordinal);
        Assert.Contains("not finite", Assert.Throws<StrataException>(() => ModelKinds.Create(ModelKinds.HeaderOf(model), notFinite)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Predict_gives_probabilities_and_labels_for_classifiers()
    {
        var table = LinearTestData.Multiclass(800, seed: 7);
        var model = new LogisticRegressionLearner().Fit(LinearTestData.Prepare(table));

        var output = model.Predict(table);

        Assert.Equal(["probability_k0", "probability_k1", "probability_k2", "label"], output.Schema.Names);
        for (var i = 0; i < output.RowCount; i++)
        {
            var sum = output.GetColumn<double>("probability_k0")[i] + output.GetColumn<double>("probability_k1")[i] + output.GetColumn<double>("probability_k2")[i];
            Assert.Equal(1.0, sum, 1e-12);
        }
    }

    [Fact]
    public void Describe_lists_every_term_with_its_weight()
    {
        var model = new LinearRegressionLearner().Fit(LinearTestData.Prepare(LinearTestData.Regression(200, seed: 8)));

        var lines = model.Describe().Split('\n');

        Assert.Equal(1 + model.TermNames.Count, lines.Length);
        Assert.StartsWith("(intercept) ", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("cat=c ", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void The_signature_stated_before_training_names_the_inputs_the_model_reads()
    {
        var table = LinearTestData.Binary(300, seed: 9);
        var spec = new TrainingSpec { Label = "y" };
        var learner = new LogisticRegressionLearner();

        var before = learner.GetOutputSchema(table.Schema, spec);
        var model = learner.Fit(TrainingData.FromTable(table, spec));

        Assert.Equal(model.Signature.Inputs.Select(i => (i.Name, i.Type, i.Kind)), before.Inputs.Select(i => (i.Name, i.Type, i.Kind)));
        Assert.Equal(model.Signature.Outputs, before.Outputs);
        Assert.Null(before.Inputs.Single(i => i.Name == "cat").Categories);
    }

    [Fact]
    public void The_signature_check_refuses_what_training_would()
    {
        var table = LinearTestData.Regression(10, seed: 10);

        Assert.Contains("no label column 'nope'", Assert.Throws<StrataException>(() => new LinearRegressionLearner().GetOutputSchema(table.Schema, new TrainingSpec { Label = "nope" })).Message, StringComparison.Ordinal);
        Assert.Contains("a classifier needs", Assert.Throws<StrataException>(() => new LogisticRegressionLearner().GetOutputSchema(table.Schema, new TrainingSpec { Label = "y" })).Message, StringComparison.Ordinal);
        Assert.Contains("needs numbers", Assert.Throws<StrataException>(() => new LinearRegressionLearner().GetOutputSchema(table.Schema, new TrainingSpec { Label = "cat", Features = ["x1"] })).Message, StringComparison.Ordinal);
        Assert.Contains("'missing'", Assert.Throws<StrataException>(() => new LinearRegressionLearner().GetOutputSchema(table.Schema, new TrainingSpec { Label = "y", Features = ["missing"] })).Message, StringComparison.Ordinal);
        Assert.Contains("cannot learn a multiclass task", Assert.Throws<StrataException>(() => new LinearSvmLearner().GetOutputSchema(table.Schema, new TrainingSpec { Label = "cat", Task = LearningTask.MulticlassClassification })).Message, StringComparison.Ordinal);

        var regression = new LinearRegressionLearner().GetOutputSchema(table.Schema, new TrainingSpec { Label = "y" });
        Assert.Equal([new ModelOutput("prediction", DataType.Float64)], regression.Outputs);
    }
}
