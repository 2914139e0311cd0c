using System.Globalization;
using System.IO.Compression;
using Strata.Learning;
using Strata.Testing;

namespace Strata.Tests.Learning.Models;

/// <summary>The XGBoost models and reference outputs in tests/fixtures/xgboost (see the README there).</summary>
internal static class XGBoostFixtures
{
    public static string PathOf(string name) => SharedData.InRepository("tests", "fixtures", "xgboost", name);

    public static TreeEnsembleModel Model(string name) => XGBoostImporter.Load(PathOf(name));

    /// <summary>A numeric CSV (gzip when the name ends in .gz); an empty cell is NaN.</summary>
    public static Csv Read(string name)
    {
        using var file = File.OpenRead(PathOf(name));
        using Stream stream = name.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(stream);
        var header = reader.ReadLine()!.Split(',');
        var rows = new List<double[]>();
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            rows.Add([.. line.Split(',').Select(c => c.Length == 0 ? double.NaN : double.Parse(c, CultureInfo.InvariantCulture))]);
        }

        return new Csv(header, rows);
    }

    internal sealed record Csv(string[] Header, List<double[]> Rows)
    {
        public int Column(string name) => Array.IndexOf(Header, name) is var i and >= 0 ? i : throw new KeyNotFoundException(name);

        /// <summary>Feature values of a row (the first <paramref name="features"/> columns) as float32.</summary>
        public float[] Features(int row, int features) => [.. Rows[row].Take(features).Select(v => (float)v)];

        public double Value(int row, string column) => Rows[row][Column(column)];

        /// <summary>The first <paramref name="features"/> columns as a table of float32 columns named after a model's inputs.</summary>
        public Table Table(Model model, int features)
        {
            var columns = new List<(string, Column)>();
            for (var f = 0; f < features; f++)
            {
                var values = Rows.Select(r => (float)r[f]).ToArray();
                columns.Add((model.Signature.Inputs[f].Name, Columns.Create<float>(DataType.Float32, values)));
            }

            return Strata.Table.From([.. columns]);
        }
    }
}
