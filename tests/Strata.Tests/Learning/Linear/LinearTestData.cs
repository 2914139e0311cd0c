using Strata.Learning;

namespace Strata.Tests.Learning.Linear;

/// <summary>Synthetic tables with known coefficients, from fixed seeds.</summary>
internal static class LinearTestData
{
    /// <summary>y = 1.5 + 2·x1 − 3·x2 + {a: 0, b: 1, c: −2}[cat] + noise; x1 ~ N(0, 1), x2 ~ N(10, 5).</summary>
    public static Table Regression(int rows, int seed, double noise = 0.1)
    {
        var random = new Random(seed);
        var x1 = new double?[rows];
        var x2 = new double?[rows];
        var cat = new string?[rows];
        var y = new double?[rows];
        for (var i = 0; i < rows; i++)
        {
            x1[i] = (float)Normal(random);
            x2[i] = (float)(10 + (5 * Normal(random)));
            cat[i] = "abc"[random.Next(3)].ToString();
            var effect = cat[i] switch { "a" => 0.0, "b" => 1.0, _ => -2.0 };
            y[i] = 1.5 + (2 * x1[i]!.Value) - (3 * x2[i]!.Value) + effect + (noise * Normal(random));
        }

        return Table.From(("x1", Columns.Float64(x1)), ("x2", Columns.Float64(x2)), ("cat", Columns.String(cat)), ("y", Columns.Float64(y)));
    }

    /// <summary>P(y = 1) = σ(−0.5 + 1.0·x1 − 2.0·x2 + {a: 0, b: 0.8}[cat]); x1, x2 ~ N(0, 1).</summary>
    public static Table Binary(int rows, int seed, double scale = 1)
    {
        var random = new Random(seed);
        var x1 = new double?[rows];
        var x2 = new double?[rows];
        var cat = new string?[rows];
        var y = new bool?[rows];
        for (var i = 0; i < rows; i++)
        {
            x1[i] = (float)Normal(random);
            x2[i] = (float)Normal(random);
            cat[i] = random.Next(2) == 0 ? "a" : "b";
            var margin = scale * (-0.5 + x1[i]!.Value - (2 * x2[i]!.Value) + (cat[i] == "b" ? 0.8 : 0));
            y[i] = random.NextDouble() < 1 / (1 + Math.Exp(-margin));
        }

        return Table.From(("x1", Columns.Float64(x1)), ("x2", Columns.Float64(x2)), ("cat", Columns.String(cat)), ("y", Columns.Bool(y)));
    }

    /// <summary>Three classes with softmax margins (0, x1 − x2, 2·x2 + 0.5).</summary>
    public static Table Multiclass(int rows, int seed)
    {
        var random = new Random(seed);
        var x1 = new double?[rows];
        var x2 = new double?[rows];
        var y = new string?[rows];
        for (var i = 0; i < rows; i++)
        {
            x1[i] = (float)Normal(random);
            x2[i] = (float)Normal(random);
            double[] margins = [0, x1[i]!.Value - x2[i]!.Value, (2 * x2[i]!.Value) + 0.5];
            var sum = margins.Sum(Math.Exp);
            var u = random.NextDouble() * sum;
            var c = 0;
            for (; c < 2 && u > Math.Exp(margins[c]); c++)
            {
                u -= Math.Exp(margins[c]);
            }

            y[i] = new[] { "k0", "k1", "k2" }[c];
        }

        return Table.From(("x1", Columns.Float64(x1)), ("x2", Columns.Float64(x2)), ("y", Columns.String(y)));
    }

    public static TrainingData Prepare(Table table, string label = "y", LearningTask? task = null, string? weight = null) =>
        TrainingData.FromTable(table, new TrainingSpec { Label = label, Task = task, Weight = weight });

    public static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>A copy of a table with one float64 column replaced.</summary>
    public static Table WithColumn(Table table, string name, Func<double?, double?> map)
    {
        var columns = new List<(string, Column)>();
        foreach (var field in table.Schema)
        {
            var column = table[field.Name];
            if (field.Name == name)
            {
                var source = (Column<double>)column;
                column = Columns.Float64([.. Enumerable.Range(0, source.Length).Select(i => map(source.IsNull(i) ? null : source[i]))]);
            }

            columns.Add((field.Name, column));
        }

        return Table.From([.. columns]);
    }
}
