using System.Diagnostics;
using System.Globalization;
using Strata.Monitoring.Drift;

namespace Strata.Benchmarks;

// `peer drift [rows] [features]`: drift_scipy.py's workload — reference ~ N(0,1), current the same with features 0-9
// mean-shifted by 0.05 and 10-14 scaled by 1.1 — streamed through drift profiles in batches (never all rows in memory).
// Generating the numbers is not timed (as in the SciPy script); the reference's quantile sketch pass, the exact counts
// on both sides and the tests are. Flags KS at p < 0.01 and PSI > 0.001 over 10 reference-quantile bins, as the peer.
internal static partial class PeerOperations
{
    static partial void RegisterDrift() =>
        PeerMeasurements.Register("drift", args =>
        {
            var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
            var features = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50;
            const int Batch = 1 << 16;
            var names = Enumerable.Range(0, features).Select(j => $"f{j}").ToArray();
            var watch = new Stopwatch();

            // Pass 1: the reference's quantile sketch fixes the bin edges. Pass 2: exact counts on them, then the current data.
            var sketchWatch = Stopwatch.StartNew();
            sketchWatch.Stop();
            var sketch = new DriftLayoutBuilder();
            foreach (var batch in Normals(rows, features, Batch, seed: 1, shifted: false))
            {
                sketchWatch.Start();
                sketch.Add(batch);
                sketchWatch.Stop();
            }

            watch.Start();
            var layout = sketch.Build();
            var reference = new DriftProfileBuilder(layout);
            var current = new DriftProfileBuilder(layout);
            watch.Stop();
            foreach (var batch in Normals(rows, features, Batch, seed: 1, shifted: false))
            {
                watch.Start();
                reference.Add(batch);
                watch.Stop();
            }

            foreach (var batch in Normals(rows, features, Batch, seed: 2, shifted: true))
            {
                watch.Start();
                current.Add(batch);
                watch.Stop();
            }

            watch.Start();
            var r = reference.Build();
            var c = current.Build();
            var ks = DriftDetector.Compare(r, c, Options(names, DriftMethod.KolmogorovSmirnov, 0.01));
            var psi = DriftDetector.Compare(r, c, Options(names, DriftMethod.Psi, 0.001));
            var wasserstein = DriftDetector.Compare(r, c);
            watch.Stop();

            var result = new Dictionary<string, object>
            {
                ["operation"] = "drift",
                ["features"] = features,
                ["rows_ref"] = rows,
                ["rows_cur"] = rows,
                ["seconds"] = Math.Round(sketchWatch.Elapsed.TotalSeconds + watch.Elapsed.TotalSeconds, 3),
                ["sketch_s"] = Math.Round(sketchWatch.Elapsed.TotalSeconds, 3),
                ["counts_and_tests_s"] = Math.Round(watch.Elapsed.TotalSeconds, 3),
                ["ks_flagged_p_lt_0.01"] = Flagged(ks),
                ["psi_flagged_gt_0.001"] = Flagged(psi),
                ["psi_max"] = Math.Round(psi.Features.Max(f => f.Score), 5),
                ["default_wasserstein_flagged"] = Flagged(wasserstein),
            };
            return Task.FromResult(result);
        });

    static partial void RegisterDrift();

    private static DriftOptions Options(string[] names, DriftMethod method, double threshold) => new()
    {
        Features = names.ToDictionary(n => n, _ => new FeatureDriftOptions(method, threshold)),
    };

    private static int[] Flagged(DatasetDrift drift) =>
        [.. drift.Features.Select((f, i) => (f, i)).Where(p => p.f.Status == DriftStatus.Drift).Select(p => p.i)];

    /// <summary>Batches of standard normals (Box–Muller over a seeded generator), shifted as the SciPy script shifts them.</summary>
    private static IEnumerable<Table> Normals(int rows, int features, int batch, int seed, bool shifted)
    {
        var random = new Random(seed);
        for (var start = 0; start < rows; start += batch)
        {
            var n = Math.Min(batch, rows - start);
            var columns = new (string, Column)[features];
            for (var j = 0; j < features; j++)
            {
                var values = new double[n];
                for (var i = 0; i < n; i += 2)
                {
                    var u = 1 - random.NextDouble();
                    var v = random.NextDouble();
                    var radius = Math.Sqrt(-2 * Math.Log(u));
                    var (sin, cos) = Math.SinCos(2 * Math.PI * v);
                    values[i] = radius * cos;
                    if (i + 1 < n)
                    {
                        values[i + 1] = radius * sin;
                    }
                }

                if (shifted && j < 10)
                {
                    for (var i = 0; i < n; i++)
                    {
                        values[i] += 0.05;
                    }
                }
                else if (shifted && j < 15)
                {
                    for (var i = 0; i < n; i++)
                    {
                        values[i] *= 1.1;
                    }
                }

                columns[j] = ($"f{j}", Columns.Create(DataType.Float64, values.AsSpan()));
            }

            yield return Table.From(columns);
        }
    }
}
