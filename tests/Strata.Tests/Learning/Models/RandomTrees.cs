using Strata.Learning;

namespace Strata.Tests.Learning.Models;

/// <summary>
/// Seeded random tree ensembles and rows for property tests: numeric and categorical splits, both missing directions,
/// thresholds on a grid the rows also hit (ties), covers that add up, shallow and deep trees, several outputs.
/// </summary>
internal static class RandomTrees
{
    private static readonly float[] Grid = [-2f, -1f, -0.5f, 0f, 0.25f, 0.5f, 1f, 3f];

    /// <summary>Shape of a random ensemble.</summary>
    public sealed record Shape(int Features = 6, int Trees = 20, int MaxDepth = 6, int Outputs = 1, double CategoricalShare = 0.3, double SplitChance = 0.85);

    /// <summary>Which features are categorical for a seed and shape (the same answer every time).</summary>
    public static bool[] CategoricalFeatures(int seed, Shape shape)
    {
        var random = new Random(seed ^ 0x5bd1e995);
        return [.. Enumerable.Range(0, shape.Features).Select(_ => random.NextDouble() < shape.CategoricalShare)];
    }

    public static TreeEnsemble Ensemble(int seed, Shape shape)
    {
        var random = new Random(seed);
        var categorical = CategoricalFeatures(seed, shape);
        var b = new Builder(random, shape, categorical);
        var treeStarts = new List<int> { 0 };
        var treeOutputs = new List<int>();
        for (var t = 0; t < shape.Trees; t++)
        {
            b.Grow(0);
            treeStarts.Add(b.Count);
            treeOutputs.Add(t % shape.Outputs);
        }

        var baseMargins = Enumerable.Range(0, shape.Outputs).Select(_ => (random.NextDouble() * 2) - 1).ToArray();
        return b.Build(shape.Features, baseMargins, [.. treeStarts], [.. treeOutputs]);
    }

