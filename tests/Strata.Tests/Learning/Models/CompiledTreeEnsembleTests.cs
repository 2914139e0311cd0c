using Strata.Learning;

namespace Strata.Tests.Learning.Models;

/// <summary>The compiled predictor against the reference traversal (<see cref="TreeEnsemble.PredictRow"/>), bit for bit.</summary>
public sealed class CompiledTreeEnsembleTests
{
    public static TheoryData<int, int, int, int, double> Shapes => new()
    {
        // seed, trees, max depth, outputs, categorical share
        { 1, 30, 6, 1, 0.0 },
        { 2, 30, 6, 1, 0.4 },
        { 3, 12, 12, 1, 0.3 },   // deeper than MaxPerfectDepth: pointer layout
        { 4, 40, 4, 3, 0.3 },
        { 5, 70, 9, 2, 0.2 },    // more trees than one single-row chunk, mixed layouts
        { 6, 5, 0, 1, 0.0 },     // single leaves
        { 7, 25, 8, 1, 1.0 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Single_row_margins_equal_the_reference_bit_for_bit(int seed, int trees, int depth, int outputs, double categoricalShare)
    {
        var shape = new RandomTrees.Shape(Features: 7, Trees: trees, MaxDepth: depth, Outputs: outputs, CategoricalShare: categoricalShare);
        for (var s = 0; s < 20; s++)
        {
            var modelSeed = (seed * 1000) + s;
            var ensemble = RandomTrees.Ensemble(modelSeed, shape);
            var categorical = RandomTrees.CategoricalFeatures(modelSeed, shape);
            var compiled = CompiledTreeEnsemble.Compile(ensemble);
            var random = new Random(modelSeed);
            var expected = new double[outputs];
            var actual = new double[outputs];
            for (var r = 0; r < 200; r++)
            {
                var row = RandomTrees.Row(random, shape.Features, r % 2 == 0 ? categorical : null);
                ensemble.PredictRow(row, expected);
                compiled.PredictMargins(row, actual);
                for (var k = 0; k < outputs; k++)
                {
                    Assert.True(
                        BitConverter.DoubleToInt64Bits(expected[k]) == BitConverter.DoubleToInt64Bits(actual[k]),
                        $"seed {modelSeed}, row {r} [{string.Join(", ", row)}], output {k}: reference {expected[k]:R}, compiled {actual[k]:R}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Batch_margins_equal_the_reference_for_any_thread_count(int seed, int trees, int depth, int outputs, double categoricalShare)
    {
        var shape = new RandomTrees.Shape(Features: 5, Trees: trees, MaxDepth: depth, Outputs: outputs, CategoricalShare: categoricalShare);
        var model = RandomTrees.Model(seed, shape, outputs > 1 ? LearningTask.MulticlassClassification : LearningTask.Regression);
        var table = RandomTrees.Table(seed + 99, shape, RandomTrees.CategoricalFeatures(seed, shape), rows: (3 * CompiledTreeEnsemble.MaxBlockRows) + 17);
        var features = FeatureMatrix.FromTable(table, model.Signature.Inputs);
        var expected = RandomTrees.Reference(model.Ensemble, features);
        foreach (var threads in new[] { 1, 2, 3, -1 })
        {
            var actual = new double[expected.Length];
            model.Compiled.PredictMargins(features, actual, threads);
            Assert.Equal(expected, actual);
        }

        Assert.Equal(expected, model.PredictMargins(table));
    }

    [Fact]
    public void Wide_models_predict_in_smaller_blocks_and_still_match_the_reference()
    {
        // 1500 features: a block of 128 widened rows would not fit the first-level cache, so blocks shrink to 8 rows.
        var shape = new RandomTrees.Shape(Features: 1500, Trees: 12, MaxDepth: 5, CategoricalShare: 0.05);
        var model = RandomTrees.Model(31, shape);
        var features = FeatureMatrix.FromTable(RandomTrees.Table(32, shape, RandomTrees.CategoricalFeatures(31, shape), rows: 37), model.Signature.Inputs);
        var actual = new double[features.Rows];
        model.Compiled.PredictMargins(features, actual, maxDegreeOfParallelism: 2);
        Assert.Equal(RandomTrees.Reference(model.Ensemble, features), actual);
    }

    [Fact]
    public void Single_row_prediction_allocates_nothing()
    {
        var shape = new RandomTrees.Shape(Features: 11, Trees: 100, MaxDepth: 6, CategoricalShare: 0.2);
        var model = RandomTrees.Model(42, shape);
        var row = RandomTrees.Row(new Random(1), shape.Features);
        var margins = new double[1];
        model.PredictMargins(row, margins);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            model.PredictMargins(row, margins);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Rows_of_the_wrong_width_are_refused()
    {
        var compiled = CompiledTreeEnsemble.Compile(RandomTrees.Ensemble(1, new RandomTrees.Shape(Features: 3)));
        Assert.Throws<ArgumentException>(() => compiled.PredictMargins(new float[2], new double[1]));
        Assert.Throws<ArgumentException>(() => compiled.PredictMargins(new float[3], Span<double>.Empty));
    }

    [Fact]
    public void A_model_compiles_once_when_many_threads_ask_at_the_same_time()
    {
        var model = RandomTrees.Model(8, new RandomTrees.Shape());
        var seen = new CompiledTreeEnsemble[8];
        Parallel.For(0, seen.Length, i => seen[i] = model.Compiled);
        Assert.All(seen, c => Assert.Same(seen[0], c));
    }
}
