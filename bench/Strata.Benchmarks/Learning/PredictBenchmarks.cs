using System.Globalization;
using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using Strata.Learning;

namespace Strata.Benchmarks.Learning;

/// <summary>
/// Prediction with the XGBoost flights model (100 trees of depth 6, 11 features) imported from the repository's
/// fixtures: one row through the compiled trees and through the reference traversal, and 100,000 rows in a batch.
/// </summary>
[MemoryDiagnoser]
public class PredictBenchmarks
{
    private TreeEnsembleModel _model = null!;
    private FeatureMatrix _features = null!;
    private float[][] _rows = [];
    private double[] _margins = [];
    private readonly double[] _one = new double[1];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _model = XGBoostImporter.Load(PredictData.Fixture("flights_xgb.json"));
        (_features, _) = PredictData.ReadSample(_model, PredictData.Fixture("flights_sample.csv.gz"), 100_000, tileTo: 100_000);
        _margins = new double[_features.Rows];
        _rows = [.. Enumerable.Range(0, 1024).Select(r => Enumerable.Range(0, _features.Count).Select(f => _features.Value(f, r)).ToArray())];
        _model.PredictMargins(_rows[0], _one);
    }

    /// <summary>One row (rows change from call to call, as they do in serving).</summary>
    [Benchmark]
    public double SingleRow()
    {
        _model.PredictMargins(_rows[_next++ & 1023], _one);
        return _one[0];
    }

    /// <summary>One row through the reference traversal (<see cref="TreeEnsemble.PredictRow"/>).</summary>
    [Benchmark]
    public double SingleRowReference()
    {
        _model.Ensemble.PredictRow(_rows[_next++ & 1023], _one);
        return _one[0];
    }

    /// <summary>100,000 rows on every processor.</summary>
    [Benchmark]
    public double Batch()
    {
        _model.Compiled.PredictMargins(_features, _margins);
        return _margins[^1];
    }

    /// <summary>100,000 rows on one thread.</summary>
    [Benchmark]
    public double BatchOneThread()
    {
        _model.Compiled.PredictMargins(_features, _margins, maxDegreeOfParallelism: 1);
        return _margins[^1];
    }
}

/// <summary>The flights model and sample rows, shared by the benchmarks and the `peer predict-xgb` operation.</summary>
internal static class PredictData
{
    /// <summary>A file in the repository's tests/fixtures/xgboost (found by walking up to Strata.slnx).</summary>
    public static string Fixture(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Strata.slnx")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("no Strata.slnx above " + AppContext.BaseDirectory), "tests", "fixtures", "xgboost", name);
    }

    /// <summary>
    /// The model's input columns from a sample CSV (gzip) written by ../shared/peers/train_xgb.py, up to
    /// <paramref name="limit"/> rows (repeated to <paramref name="tileTo"/> rows when given), and XGBoost's saved
    /// predictions (xgb_pred).
    /// </summary>
    public static (FeatureMatrix Features, double[] Expected) ReadSample(Model model, string path, int limit, int tileTo = 0)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        var header = reader.ReadLine()!.Split(',');
        var predicted = Array.IndexOf(header, "xgb_pred");
        var columns = model.Signature.Inputs.Select(i => Array.IndexOf(header, i.Name)).ToArray();
        var values = columns.Select(_ => new List<float>()).ToArray();
        var expected = new List<double>();
        while (expected.Count < limit && reader.ReadLine() is { Length: > 0 } line)
        {
            var cells = line.Split(',');
            for (var f = 0; f < columns.Length; f++)
            {
                var cell = cells[columns[f]];
                values[f].Add(cell.Length == 0 ? float.NaN : float.Parse(cell, CultureInfo.InvariantCulture));
            }

            expected.Add(double.Parse(cells[predicted], CultureInfo.InvariantCulture));
        }

        var rows = Math.Max(tileTo, expected.Count);
        var table = Table.From([.. model.Signature.Inputs.Select((input, f) =>
            (input.Name, (Column)Columns.Create<float>(DataType.Float32, Enumerable.Range(0, rows).Select(r => values[f][r % values[f].Count]).ToArray())))]);
        return (FeatureMatrix.FromTable(table, model.Signature.Inputs), [.. expected]);
    }
}
