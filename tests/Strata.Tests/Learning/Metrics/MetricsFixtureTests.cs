using System.Text.Json;
using Strata.Learning;
using Strata.Learning.Linear;
using Strata.Learning.Metrics;
using Strata.Tests.Learning.Linear;

namespace Strata.Tests.Learning.Metrics;

/// <summary>
/// Every metric, overall and per slice, with and without weights, agrees to 1e-12 with the values scikit-learn 1.2.1
/// computes on the prediction files in tests/fixtures/metrics (see its README).
/// </summary>
public sealed class MetricsFixtureTests
{
    private const double Tolerance = 1e-12;

    private static readonly Lazy<JsonElement> Expected = new(() =>
    {
        using var json = JsonDocument.Parse(File.ReadAllText(FixtureCsv.PathOf("metrics", "expected.json")));
        return json.RootElement.Clone();
    });

    public static TheoryData<string, bool> Cases() => new()
    {
        { "binary", false },
        { "binary", true },
        { "multiclass", false },
        { "multiclass", true },
        { "regression", false },
        { "regression", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Array_metrics_per_slice_match_scikit_learn(string task, bool weighted)
    {
        var (table, model) = Load(task);
        var labels = Labels(table, model);
        var predictions = MetricSet.Predictions(model, model.PredictMargins(table));
        var weights = weighted ? table.GetColumn<double>("w").Values.ToArray() : [];
        var slices = Enumerable.Range(0, table.RowCount).Select(i => table.GetStringColumn("slice")[i]).ToList();

        var report = Evaluation.Evaluate(model.Task, model.ClassLabels, labels, predictions, weights, slices, "slice");

        AssertReport(Expected.Value.GetProperty(task).GetProperty(weighted ? "weighted" : "unweighted"), report);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Evaluating_a_model_on_a_table_per_slice_matches_scikit_learn(string task, bool weighted)
    {
        var (table, model) = Load(task);

        var report = Evaluation.Evaluate(model, table, "y", slice: "slice", weight: weighted ? "w" : null);

        Assert.Equal("slice", report.SliceColumn);
        AssertReport(Expected.Value.GetProperty(task).GetProperty(weighted ? "weighted" : "unweighted"), report);
    }

    /// <summary>
    /// A model whose outputs are its inputs (identity weights and transform), so evaluating it scores the fixture's
    /// predictions exactly: they are float32 values, which the model reads without loss.
    /// </summary>
    internal static (Table Table, LinearModel Model) Load(string task)
    {
        var table = FixtureCsv.Read("metrics", task + ".csv");
        var (inputs, classes, kind) = task switch
        {
            "binary" => (new[] { "score" }, new[] { "0", "1" }, LearningTask.BinaryClassification),
            "multiclass" => (["p_ant", "p_bee", "p_cat"], ["ant", "bee", "cat"], LearningTask.MulticlassClassification),
            _ => (new[] { "prediction" }, null, LearningTask.Regression),
        };
        var signature = new ModelSignature(
            [.. inputs.Select(i => new ModelInput(i, DataType.Float64, FeatureKind.Numeric))],
            ModelSignature.OutputsFor(kind, classes));
        var k = kind == LearningTask.MulticlassClassification ? inputs.Length : 1;
        var weights = new double[inputs.Length * k];
        for (var t = 0; t < inputs.Length; t++)
        {
            weights[(t * k) + (k == 1 ? 0 : t)] = 1;
        }

        var model = new LinearModel("identity", kind, signature, classes, OutputTransform.Identity, new Dictionary<string, string>(), new double[k], weights, new double[inputs.Length]);
        return (table, model);
    }

    internal static double[] Labels(Table table, Model model)
    {
        var column = table["y"];
        return [.. Enumerable.Range(0, table.RowCount).Select(i => model.Task == LearningTask.Regression
            ? (double)column.GetValue(i)!
            : model.ClassLabels!.ToList().IndexOf(Convert.ToString(column.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)!))];
    }

    private static void AssertReport(JsonElement expected, EvaluationReport report)
    {
        Assert.Equal(expected.GetProperty("rows").GetInt32(), report.Overall.Rows);
        AssertMetrics("overall", expected.GetProperty("overall"), report.Overall);
        var slices = expected.GetProperty("slices").EnumerateObject().ToList();
        Assert.Equal(slices.Select(s => s.Name), report.Slices.Select(s => s.Value ?? EvaluationReport.NullName));
        foreach (var (slice, actual) in slices.Zip(report.Slices))
        {
            Assert.Equal(slice.Value.GetProperty("rows").GetInt32(), actual.Metrics.Rows);
            AssertMetrics(slice.Name, slice.Value, actual.Metrics);
        }
    }

    private static void AssertMetrics(string where, JsonElement expected, MetricSet actual)
    {
        foreach (var metric in expected.EnumerateObject())
        {
            if (metric.Name == "rows")
            {
                continue;
            }

            if (metric.Name == "confusion")
            {
                var rows = metric.Value.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
                for (var t = 0; t < rows.Length; t++)
                {
                    for (var p = 0; p < rows.Length; p++)
                    {
                        Assert.Equal(rows[t][p], actual.Confusion![t, p]);
                    }
                }

                continue;
            }

            var value = actual[metric.Name];
            if (metric.Value.ValueKind == JsonValueKind.Null)
            {
                Assert.True(double.IsNaN(value), $"{where} {metric.Name}: expected NaN (undefined), got {value}");
            }
            else
            {
                var reference = metric.Value.GetDouble();
                Assert.True(Math.Abs(value - reference) <= Tolerance * Math.Max(1, Math.Abs(reference)), $"{where} {metric.Name}: expected {reference:R}, got {value:R}");
            }
        }
    }
}
