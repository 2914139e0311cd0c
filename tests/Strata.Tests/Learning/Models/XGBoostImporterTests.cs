using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Strata.Learning;
using Xunit.Abstractions;

namespace Strata.Tests.Learning.Models;

/// <summary>
/// Imported XGBoost models predict what XGBoost predicted for the same rows (reference outputs saved by XGBoost 1.7.4,
/// see tests/fixtures/xgboost/README.md). XGBoost sums leaves in float32 and Strata in double, so margins agree to
/// float32 rounding and probabilities to 1e-6.
/// </summary>
public sealed class XGBoostImporterTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("breast_cancer_xgb.json", "breast_cancer_sample.csv.gz")]
    [InlineData("flights_xgb.json", "flights_sample.csv.gz")]
    public void Peer_models_predict_what_xgboost_predicts(string modelFile, string sampleFile)
    {
        var model = XGBoostFixtures.Model(modelFile);
        var sample = XGBoostFixtures.Read(sampleFile);
        var features = model.Signature.Inputs.Count;
        Assert.Equal(model.Signature.Inputs.Select(i => i.Name), sample.Header.Take(features));

        var batch = model.PredictMargins(sample.Table(model, features));
        var margin = new double[1];
        double worstPrediction = 0, worstMargin = 0;
        for (var r = 0; r < sample.Rows.Count; r++)
        {
            model.PredictMargins(sample.Features(r, features), margin);
            Assert.Equal(batch[r], margin[0]);
            var probability = Model.Apply(OutputTransform.Sigmoid, margin[0]);
            worstPrediction = Math.Max(worstPrediction, Math.Abs(probability - sample.Value(r, "xgb_pred")));
            worstMargin = Math.Max(worstMargin, Math.Abs(margin[0] - sample.Value(r, "xgb_margin")));
        }

        output.WriteLine($"{modelFile}: {sample.Rows.Count} rows, max |Δ prediction| {worstPrediction:G3}, max |Δ margin| {worstMargin:G3}");
        Assert.True(worstPrediction <= 1e-6, $"max |Δ prediction| {worstPrediction:G3}");
        Assert.True(worstMargin <= 1e-5, $"max |Δ margin| {worstMargin:G3}");
    }

    [Theory]
    [InlineData("regression")]
    [InlineData("softprob")]
    [InlineData("softmax")]
    [InlineData("categorical")]
    public void Generated_fixtures_predict_what_xgboost_predicts(string name)
    {
        var model = XGBoostFixtures.Model(name + ".json");
        var sample = XGBoostFixtures.Read(name + "_sample.csv");
        var features = model.Signature.Inputs.Count;
        var k = model.OutputCount;
        var margins = new double[k];
        var probabilities = new double[k];
        double worstPrediction = 0, worstMargin = 0;
        for (var r = 0; r < sample.Rows.Count; r++)
        {
            model.PredictMargins(sample.Features(r, features), margins);
            model.Probabilities(margins, probabilities);
            for (var j = 0; j < k; j++)
            {
                var expected = sample.Value(r, $"margin_{j}");
                worstMargin = Math.Max(worstMargin, Math.Abs(margins[j] - expected) / Math.Max(1, Math.Abs(expected)));
            }

            if (name == "softmax")
            {
                // multi:softmax predicts the class index.
                Assert.Equal(sample.Value(r, "pred_0"), probabilities.AsSpan().IndexOf(probabilities.Max()));
                continue;
            }

            for (var j = 0; j < k; j++)
            {
                var expected = sample.Value(r, $"pred_{j}");
                worstPrediction = Math.Max(worstPrediction, Math.Abs(probabilities[j] - expected) / Math.Max(1, Math.Abs(expected)));
            }
        }

        output.WriteLine($"{name}: {sample.Rows.Count} rows × {k} outputs, max relative |Δ prediction| {worstPrediction:G3}, max relative |Δ margin| {worstMargin:G3}");
        Assert.True(worstPrediction <= 1e-6, $"max |Δ prediction| {worstPrediction:G3}");
        Assert.True(worstMargin <= 1e-5, $"max |Δ margin| {worstMargin:G3}");
    }

    [Fact]
    public void Imported_models_describe_task_inputs_and_settings()
    {
        var flights = XGBoostFixtures.Model("flights_xgb.json");
        Assert.Equal("xgboost", flights.Learner);
        Assert.Equal(LearningTask.BinaryClassification, flights.Task);
        Assert.Equal(OutputTransform.Sigmoid, flights.Transform);
        Assert.Equal(["0", "1"], flights.ClassLabels);
        Assert.Equal(11, flights.Signature.Inputs.Count);
        Assert.All(flights.Signature.Inputs, i => Assert.Equal((DataType.Float32, FeatureKind.Numeric), (i.Type, i.Kind)));
        Assert.Equal("origin_prev_mean_distance", flights.Signature.Inputs[^1].Name);
        Assert.Equal(100, flights.Ensemble.TreeCount);
        Assert.Equal("binary:logistic", flights.Settings["objective"]);
        Assert.Equal("1.7.4", flights.Settings["xgboost_version"]);

        var softprob = XGBoostFixtures.Model("softprob.json");
        Assert.Equal(LearningTask.MulticlassClassification, softprob.Task);
        Assert.Equal(["f0", "f1", "f2", "f3", "f4"], softprob.Signature.Inputs.Select(i => i.Name));
        Assert.Equal(4, softprob.OutputCount);
        Assert.Equal(["probability_0", "probability_1", "probability_2", "probability_3", "label"], softprob.Signature.Outputs.Select(o => o.Name));

        var regression = XGBoostFixtures.Model("regression.json");
        Assert.Equal(LearningTask.Regression, regression.Task);
        Assert.Equal([2.5], regression.Ensemble.BaseMargins);

        var categorical = XGBoostFixtures.Model("categorical.json");
        Assert.Equal("c,h", categorical.Settings["categorical_features"]);
        Assert.Equal((double)-MathF.Log((1 / 0.3f) - 1), categorical.Ensemble.BaseMargins[0]);
        Assert.Contains(categorical.Ensemble.Flags, f => (f & TreeEnsemble.Categorical) != 0);
    }

    [Theory]
    [InlineData("refused_gblinear.json", "gblinear")]
    [InlineData("refused_dart.json", "DART")]
    [InlineData("refused_poisson.json", "count:poisson")]
    public void Unsupported_boosters_and_objectives_are_refused(string file, string named)
    {
        var e = Assert.Throws<DataFormatException>(() => XGBoostFixtures.Model(file));
        Assert.Equal(ErrorCodes.DataUnsupported, e.Code);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_imported_model_round_trips_through_a_package_bit_for_bit()
    {
        var model = XGBoostFixtures.Model("flights_xgb.json");
        var sample = XGBoostFixtures.Read("flights_sample.csv.gz");
        using var stream = new MemoryStream();
        await ModelPackage.SaveAsync(model, stream);
        stream.Position = 0;
        var loaded = Assert.IsType<TreeEnsembleModel>(await ModelPackage.LoadAsync(stream));
        var table = sample.Table(model, 11);
        Assert.Equal(model.PredictMargins(table).Select(BitConverter.DoubleToInt64Bits), loaded.PredictMargins(table).Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(model.Settings.OrderBy(p => p.Key), loaded.Settings.OrderBy(p => p.Key));
    }

    [Theory]
    [InlineData("regression.json", "regression_contribs.csv", null)]
    [InlineData("softprob.json", "softprob_contribs.csv", null)]
    [InlineData("softmax.json", "softmax_contribs.csv", null)]
    [InlineData("categorical.json", "categorical_contribs.csv", "categorical_sample.csv")]
    [InlineData("breast_cancer_xgb.json", "breast_cancer_contribs.csv", "breast_cancer_sample.csv.gz")]
    public void TreeShap_matches_xgboost_pred_contribs_and_adds_up_to_the_margin(string modelFile, string contribsFile, string? sampleFile)
    {
        var model = XGBoostFixtures.Model(modelFile);
        var expected = XGBoostFixtures.Read(contribsFile);
        var sample = XGBoostFixtures.Read(sampleFile ?? modelFile.Replace(".json", "_sample.csv", StringComparison.Ordinal));
        var features = model.Signature.Inputs.Count;
        var margins = new double[model.OutputCount];
        double worst = 0, worstSum = 0;
        for (var r = 0; r < expected.Rows.Count; r++)
        {
            var row = sample.Features(r, features);
            var contributions = TreeShap.Contributions(model, row);
            Assert.Equal(expected.Header.Length, contributions.Values.Length);
            for (var j = 0; j < contributions.Values.Length; j++)
            {
                worst = Math.Max(worst, Math.Abs(contributions.Values[j] - expected.Rows[r][j]));
            }

            model.PredictMargins(row, margins);
            for (var k = 0; k < model.OutputCount; k++)
            {
                worstSum = Math.Max(worstSum, Math.Abs(contributions.Margin(k) - margins[k]) / Math.Max(1, Math.Abs(margins[k])));
            }
        }

        output.WriteLine($"{modelFile}: {expected.Rows.Count} rows, max |Δ contribution| vs XGBoost {worst:G3}, max relative |Σ − margin| {worstSum:G3}");
        Assert.True(worst <= 1e-5, $"max |Δ contribution| {worst:G3}");
        Assert.True(worstSum <= 1e-9, $"max relative |Σ − margin| {worstSum:G3}");
    }

    [Theory]
    [InlineData("regression")]
    [InlineData("softprob")]
    [InlineData("categorical")]
    public void Feature_importance_matches_xgboost_get_score(string name)
    {
        var model = XGBoostFixtures.Model(name + ".json");
        var expected = JsonNode.Parse(File.ReadAllText(XGBoostFixtures.PathOf(name + "_importance.json")))!;
        foreach (var importance in FeatureImportance.Of(model))
        {
            if (importance.Splits == 0)
            {
                Assert.Null(expected["weight"]![importance.Feature]);
                continue;
            }

            Assert.Equal((double)expected["weight"]![importance.Feature]!, importance.Splits);
            AssertClose((double)expected["total_gain"]![importance.Feature]!, importance.TotalGain);
            AssertClose((double)expected["gain"]![importance.Feature]!, importance.AverageGain);
            AssertClose((double)expected["total_cover"]![importance.Feature]!, importance.TotalCover);
            AssertClose((double)expected["cover"]![importance.Feature]!, importance.AverageCover);
        }
    }

    [Fact]
    public void Hostile_models_are_refused_with_the_place_that_is_wrong()
    {
        var text = File.ReadAllText(XGBoostFixtures.PathOf("regression.json"));
        AssertRefused(text, j => Tree(j)["left_children"]![0] = 5000, "outside");
        AssertRefused(text, j => Tree(j)["left_children"]![1] = 0, "reached twice");
        AssertRefused(text, j => Tree(j)["split_indices"]![0] = 6, "beyond 6");
        AssertRefused(text, j => Tree(j)["split_conditions"]!.AsArray().RemoveAt(0), "split_conditions has");
        AssertRefused(text, j => Tree(j)["tree_param"]!["num_nodes"] = "2000000000", "num_nodes");
        AssertRefused(text, j => Tree(j)["sum_hessian"]![0] = "x", "sum_hessian[0]");
        AssertRefused(text, j => j["learner"]!["learner_model_param"]!["num_feature"] = "-3", "num_feature");
        AssertRefused(text, j => j["learner"]!["gradient_booster"]!["model"]!["tree_info"]![0] = 1, "beyond 1");
        AssertRefused(text, j => j["learner"]!["feature_names"]![1] = "x0", "repeat");
        AssertRefused(text, j => j["learner"]!.AsObject().Remove("objective"), "learner.objective");

        // XGBoost writes NaN as a bare word (not JSON) for categorical splits' unused conditions.
        var categorical = File.ReadAllText(XGBoostFixtures.PathOf("categorical.json")).Replace("NaN", "null", StringComparison.Ordinal);
        AssertRefused(categorical, j => Categorical(j)["categories"]![0] = -4, "category outside");
        AssertRefused(categorical, j => Categorical(j)["categories_segments"]![0] = 100000, "out of range");
        AssertRefused(categorical, j => Categorical(j)["categories_nodes"]![0] = 0, "not a categorical split");

        var deep = new StringBuilder("{\"learner\":");
        deep.Insert(deep.Length, "[", 5000).Insert(deep.Length, "]", 5000).Append('}');
        Assert.Equal(ErrorCodes.DataMalformed, Assert.Throws<DataFormatException>(() => XGBoostImporter.Load(new MemoryStream(Encoding.UTF8.GetBytes(deep.ToString())))).Code);
        var big = Assert.Throws<StrataException>(() => XGBoostImporter.Load(new MemoryStream(Encoding.UTF8.GetBytes(text)), new XGBoostImportLimits { MaxBytes = 1000 }));
        Assert.Equal(ErrorCodes.DataLimit, big.Code);
    }

    private static JsonNode Tree(JsonNode model) => model["learner"]!["gradient_booster"]!["model"]!["trees"]![0]!;

    private static JsonNode Categorical(JsonNode model) =>
        model["learner"]!["gradient_booster"]!["model"]!["trees"]!.AsArray().First(t => t!["categories_nodes"]!.AsArray().Count > 0)!;

    private static void AssertRefused(string json, Action<JsonNode> edit, string expected)
    {
        var node = JsonNode.Parse(json)!;
        edit(node);
        var e = Assert.Throws<DataFormatException>(() => XGBoostImporter.Load(new MemoryStream(Encoding.UTF8.GetBytes(node.ToJsonString()))));
        Assert.Equal(ErrorCodes.DataMalformed, e.Code);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    private static void AssertClose(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-5 * Math.Max(1, Math.Abs(expected)),
            string.Create(CultureInfo.InvariantCulture, $"expected {expected:R}, got {actual:R}"));
}
