using Strata.Data.Profiling;

namespace Strata.Tests.Data.Profiling;

public sealed class ProfileDistancesTests
{
    private static readonly double RankError = KllSketch.NormalizedRankError(KllSketch.DefaultK, pmf: true);

    [Fact]
    public void Jensen_Shannon_is_zero_for_the_same_data_and_grows_with_a_shift()
    {
        var reference = Numeric(Normals(1, 50_000, shift: 0));
        var same = Numeric(Normals(1, 50_000, shift: 0));
        var nearby = Numeric(Normals(2, 50_000, shift: 0.1));
        var far = Numeric(Normals(3, 50_000, shift: 2));

        Assert.Equal(0, ProfileDistances.JensenShannon(reference, same));
        var small = ProfileDistances.JensenShannon(reference, nearby);
        var large = ProfileDistances.JensenShannon(reference, far);
        Assert.InRange(small, 0.01, 0.15);
        Assert.InRange(large, 0.5, 1);
    }

    [Fact]
    public void Jensen_Shannon_agrees_with_an_exact_binned_reference()
    {
        Property.ForSeeds(Enumerable.Range(1, 4), seed =>
        {
            var a = Normals(seed, 80_000, shift: 0);
            var b = Normals(seed + 100, 60_000, shift: 0.3 * seed);
            var pa = Numeric(a);
            var pb = Numeric(b);

            var bins = ProfileDistances.CommonBins(pa, pb, bins: 10);
            var exactP = ExactBins(a, bins.Edges);
            var exactQ = ExactBins(b, bins.Edges);

            Assert.Equal(Math.Min(a.Min(), b.Min()), bins.Edges[0]);
            Assert.Equal(Math.Max(a.Max(), b.Max()), bins.Edges[^1]);
            Assert.Equal(1, bins.Reference.Sum(), 12);
            for (var i = 0; i < 10; i++)
            {
                Assert.InRange(bins.Reference[i], exactP[i] - (2 * RankError), exactP[i] + (2 * RankError));
                Assert.InRange(bins.Current[i], exactQ[i] - (2 * RankError), exactQ[i] + (2 * RankError));
            }

            Assert.Equal(JensenShannon(exactP, exactQ), ProfileDistances.JensenShannon(pa, pb, bins: 10), 0.05);
        });
    }

    [Fact]
    public void Kolmogorov_Smirnov_is_within_twice_the_rank_error_of_the_exact_statistic()
    {
        var a = Normals(5, 50_000, shift: 0);
        var b = Normals(6, 40_000, shift: 0.25);
        var sa = a.Order().ToArray();
        var sb = b.Order().ToArray();
        var exact = sa.Concat(sb).Max(x => Math.Abs(Property.ExactRank(sa, x).AtOrBelow - Property.ExactRank(sb, x).AtOrBelow));

        var estimate = ProfileDistances.KolmogorovSmirnov(Numeric(a), Numeric(b));

        Assert.InRange(estimate, exact - (2 * RankError), exact + (2 * RankError));
    }

    [Fact]
    public void L_infinity_of_exact_summaries_is_the_largest_frequency_difference()
    {
        var a = Strings(["x", "x", "y", "z", null]);
        var b = Strings(["x", "y", "y", "y", "w", "w"]);

        // Frequencies: a = {x: .5, y: .25, z: .25}, b = {x: 1/6, y: .5, w: 1/3}; the largest gap is x.
        Assert.Equal(0.5 - (1.0 / 6), ProfileDistances.LInfinity(a, b, out var error), 12);
        Assert.Equal(0, error);
        Assert.Equal(0, ProfileDistances.LInfinity(a, a));
    }