    /// <summary>A model over the ensemble: categorical features are int32 inputs with categories "0".."99".</summary>
    public static TreeEnsembleModel Model(int seed, Shape shape, LearningTask task = LearningTask.Regression)
    {
        var ensemble = Ensemble(seed, shape);
        var categorical = CategoricalFeatures(seed, shape);
        var inputs = Enumerable.Range(0, shape.Features).Select(f => categorical[f]
            ? new ModelInput($"c{f}", DataType.Int32, FeatureKind.Categorical, [.. Enumerable.Range(0, 100).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))])
            : new ModelInput($"x{f}", DataType.Float32, FeatureKind.Numeric)).ToList();
        var labels = task switch
        {
            LearningTask.BinaryClassification => new[] { "no", "yes" },
            LearningTask.MulticlassClassification => Enumerable.Range(0, shape.Outputs).Select(k => $"class{k}").ToArray(),
            _ => null,
        };
        var transform = task switch
        {
            LearningTask.BinaryClassification => OutputTransform.Sigmoid,
            LearningTask.MulticlassClassification => OutputTransform.Softmax,
            _ => OutputTransform.Identity,
        };
        var signature = new ModelSignature(inputs, ModelSignature.OutputsFor(task, labels));
        return new TreeEnsembleModel("gbdt", task, signature, labels, transform, new Dictionary<string, string> { ["seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ensemble);
    }

    /// <summary>A row: grid values (ties with thresholds), NaN, infinities, −0, odd category codes.</summary>
    public static float[] Row(Random random, int features, bool[]? categorical = null, bool oddCodes = true)
    {
        var row = new float[features];
        for (var f = 0; f < features; f++)
        {
            var roll = random.NextDouble();
            if (categorical?[f] == true)
            {
                row[f] = roll switch
                {
                    < 0.1 => float.NaN,
                    < 0.15 when oddCodes => random.Next(4) switch { 0 => -1f, 1 => 2.5f, 2 => 1e9f, _ => 4000f },
                    _ => random.Next(0, 100),
                };
                continue;
            }

            row[f] = roll switch
            {
                < 0.12 => float.NaN,
                < 0.45 => Grid[random.Next(Grid.Length)],
                < 0.48 => random.Next(3) switch { 0 => float.PositiveInfinity, 1 => float.NegativeInfinity, _ => -0f },
                _ => (float)((random.NextDouble() * 8) - 4),
            };
        }

        return row;
    }

    /// <summary>
    /// A table of random rows for a model from <see cref="Model"/>: numeric columns as float32 with NaN and nulls,
    /// categorical ones as int32 codes with nulls and codes outside the categories (read as missing).
    /// </summary>
    public static Table Table(int seed, Shape shape, bool[] categorical, int rows)
    {
        var random = new Random(seed);
        var columns = new List<(string, Column)>();
        for (var f = 0; f < shape.Features; f++)
        {
            if (categorical[f])
            {
                var codes = new int?[rows];
                for (var r = 0; r < rows; r++)
                {
                    codes[r] = random.NextDouble() switch { < 0.08 => null, < 0.12 => 100 + random.Next(50), _ => random.Next(100) };
                }

                columns.Add(($"c{f}", Columns.Int32(codes)));
            }
            else
            {
                var values = new float?[rows];
                var one = new[] { false };
                for (var r = 0; r < rows; r++)
                {
                    values[r] = random.NextDouble() < 0.05 ? null : Row(random, 1, one)[0];
                }

                columns.Add(($"x{f}", Columns.Float32(values)));
            }
        }

        return Strata.Table.From([.. columns]);
    }

    /// <summary>The reference margins of every row of a matrix (<see cref="TreeEnsemble.PredictRow"/>).</summary>
    public static double[] Reference(TreeEnsemble ensemble, FeatureMatrix features)
    {
        var k = ensemble.OutputCount;
        var margins = new double[features.Rows * k];
        var row = new float[features.Count];
        for (var r = 0; r < features.Rows; r++)
        {
            for (var f = 0; f < features.Count; f++)
            {
                row[f] = features.Value(f, r);
            }

            ensemble.PredictRow(row, margins.AsSpan(r * k, k));
        }

        return margins;
    }

    private sealed class Builder(Random random, Shape shape, bool[] categorical)
    {
        private readonly List<int> _feature = [];
        private readonly List<float> _threshold = [];
        private readonly List<int> _left = [];
        private readonly List<int> _right = [];
        private readonly List<byte> _flags = [];
        private readonly List<double> _value = [];
        private readonly List<double> _cover = [];
        private readonly List<double> _gain = [];
        private readonly List<int> _categoryStart = [];
        private readonly List<int> _categoryLength = [];
        private readonly List<uint> _bits = [];

        public int Count => _feature.Count;

        /// <summary>Grows a subtree in preorder (children after their parent) and returns its cover.</summary>
        public double Grow(int depth)
        {
            var node = Count;
            _feature.Add(-1);
            _threshold.Add(0);
            _left.Add(-1);
            _right.Add(-1);
            _flags.Add(0);
            _value.Add(0);
            _cover.Add(0);
            _gain.Add(0);
            _categoryStart.Add(-1);
            _categoryLength.Add(0);
            if (depth >= shape.MaxDepth || random.NextDouble() > shape.SplitChance)
            {
                _value[node] = Math.Round((random.NextDouble() * 2) - 1, random.Next(2) == 0 ? 3 : 15);
                _cover[node] = 1 + random.Next(100);
                return _cover[node];
            }

            var feature = random.Next(shape.Features);
            _feature[node] = feature;
            byte flags = random.Next(2) == 0 ? TreeEnsemble.MissingLeft : (byte)0;
            if (categorical[feature])
            {
                flags |= TreeEnsemble.Categorical;
                var words = random.Next(0, 5);
                _categoryStart[node] = _bits.Count;
                _categoryLength[node] = words;
                for (var w = 0; w < words; w++)
                {
                    _bits.Add((uint)random.NextInt64(0, 1L << 32));
                }
            }
            else
            {
                _threshold[node] = random.Next(4) == 0 ? (float)((random.NextDouble() * 8) - 4) : Grid[random.Next(Grid.Length)];
            }

            _flags[node] = flags;
            _left[node] = Count;
            var cover = Grow(depth + 1);
            _right[node] = Count;
            cover += Grow(depth + 1);
            _cover[node] = cover;
            _gain[node] = random.NextDouble() * 10;
            _value[node] = (random.NextDouble() * 2) - 1;
            return cover;
        }

        public TreeEnsemble Build(int features, double[] baseMargins, int[] treeStarts, int[] treeOutputs) => new(
            features, baseMargins, treeStarts, treeOutputs, [.. _feature], [.. _threshold], [.. _left], [.. _right], [.. _flags],
            [.. _value], [.. _cover], [.. _gain], [.. _categoryStart], [.. _categoryLength], [.. _bits]);
    }
}
