using Strata.Learning;
using Strata.Serving;
using Strata.Tests.Learning.Models;

namespace Strata.Tests.Serving;

/// <summary>A model reads a one-row input in a field layout exactly as it reads the same fields as named columns.</summary>
public sealed class LoadedModelTests
{
    [Theory]
    [InlineData(LearningTask.Regression)]
    [InlineData(LearningTask.BinaryClassification)]
    public void A_row_in_a_layout_is_checked_and_predicted_as_the_same_row_in_columns(LearningTask task)
    {
        var shape = new RandomTrees.Shape(Features: 7, Trees: 30, CategoricalShare: 0.4);
        var model = new LoadedModel("p", "m", 1, "sha256:0", RandomTrees.Model(11, shape, task));
        var inputs = model.Inputs.Select(i => i.Name).ToArray();
        var random = new Random(5);
        var layouts = Enumerable.Range(0, 3).Select(_ => inputs.OrderBy(_ => random.Next()).ToArray()).ToArray();
        var allowed = new HashSet<string>(["key"], StringComparer.Ordinal);
        var fits = 0;
        for (var n = 0; n < 3_000; n++)
        {
            // Mostly the model's own fields, in one of a few orders (so its remembered layout changes now and then), with
            // values of every kind; sometimes a field missing, unknown or extra.
            var names = layouts[random.Next(layouts.Length)].ToList();
            switch (random.Next(12))
            {
                case 0:
                    names.RemoveAt(random.Next(names.Count));
                    break;
                case 1:
                    names.Insert(random.Next(names.Count + 1), "unknown");
                    break;
                case 2:
                    names.Insert(random.Next(names.Count + 1), "key");
                    break;
            }

            var numbers = new double[names.Count];
            var texts = new string?[names.Count];
            var columns = new Dictionary<string, InputColumn>(StringComparer.Ordinal);
            for (var f = 0; f < names.Count; f++)
            {
                var categorical = names[f].StartsWith('c');
                var roll = random.Next(20);
                numbers[f] = double.NaN;
                if (roll == 0)
                {
                    columns[names[f]] = InputColumn.OfNulls();
                }
                else if (roll == 1 ? !categorical : categorical)
                {
                    texts[f] = random.Next(10) == 0 ? "unseen" : random.Next(0, 100).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    columns[names[f]] = InputColumn.OfTexts([texts[f]]);
                }
                else
                {
                    // Now and then a number beyond float32, which the model's features cannot hold.
                    numbers[f] = roll == 2 && random.Next(4) == 0 ? (random.Next(2) == 0 ? 1e39 : -1e300) : Math.Round((random.NextDouble() * 6) - 3, 2);
                    columns[names[f]] = InputColumn.OfNumber(numbers[f]);
                }
            }

            var layout = FieldLayout.Of([.. names])!;
            var dense = new PredictionInput(layout, numbers, texts.Any(t => t is not null) ? texts : null);
            var named = new PredictionInput(1, columns);
            var problems = model.Check(dense, allowed);
            Assert.Equal(model.Check(named, allowed), problems);
            if (problems.Count == 0)
            {
                fits++;
                Assert.Equal(Bits(model.Predict(named, 0)), Bits(model.Predict(dense, 0)));
                Assert.Equal(Bits(model.PredictBatch([named, dense, named])[2]), Bits(model.PredictBatch([dense, named, dense])[0]));
            }
        }

        Assert.True(fits > 1_000, $"only {fits} rows fitted");
    }

    [Fact]
    public void A_number_beyond_float32_is_refused_naming_the_field_and_its_first_row()
    {
        var model = new LoadedModel("p", "m", 1, "sha256:0", RandomTrees.Model(3, new RandomTrees.Shape(Features: 2, Trees: 4, CategoricalShare: 0), LearningTask.Regression));
        var (a, b) = (model.Inputs[0].Name, model.Inputs[1].Name);
        var none = new HashSet<string>(StringComparer.Ordinal);

        var row = new PredictionInput(FieldLayout.Of([a, b])!, [1e39, float.MaxValue], null);
        var rows = new PredictionInput(3, new Dictionary<string, InputColumn>(StringComparer.Ordinal)
        {
            [a] = InputColumn.OfNumbers([1, double.NaN, -1e300]),
            [b] = InputColumn.OfNumbers([3.4e38, -3.4e38, 0]),
        });

        Assert.Equal([$"field '{a}' is 1E+39 in row 0, beyond the model's features (float32, at most ±3.4028235E+38)"], model.Check(row, none));
        Assert.Equal([$"field '{a}' is -1E+300 in row 2, beyond the model's features (float32, at most ±3.4028235E+38)"], model.Check(rows, none));
    }

    [Fact]
    public void A_layout_is_shared_by_the_same_names_in_the_same_order_and_refused_with_a_name_twice()
    {
        var layout = FieldLayout.Of(["a", "b", "c"])!;

        Assert.Same(layout, FieldLayout.Of([new string("a"), "b", "c"]));
        Assert.NotSame(layout, FieldLayout.Of(["b", "a", "c"]));
        Assert.NotSame(layout, FieldLayout.Of(["a", "b"]));
        Assert.Null(FieldLayout.Of(["a", "b", "a"]));
        Assert.Equal(["a", "b", "c"], layout.Names);
        Assert.Throws<ArgumentException>(() => new PredictionInput(layout, [1, 2], null));
    }

    [Fact]
    public void A_row_in_a_layout_reads_as_named_columns_when_asked()
    {
        var input = new PredictionInput(FieldLayout.Of(["n", "t", "z"])!, [2.5, double.NaN, double.NaN], [null, "ORD", null]);

        Assert.Equal(1, input.Rows);
        Assert.Equal(["n", "t", "z"], input.Columns.Keys);
        Assert.Equal(2.5, input.Columns["n"].NumberAt(0));
        Assert.Equal("ORD", Assert.Single(input.Columns["t"].Texts!));
        Assert.Equal(InputKind.Null, input.Columns["z"].Kind);
        Assert.Same(input.Columns, input.Columns);
    }

    private static string Bits(PredictionOutput output) =>
        string.Join(",", (output.Probabilities ?? output.Values!).Select(v => BitConverter.DoubleToInt64Bits(v))) + "|" + string.Join(",", output.Labels ?? []);
}
