using System.Security.Cryptography;
using Strata.Learning;
using Strata.Learning.Gbdt;

namespace Strata.Tests.Learning.Gbdt;

/// <summary>Small tables with known answers, and ways to look at a trained model.</summary>
internal static class GbdtTestData
{
    /// <summary>A table of float32 features f0..f{d-1} (uniform in [-1, 1), seeded) and a label computed from them.</summary>
    public static Table Numeric(int rows, int features, int seed, Func<float[], object> label, double missing = 0)
    {
        var random = new Random(seed);
        var columns = new float?[features][];
        for (var f = 0; f < features; f++)
        {
            columns[f] = new float?[rows];
        }

        var labels = new List<object>(rows);
        var row = new float[features];
        for (var r = 0; r < rows; r++)
        {
            for (var f = 0; f < features; f++)
            {
                row[f] = (float)((random.NextDouble() * 2) - 1);
                columns[f][r] = missing > 0 && random.NextDouble() < missing ? null : row[f];
                if (columns[f][r] is null)
                {
                    row[f] = float.NaN;
                }
            }

            labels.Add(label(row));
        }

        var named = new List<(string, Column)>();
        for (var f = 0; f < features; f++)
        {
            named.Add(($"f{f}", Columns.Float32(columns[f])));
        }

        named.Add(("y", LabelColumn(labels)));
        return Table.From([.. named]);
    }

    public static Column LabelColumn(List<object> labels) => labels[0] switch
    {
        bool => Columns.Bool(labels.Select(l => (bool?)(bool)l).ToArray()),
        string => Columns.String(labels.Select(l => (string?)l).ToArray()),
        int => Columns.Int32(labels.Select(l => (int?)(int)l).ToArray()),
        _ => Columns.Float64(labels.Select(l => (double?)Convert.ToDouble(l, System.Globalization.CultureInfo.InvariantCulture)).ToArray()),
    };

    public static TrainingData Train(Table table, LearningTask? task = null, string? weight = null, IReadOnlyList<string>? features = null) =>
        TrainingData.FromTable(table, new TrainingSpec { Label = "y", Task = task, Weight = weight, Features = features });

    public static TreeEnsembleModel Fit(TrainingData data, GbdtOptions options, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null) =>
        new GbdtLearner(options).Fit(data, valid, progress);

    /// <summary>Margins of the training rows through the model's reference predictor.</summary>
    public static double[] Margins(Model model, TrainingData data)
    {
        var margins = new double[data.Rows * model.OutputCount];
        model.PredictMargins(data.Features, margins);
        return margins;
    }

    public static double Accuracy(Model model, TrainingData data)
    {
        var m = Margins(model, data);
        var k = model.OutputCount;
        var right = 0;
        for (var r = 0; r < data.Rows; r++)
        {
            int predicted;
            if (k == 1)
            {
                predicted = m[r] > 0 ? 1 : 0;
            }
            else
            {
                predicted = 0;
                for (var c = 1; c < k; c++)
                {
                    if (m[(r * k) + c] > m[(r * k) + predicted])
                    {
                        predicted = c;
                    }
                }
            }

            right += predicted == (int)data.Labels[r] ? 1 : 0;
        }

        return (double)right / data.Rows;
    }

    public static double Rmse(Model model, TrainingData data)
    {
        var m = Margins(model, data);
        double sum = 0;
        for (var r = 0; r < data.Rows; r++)
        {
            var p = Model.Apply(model.Transform, m[r]);
            sum += (p - data.Labels[r]) * (p - data.Labels[r]);
        }

        return Math.Sqrt(sum / data.Rows);
    }

    /// <summary>SHA-256 over every parameter array and value, in name order.</summary>
    public static string Hash(Model model)
    {
        var parameters = model.ToParameters();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, array) in parameters.Arrays.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            var bytes = new byte[Buffer.ByteLength(array)];
            Buffer.BlockCopy(array, 0, bytes, 0, bytes.Length);
            sha.AppendData(bytes);
        }

        foreach (var (name, value) in parameters.Values.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "=" + value));
        }

        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>Leaves and maximum depth of each tree.</summary>
    public static IEnumerable<(int Leaves, int Depth)> Shapes(TreeEnsemble e)
    {
        for (var t = 0; t < e.TreeCount; t++)
        {
            var depth = new Dictionary<int, int> { [e.TreeStarts[t]] = 0 };
            int leaves = 0, max = 0;
            for (var n = e.TreeStarts[t]; n < e.TreeStarts[t + 1]; n++)
            {
                max = Math.Max(max, depth[n]);
                if (e.IsLeaf(n))
                {
                    leaves++;
                }
                else
                {
                    depth[e.LeftChild[n]] = depth[n] + 1;
                    depth[e.RightChild[n]] = depth[n] + 1;
                }
            }

            yield return (leaves, max);
        }
    }
}
