using System.Text.Json;
using Strata.Learning;
using Strata.Learning.Linear;

namespace Strata.Tests.Learning.Linear;

/// <summary>
/// Coefficients agree with scikit-learn 1.2.1 on the fixtures of tests/fixtures/linear (see its README): closely with
/// the exact optimum (Newton-polished from scikit-learn's answer), and with scikit-learn's own answer within the
/// distance its stopping rule leaves from that optimum.
/// </summary>
public sealed class SklearnAgreementTests
{
    private static readonly Lazy<JsonElement[]> Cases = new(() =>
    {
        using var json = JsonDocument.Parse(File.ReadAllText(FixtureCsv.PathOf("linear", "expected.json")));
        return [.. json.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.Clone())];
    });

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Value)
        {
            data.Add(c.GetProperty("name").GetString()!);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Coefficients_match_scikit_learn(string name)
    {
        var expected = Cases.Value.Single(c => c.GetProperty("name").GetString() == name);
        var model = await Train(expected);

        var terms = expected.GetProperty("terms").EnumerateArray().Select(t => t.GetString()!).ToArray();
        Assert.Equal(terms, model.TermNames);
        var optimum = expected.TryGetProperty("polished_intercepts", out _) ? "polished_" : "";
        var exact = Difference(model, expected, optimum);
        Assert.True(exact < 1e-8, $"{name}: largest difference from the optimum {exact:G3}");

        // scikit-learn's lbfgs stops on a relative decrease of the objective, up to ~1e-3 away (raw units).
        var sklearnError = expected.TryGetProperty("sklearn_error", out var e) ? e.GetDouble() : 0;
        var sklearn = Difference(model, expected, "");
        Assert.True(sklearn <= (1.5 * sklearnError) + 1e-7, $"{name}: largest difference from scikit-learn {sklearn:G3} (its own error {sklearnError:G3})");
    }

    [Fact]
    public async Task Lasso_zeros_the_same_weights_as_scikit_learn()
    {
        foreach (var name in new[] { "lasso", "elastic_net", "logistic_l1" })
        {
            var expected = Cases.Value.Single(c => c.GetProperty("name").GetString() == name);
            var model = await Train(expected);
            var zeros = expected.GetProperty("weights").EnumerateObject().Where(p => p.Value.EnumerateArray().All(v => v.GetDouble() == 0)).Select(p => p.Name).ToArray();
            Assert.NotEmpty(zeros);
            foreach (var term in model.TermNames)
            {
                Assert.True(zeros.Contains(term) == (model.Weight(term) == 0), $"{name}: term {term} weight {model.Weight(term)}");
            }
        }
    }

    internal static async Task<LinearModel> Train(JsonElement expected)
    {
        var table = FixtureCsv.Read("linear", expected.GetProperty("data").GetString()!);
        var spec = new TrainingSpec
        {
            Label = expected.GetProperty("label").GetString()!,
            Features = [.. expected.GetProperty("features").EnumerateArray().Select(f => f.GetString()!)],
            Weight = expected.GetProperty("weight").ValueKind == JsonValueKind.Null ? null : expected.GetProperty("weight").GetString(),
            Task = expected.GetProperty("task").GetString() == "multiclass" ? LearningTask.MulticlassClassification : null,
        };
        var settings = expected.GetProperty("settings").EnumerateObject().Select(p => new KeyValuePair<string, string>(p.Name, p.Value.GetString()!));
        var learner = LinearLearners.Create(expected.GetProperty("learner").GetString()!, settings);
        return (LinearModel)await learner.FitAsync(TrainingData.FromTable(table, spec));
    }

    private static double Difference(LinearModel model, JsonElement expected, string prefix)
    {
        var worst = 0.0;
        var intercepts = expected.GetProperty(prefix + "intercepts").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        // A binary scikit-learn model has one intercept; a multinomial one, one per class.
        Assert.Equal(intercepts.Length, model.OutputCount);
        for (var k = 0; k < intercepts.Length; k++)
        {
            worst = Math.Max(worst, Relative(model.Intercepts[k], intercepts[k]));
        }

        foreach (var term in expected.GetProperty(prefix + "weights").EnumerateObject())
        {
            var values = term.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (var k = 0; k < values.Length; k++)
            {
                worst = Math.Max(worst, Relative(model.Weight(term.Name, k), values[k]));
            }
        }

        return worst;
    }

    /// <summary>Difference relative to the value, or absolute below 1 (weights near zero have no scale of their own).</summary>
    private static double Relative(double actual, double expected) => Math.Abs(actual - expected) / Math.Max(1, Math.Abs(expected));
}
