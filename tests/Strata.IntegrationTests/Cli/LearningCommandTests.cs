using System.Globalization;
using System.Text;
using System.Text.Json;
using Strata.Data.Csv;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

/// <summary>train, predict, evaluate and explain end to end through the CLI, with the errors a user meets first.</summary>
public sealed class LearningCommandTests : IDisposable
{
    private readonly TempFolder _folder = new("cli-learning");

    public void Dispose() => _folder.Dispose();

    private string Binary()
    {
        var random = new Random(7);
        var text = new StringBuilder("x1,x2,city,y\n");
        string[] cities = ["lima", "oslo", "paris"];
        for (var i = 0; i < 600; i++)
        {
            var x1 = (random.NextDouble() * 4) - 2;
            var x2 = random.NextDouble() * 2;
            var city = cities[random.Next(3)];
            var y = (1.5 * x1) + x2 - (city == "oslo" ? 1 : 0) + random.NextDouble() - 0.5 > 0.5 ? 1 : 0;
            text.Append(CultureInfo.InvariantCulture, $"{x1:F4},{x2:F4},{city},{y}\n");
        }

        var path = _folder.File("binary.csv");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    [Fact]
    public async Task A_gbdt_model_trained_on_the_sample_predicts_evaluates_and_explains()
    {
        var package = _folder.File("delay.stpkg");
        var train = await Cli.RunAsync("train", "-d", Cli.Sample, "-y", "delay", "--features", "distance,origin,destination",
            "--set", "num_boost_round=20", "--set", "max_depth=4", "-o", package, "--json", "--home", _folder.File("home"));
        Assert.True(train.ExitCode == 0, train.Error);
        using (var summary = JsonDocument.Parse(train.Out))
        {
            Assert.Equal("gbdt", summary.RootElement.GetProperty("learner").GetString());
            Assert.Equal("regression", summary.RootElement.GetProperty("task").GetString());
            Assert.Equal(150_000, summary.RootElement.GetProperty("rows").GetInt32());
        }

        var predictions = _folder.File("predictions.csv");
        var predict = await Cli.RunAsync("predict", "-m", package, "-d", Cli.Sample, "-o", predictions, "--keep", "origin");
        Assert.True(predict.ExitCode == 0, predict.Error);
        var table = await CsvReader.ReadTableAsync(predictions);
        Assert.Equal(150_000, table.RowCount);
        Assert.Equal(["origin", "prediction"], table.Schema.Names);

        var evaluate = await Cli.RunAsync("evaluate", "-m", package, "-d", Cli.Sample, "--slice", "origin", "--json");
        Assert.True(evaluate.ExitCode == 0, evaluate.Error);
        using (var metrics = JsonDocument.Parse(evaluate.Out))
        {
            var all = metrics.RootElement.GetProperty("rows")[0];
            Assert.Equal("(all)", all.GetProperty("slice").GetString());
            Assert.True(all.GetProperty("rmse").GetDouble() > 0);
            Assert.True(metrics.RootElement.GetProperty("rows").GetArrayLength() > 10);
        }

        var explain = await Cli.RunAsync("explain", "-m", package, "--row", "distance=1200,origin=ATL,destination=LAX", "-k", "3", "--json");
        Assert.True(explain.ExitCode == 0, explain.Error);
        using var why = JsonDocument.Parse(explain.Out);
        var output = why.RootElement.GetProperty("outputs")[0];
        var sum = output.GetProperty("bias").GetDouble() + output.GetProperty("contributions").EnumerateArray().Sum(c => c.GetProperty("contribution").GetDouble());
        Assert.Equal(output.GetProperty("margin").GetDouble(), sum, 1e-9);
        Assert.Equal(why.RootElement.GetProperty("prediction").GetProperty("prediction").GetDouble(), output.GetProperty("margin").GetDouble(), 1e-9);
    }

    [Fact]
    public async Task Training_with_an_experiment_and_a_name_tracks_the_run_and_registers_the_version()
    {
        var home = _folder.File("home");
        var train = await Cli.RunAsync("train", "-d", Binary(), "-y", "y", "-l", "logistic", "--experiment", "churn", "--register", "clf",
            "--project", "shop", "-o", _folder.File("clf.stpkg"), "--json", "--home", home);
        Assert.True(train.ExitCode == 0, train.Error);
        using var summary = JsonDocument.Parse(train.Out);
        var runId = summary.RootElement.GetProperty("run_id").GetString()!;
        Assert.Equal("clf/1", summary.RootElement.GetProperty("registered").GetString());
        Assert.True(summary.RootElement.GetProperty("metrics").GetProperty("train.auc").GetDouble() > 0.95);

        var run = await Cli.RunAsync("runs", "show", runId, "-p", "shop", "--json", "--home", home);
        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("train.auc", run.Out, StringComparison.Ordinal);
        var versions = await Cli.RunAsync("models", "versions", "clf", "-p", "shop", "--json", "--home", home);
        Assert.True(versions.ExitCode == 0, versions.Error);
        Assert.Equal(1, JsonDocument.Parse(versions.Out).RootElement.GetArrayLength());
        Assert.Contains(runId, versions.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gbdt", "y", "auc", 0.95)]
    [InlineData("logistic", "y", "auc", 0.95)]
    [InlineData("svm", "y", "accuracy", 0.85)]
    [InlineData("linear", "x2", "r2", 0.05)] // x2 shows only through y's threshold: a weak but real fit
    public async Task Every_learner_trains_and_evaluates_from_the_command_line(string learner, string label, string metric, double atLeast)
    {
        var data = Binary();
        var package = _folder.File($"{learner}.stpkg");
        var train = await Cli.RunAsync("train", "-d", data, "-y", label, "-l", learner, "-o", package, "--json");
        Assert.True(train.ExitCode == 0, train.Error);
        Assert.Equal(learner, JsonDocument.Parse(train.Out).RootElement.GetProperty("learner").GetString());

        var evaluate = await Cli.RunAsync("evaluate", "-m", package, "-d", data, "--json");
        Assert.True(evaluate.ExitCode == 0, evaluate.Error);
        var value = JsonDocument.Parse(evaluate.Out).RootElement.GetProperty("rows")[0].GetProperty(metric).GetDouble();
        Assert.True(value > atLeast, $"{metric} = {value}");
    }

    [Fact]
    public async Task An_xgboost_json_model_predicts_what_xgboost_predicted()
    {
        var output = _folder.File("bc.csv");
        var predict = await Cli.RunAsync("predict", "-m", SharedData.InRepository("tests", "fixtures", "xgboost", "breast_cancer_xgb.json"),
            "-d", SharedData.InRepository("tests", "fixtures", "xgboost", "breast_cancer_sample.csv.gz"), "-o", output, "--keep", "xgb_pred");
        Assert.True(predict.ExitCode == 0, predict.Error);

        var table = await CsvReader.ReadTableAsync(output);
        var expected = table["xgb_pred"];
        var actual = table["probability"];
        for (var i = 0; i < table.RowCount; i++)
        {
            Assert.Equal(Convert.ToDouble(expected.GetValue(i), CultureInfo.InvariantCulture), Convert.ToDouble(actual.GetValue(i), CultureInfo.InvariantCulture), 1e-6);
        }
    }

    [Theory]
    [InlineData("no label column 'nope'", "train", "-y", "nope")]
    [InlineData("unknown learner 'forest'", "train", "-y", "y", "-l", "forest")]
    [InlineData("max_depth=\"x\"", "train", "-y", "y", "--set", "max_depth=x")]
    [InlineData("--task must be", "train", "-y", "y", "--task", "ranking")]
    public async Task Bad_training_input_is_refused_naming_what_is_wrong(string message, params string[] args)
    {
        var result = await Cli.RunAsync(["train", "-d", Binary(), .. args.Skip(1), "-o", _folder.File("x.stpkg")]);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(_folder.File("x.stpkg")));
    }

    [Fact]
    public async Task Predicting_on_data_without_the_model_inputs_names_each_missing_column()
    {
        var package = _folder.File("clf.stpkg");
        Assert.Equal(0, (await Cli.RunAsync("train", "-d", Binary(), "-y", "y", "-l", "logistic", "-o", package)).ExitCode);

        var result = await Cli.RunAsync("predict", "-m", package, "-d", Cli.Sample);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("missing column 'x1'", result.Error, StringComparison.Ordinal);
        Assert.Contains("missing column 'city'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_file_that_is_missing_or_not_a_model_is_refused()
    {
        var missing = await Cli.RunAsync("predict", "-m", _folder.File("missing.stpkg"), "-d", Binary());
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("no such model file", missing.Error, StringComparison.Ordinal);

        var garbage = _folder.File("garbage.stpkg");
        await File.WriteAllBytesAsync(garbage, Encoding.UTF8.GetBytes("not a model package at all"));
        var bad = await Cli.RunAsync("predict", "-m", garbage, "-d", Binary());
        Assert.Equal(3, bad.ExitCode);
        Assert.StartsWith("error:", bad.Error, StringComparison.Ordinal);
    }
}
