using Strata.Learning;
using Strata.Learning.Gbdt;

namespace Strata.Tests.Learning.Gbdt;

public sealed class GbdtOptionsTests
{
    [Fact]
    public void Parse_reads_names_and_aliases()
    {
        var o = GbdtOptions.Parse(new Dictionary<string, string>
        {
            ["eta"] = "0.05", ["n_estimators"] = "250", ["num_leaves"] = "63", ["grow_policy"] = "lossguide", ["lambda"] = "2.5",
            ["gamma"] = "0.1", ["objective"] = "binary", ["seed"] = "7", ["nthread"] = "2", ["colsample_bytree"] = "0.5",
        });
        Assert.Equal(0.05, o.LearningRate);
        Assert.Equal(250, o.NumBoostRound);
        Assert.Equal(63, o.MaxLeaves);
        Assert.Equal(GrowPolicy.LossGuide, o.GrowPolicy);
        Assert.Equal(2.5, o.RegLambda);
        Assert.Equal(0.1, o.MinSplitGain);
        Assert.Equal("binary:logistic", o.Objective);
        Assert.Equal(7UL, o.Seed);
        Assert.Equal(0.5, o.ColsampleByTree);
    }

    [Fact]
    public void Settings_round_trip_through_parse()
    {
        var o = new GbdtOptions { LearningRate = 0.1, MaxDepth = 8, ClassWeights = "a:2,b:1", EvalMetric = "auc", Objective = "binary:logistic", Seed = 99 };
        Assert.Equal(o, GbdtOptions.Parse(o.ToSettings()));
        Assert.Equal(new GbdtOptions(), GbdtOptions.Parse(new GbdtOptions().ToSettings()));
    }

    [Theory]
    [InlineData("learning_rate", "-1", "learning_rate=\"-1\"")]
    [InlineData("eta", "fast", "eta=\"fast\"")]
    [InlineData("max_bin", "300", "max_bin=\"300\"")]
    [InlineData("subsample", "0", "subsample=\"0\"")]
    [InlineData("objective", "rank:pairwise", "objective=\"rank:pairwise\"")]
    [InlineData("max_depth", "-2", "max_depth=\"-2\"")]
    [InlineData("grow_policy", "sideways", "grow_policy=\"sideways\"")]
    [InlineData("no_such_option", "1", "'no_such_option'")]
    [InlineData("class_weights", "a=2", "class_weights=\"a=2\"")]
    public void Parse_names_the_key_and_value_it_refuses(string key, string value, string expected)
    {
        var error = Assert.Throws<StrataException>(() => GbdtOptions.Parse(new Dictionary<string, string> { [key] = value }));
        Assert.Equal(ErrorCodes.ArgumentInvalid, error.Code);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_learner_refuses_options_out_of_range()
    {
        Assert.Throws<StrataException>(() => new GbdtLearner(new GbdtOptions { NumBoostRound = 0 }));
        Assert.Throws<StrataException>(() => new GbdtLearner(new GbdtOptions { MaxDepth = 0 }));
        Assert.Throws<StrataException>(() => new GbdtLearner(new GbdtOptions { ColsampleByNode = 1.5 }));
        _ = new GbdtLearner(new GbdtOptions { MaxDepth = 0, GrowPolicy = GrowPolicy.LossGuide });
    }

    [Fact]
    public void Output_schema_is_known_before_training()
    {
        var schema = new Schema(new Field("a", DataType.Float64), new Field("city", DataType.String), new Field("y", DataType.Bool));
        var learner = new GbdtLearner();
        var signature = learner.GetOutputSchema(schema, new TrainingSpec { Label = "y" });
        Assert.Equal(["a", "city"], signature.Inputs.Select(i => i.Name));
        Assert.Equal(FeatureKind.Categorical, signature.Inputs[1].Kind);
        Assert.Equal(["probability", "label"], signature.Outputs.Select(o => o.Name));
        var regression = learner.GetOutputSchema(schema, new TrainingSpec { Label = "a", Features = ["city"], Task = LearningTask.Regression });
        Assert.Equal(["prediction"], regression.Outputs.Select(o => o.Name));
        Assert.Throws<StrataException>(() => learner.GetOutputSchema(schema, new TrainingSpec { Label = "missing" }));
        Assert.Throws<StrataException>(() => new GbdtLearner(new GbdtOptions { Objective = "multi:softmax" })
            .GetOutputSchema(schema, new TrainingSpec { Label = "y", Task = LearningTask.Regression }));
    }
}
