using Strata.Learning.Linear;

namespace Strata.Tests.Learning.Linear;

public sealed class LinearOptionsTests
{
    [Fact]
    public void Options_parse_from_key_value_text()
    {
        var options = LogisticRegressionOptions.Parse(["l1=0.5", "l2=1e-3", "max_iterations=42", "tolerance=1e-9", "standardize=false", "history=5", "threads=2"]);

        Assert.Equal(new LogisticRegressionOptions { L1 = 0.5, L2 = 1e-3, MaxIterations = 42, Tolerance = 1e-9, Standardize = false, History = 5, Threads = 2 }, options);
    }

    [Fact]
    public void Settings_round_trip_and_leave_out_threads()
    {
        var options = new LinearSvmOptions { L2 = 0.25, Calibrate = false, Threads = 3 };

        var settings = options.ToSettings();

        Assert.DoesNotContain("threads", settings.Keys);
        Assert.Equal("false", settings["calibrate"]);
        Assert.Equal(options with { Threads = 0 }, LinearSvmOptions.Parse(settings));
    }

    [Fact]
    public void A_models_settings_read_back_as_the_options_that_made_it()
    {
        var table = LinearTestData.WithColumn(LinearTestData.Regression(100, seed: 1), "x2", _ => 3);
        var options = new LinearRegressionOptions { L1 = 0.01, MaxIterations = 300 };
        var model = new LinearRegressionLearner(options).Fit(LinearTestData.Prepare(table));

        Assert.Single(model.Warnings);
        Assert.Equal(options, LinearRegressionOptions.Parse(model.Settings));
    }

    [Fact]
    public void Defaults_differ_by_learner()
    {
        Assert.Equal(1e-4, new LogisticRegressionOptions().L2);
        Assert.Equal(0, new LinearRegressionOptions().L2);
        Assert.True(new LinearSvmOptions().Calibrate);
        Assert.Equal("1E-06", LinearLearners.Create("linear").Settings["tolerance"]);
    }

    [Theory]
    [InlineData("l2=abc", "logistic: option 'l2': 'abc' is not a number")]
    [InlineData("l1=-1", "logistic: option 'l1': '-1' is outside [0, 1.7976931348623157E+308]")]
    [InlineData("max_iterations=1.5", "logistic: option 'max_iterations': '1.5' is not an integer")]
    [InlineData("standardize=maybe", "logistic: option 'standardize': 'maybe' is not true or false")]
    [InlineData("calibrate=true", "logistic: unknown option 'calibrate' (known: l1, l2, max_iterations, tolerance, standardize, history, threads)")]
    [InlineData("l2", "logistic: 'l2' is not key=value")]
    public void Bad_settings_name_the_key_and_the_value(string pair, string message)
    {
        var error = Assert.Throws<StrataException>(() => LogisticRegressionOptions.Parse([pair]));

        Assert.Equal(ErrorCodes.ArgumentInvalid, error.Code);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Learners_are_created_by_name_with_settings()
    {
        var learner = LinearLearners.Create("svm", [new("l2", "0.5"), new("calibrate", "no")]);

        var svm = Assert.IsType<LinearSvmLearner>(learner);
        Assert.Equal(0.5, svm.Options.L2);
        Assert.False(svm.Options.Calibrate);
        Assert.False(LinearLearners.TryCreate("gbdt", null, out _));
        Assert.Equal("unknown linear learner 'tree' (known: logistic, linear, svm)", Assert.Throws<StrataException>(() => LinearLearners.Create("tree")).Message);
    }
}
