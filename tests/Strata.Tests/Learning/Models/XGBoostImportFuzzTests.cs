using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Strata.Learning;

namespace Strata.Tests.Learning.Models;

/// <summary>
/// Mutated XGBoost JSON (values replaced by hostile ones, keys dropped, text edited) either imports as a valid model that
/// predicts and explains without error, or fails with a <see cref="StrataException"/>. A reduced count runs by default;
/// STRATA_FUZZ_ITERATIONS sets the full count.
/// </summary>
public sealed class XGBoostImportFuzzTests
{
    private static readonly int Iterations =
        Environment.GetEnvironmentVariable("STRATA_FUZZ_ITERATIONS") is { Length: > 0 } text ? int.Parse(text, CultureInfo.InvariantCulture) : 300;

    private static readonly JsonNode?[] Hostile =
    [
        null, -1, 0, 1, 2, 5, 31, 32, 2147483647, -2147483648, 1e39, -0.5, "", "0", "-1", "99999999999", "NaN", "1e5",
        "gbtree", "dart", "multi:softprob", true, new JsonArray(), new JsonObject(), new JsonArray(0, 1), new JsonArray(-1, -1),
    ];

    [Fact]
    public void Mutated_xgboost_models_import_as_valid_models_or_fail_with_a_strata_error()
    {
        var seed = 1122;
        var random = new Random(seed);
        var originals = new[] { Small("regression.json"), Small("categorical.json"), Small("softprob.json") };
        var imported = 0;
        for (var i = 0; i < Iterations; i++)
        {
            var original = originals[i % originals.Length];
            var bytes = random.Next(4) == 0 ? EditText(original, random) : EditValue(original, random);
            try
            {
                var model = XGBoostImporter.Load(new MemoryStream(bytes));
                var row = RandomTrees.Row(random, model.Ensemble.FeatureCount);
                var margins = new double[model.OutputCount];
                model.PredictMargins(row, margins);
                _ = TreeShap.Contributions(model, row);
                imported++;
            }
            catch (StrataException)
            {
                // Expected for a damaged model: refused with a stable code.
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"seed {seed}, iteration {i}: {e.GetType().Name} escaped: {e.Message}", e);
            }
        }

        Assert.True(imported > 0, "no mutation imported; the fuzzer is not reaching the tree checks");
    }

    /// <summary>The first three trees of a fixture, so each iteration is cheap.</summary>
    private static string Small(string name)
    {
        var json = JsonNode.Parse(File.ReadAllText(XGBoostFixtures.PathOf(name)).Replace("NaN", "null", StringComparison.Ordinal))!;
        var model = json["learner"]!["gradient_booster"]!["model"]!;
        var trees = model["trees"]!.AsArray();
        var info = model["tree_info"]!.AsArray();
        while (trees.Count > 3)
        {
            trees.RemoveAt(trees.Count - 1);
            info.RemoveAt(info.Count - 1);
        }

        model["gbtree_model_param"]!["num_trees"] = "3";
        return json.ToJsonString();
    }

    private static byte[] EditValue(string original, Random random)
    {
        var json = JsonNode.Parse(original)!;
        for (var e = random.Next(1, 3); e > 0; e--)
        {
            var slots = Slots(json).ToList();
            var (parent, key) = slots[random.Next(slots.Count)];
            var replacement = Hostile[random.Next(Hostile.Length)]?.DeepClone();
            if (parent is JsonObject o)
            {
                if (random.Next(8) == 0)
                {
                    o.Remove((string)key);
                }
                else
                {
                    o[(string)key] = replacement;
                }
            }
            else if (parent is JsonArray a)
            {
                if (random.Next(8) == 0)
                {
                    a.RemoveAt((int)key);
                }
                else
                {
                    a[(int)key] = replacement;
                }
            }
        }

        return Encoding.UTF8.GetBytes(json.ToJsonString());
    }

    private static byte[] EditText(string original, Random random)
    {
        var text = new StringBuilder(original);
        for (var e = random.Next(1, 4); e > 0; e--)
        {
            var at = random.Next(text.Length);
            if (random.Next(2) == 0)
            {
                text.Remove(at, 1);
            }
            else
            {
                text.Insert(at, random.Next(5) switch { 0 => "NaN", 1 => "\"", 2 => "[", 3 => "-Infinity", _ => "9" });
            }
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static IEnumerable<(JsonNode Parent, object Key)> Slots(JsonNode node)
    {
        if (node is JsonObject o)
        {
            foreach (var (key, value) in o.ToList())
            {
                yield return (o, key);
                if (value is not null)
                {
                    foreach (var inner in Slots(value))
                    {
                        yield return inner;
                    }
                }
            }
        }
        else if (node is JsonArray a)
        {
            for (var i = 0; i < a.Count; i++)
            {
                yield return (a, i);
                if (a[i] is { } value)
                {
                    foreach (var inner in Slots(value))
                    {
                        yield return inner;
                    }
                }
            }
        }
    }
}
