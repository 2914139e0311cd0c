using BenchmarkDotNet.Attributes;
using Strata.Learning;
using Strata.Learning.Gbdt;

namespace Strata.Benchmarks.Learning;

/// <summary>
/// The GBDT learner's phases on a seeded table shaped like the peer comparison's synthetic set (standard normal float32
/// features, logistic truth with one interaction): binning, one root histogram (row-wise, all features), and whole fits
/// with depth-wise and loss-guided growth. Whole-process comparisons against XGBoost are in bench/peers/train_vs_xgboost.sh.
/// </summary>
[MemoryDiagnoser]
public class GbdtBenchmarks
{
    private TrainingData _data = null!;
    private BinnedMatrix _binned = null!;
    private long[] _packed = null!;
    private long[] _hist = null!;

    [Params(200_000)]
    public int Rows { get; set; }

    [Params(50)]
    public int Features { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var columns = new float[Features][];
        var weights = Enumerable.Range(0, Features).Select(_ => Normal(random)).ToArray();
        for (var f = 0; f < Features; f++)
        {
            columns[f] = new float[Rows];
        }

        var labels = new int[Rows];
        for (var r = 0; r < Rows; r++)
        {
            double logit = 0;
            for (var f = 0; f < Features; f++)
            {
                columns[f][r] = (float)Normal(random);
                logit += weights[f] * columns[f][r];
            }

            logit = (logit / Math.Sqrt(Features) * 2) + (0.5 * columns[0][r] * columns[1][r]);
            labels[r] = random.NextDouble() < 1 / (1 + Math.Exp(-logit)) ? 1 : 0;
        }

        var named = Enumerable.Range(0, Features).Select(f => ($"f{f}", (Column)new Column<float>(DataType.Float32, columns[f], 0, Rows))).ToList();
        named.Add(("y", new Column<int>(DataType.Int32, labels, 0, Rows)));
        _data = TrainingData.FromTable(Table.From([.. named]), new TrainingSpec { Label = "y", Task = LearningTask.BinaryClassification });
        _binned = BinnedMatrix.Build(_data.Features, 255, 200_000, 0, 2);
        _packed = new long[Rows];
        for (var i = 0; i < _packed.Length; i++)
        {
            _packed[i] = ((long)random.Next(-Histograms.GradientLevels, Histograms.GradientLevels) << 32) + random.Next(0, Histograms.HessianLevels);
        }

        _hist = new long[_binned.TotalBins];
    }

    [Benchmark]
    public int Bin_features() => BinnedMatrix.Build(_data.Features, 255, 200_000, 0, 2).TotalBins;

    [Benchmark]
    public long[] Root_histogram_one_thread()
    {
        for (var start = 0; start < Rows; start += Histograms.MaxChunkRows)
        {
            Histograms.Build([], start, Math.Min(Histograms.MaxChunkRows, Rows - start), _binned, 0, _binned.FeatureCount, _packed, _hist);
        }

        return _hist;
    }

    [Benchmark(Baseline = true)]
    public Model Fit_20_rounds_depth_6_two_threads() =>
        new GbdtLearner(new GbdtOptions { NumBoostRound = 20, LearningRate = 0.1, MaxDepth = 6, NThread = 2 }).Fit(_data);

    [Benchmark]
    public Model Fit_20_rounds_31_leaves_two_threads() =>
        new GbdtLearner(new GbdtOptions { NumBoostRound = 20, LearningRate = 0.1, GrowPolicy = GrowPolicy.LossGuide, MaxLeaves = 31, MaxDepth = 0, NThread = 2 }).Fit(_data);

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