    [Fact]
    public void L_infinity_of_inexact_summaries_is_within_the_reported_error()
    {
        Property.ForSeeds(Enumerable.Range(1, 3), seed =>
        {
            var random = new Random(seed);
            var va = Enumerable.Range(0, 40_000).Select(_ => "v" + (int)(20_000 * Math.Pow(random.NextDouble(), 4))).ToArray();
            var vb = Enumerable.Range(0, 30_000).Select(_ => "v" + (int)(20_000 * Math.Pow(random.NextDouble(), 3))).ToArray();
            var options = new ProfileOptions { FrequentValuesCapacity = 64 };
            var a = Strings(va, options);
            var b = Strings(vb, options);
            Assert.False(((StringColumnProfile)a).FrequenciesAreExact);

            var estimate = ProfileDistances.LInfinity(a, b, out var error);

            var fa = va.GroupBy(v => v).ToDictionary(g => g.Key, g => (double)g.Count() / va.Length);
            var fb = vb.GroupBy(v => v).ToDictionary(g => g.Key, g => (double)g.Count() / vb.Length);
            var exact = fa.Keys.Union(fb.Keys).Max(k => Math.Abs(fa.GetValueOrDefault(k) - fb.GetValueOrDefault(k)));
            Assert.True(error > 0);
            Assert.InRange(estimate, exact - error, exact + error);
        });
    }

    [Fact]
    public void Bool_L_infinity_compares_true_and_false_frequencies()
    {
        var a = Profiler.Profile(Table.From(("b", Columns.Bool(true, true, true, false))))["b"];
        var b = Profiler.Profile(Table.From(("b", Columns.Bool(true, false, null))))["b"];

        Assert.Equal(0.25, ProfileDistances.LInfinity(a, b), 12);
    }

    [Fact]
    public void Profiles_without_values_are_at_distance_zero_from_each_other_and_one_from_the_rest()
    {
        var empty = Profiler.Profile(Table.From(("x", Columns.Float64(null, null))))["x"];
        var full = Numeric([1, 2, 3]);

        Assert.Equal(0, ProfileDistances.JensenShannon(empty, empty));
        Assert.Equal(1, ProfileDistances.JensenShannon(empty, full));
        Assert.Equal(1, ProfileDistances.KolmogorovSmirnov(full, empty));
        Assert.Equal(0, ProfileDistances.JensenShannon(Numeric([5, 5]), Numeric([5])));
    }

    [Fact]
    public void Distances_reject_pii_columns_and_mismatched_types()
    {
        var pii = Profiler.Profile(new Table(new Schema(new Field("x", DataType.Float64, tags: ["pii"])), [Columns.Float64(1, 2)]))["x"];
        var numeric = Numeric([1, 2]);
        var text = Strings(["a"]);
        var time = Profiler.Profile(Table.From(("x", Columns.Timestamp(1L, 2L))))["x"];

        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => ProfileDistances.JensenShannon(pii, numeric)).Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => ProfileDistances.JensenShannon(numeric, text)).Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => ProfileDistances.JensenShannon(numeric, time)).Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => ProfileDistances.LInfinity(numeric, numeric)).Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => ProfileDistances.LInfinity(text, pii)).Code);
    }

    private static double[] Normals(int seed, int n, double shift)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Property.Normal(random) + shift).ToArray();
    }

    private static ColumnProfile Numeric(double[] values) =>
        Profiler.Profile(Table.From(("x", Columns.Create<double>(DataType.Float64, values))))["x"];

    private static ColumnProfile Strings(string?[] values, ProfileOptions? options = null) =>
        Profiler.Profile(Table.From(("s", Columns.String(values))), options)["s"];

    private static double[] ExactBins(double[] values, IReadOnlyList<double> edges)
    {
        var bins = new double[edges.Count - 1];
        foreach (var v in values)
        {
            var i = 0;
            while (i < bins.Length - 1 && v > edges[i + 1])
            {
                i++;
            }

            bins[i]++;
        }

        return bins.Select(c => c / values.Length).ToArray();
    }

    private static double JensenShannon(double[] p, double[] q)
    {
        var d = 0.0;
        for (var i = 0; i < p.Length; i++)
        {
            var m = (p[i] + q[i]) / 2;
            d += (p[i] > 0 ? 0.5 * p[i] * Math.Log2(p[i] / m) : 0) + (q[i] > 0 ? 0.5 * q[i] * Math.Log2(q[i] / m) : 0);
        }

        return Math.Sqrt(d);
    }
}
