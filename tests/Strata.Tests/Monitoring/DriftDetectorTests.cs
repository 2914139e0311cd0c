using Strata.Monitoring.Drift;

namespace Strata.Tests.Monitoring;

public sealed class DriftDetectorTests
{
    [Fact]
    public void Defaults_follow_evidently_wasserstein_and_jensen_shannon_above_1000_reference_rows_ks_and_chi_square_below()
    {
        var (layout, large) = Data(seed: 1, rows: 5000, shift: 0);
        var small = DriftProfileBuilder.Profile(layout, Table(seed: 2, rows: 500, shift: 0));

        var bigReference = DriftDetector.Compare(large, small);
        var smallReference = DriftDetector.Compare(small, large);

        Assert.Equal([DriftMethod.Wasserstein, DriftMethod.JensenShannon], bigReference.Features.Select(f => f.Method));
        Assert.Equal([DriftMethod.KolmogorovSmirnov, DriftMethod.ChiSquare], smallReference.Features.Select(f => f.Method));
        Assert.Equal([0.1, 0.1], bigReference.Features.Select(f => f.Threshold));
        Assert.Equal([0.05, 0.05], smallReference.Features.Select(f => f.Threshold));
        Assert.Equal(DriftStatus.NoDrift, bigReference.Status);
    }

    [Fact]
    public void A_shifted_numeric_feature_drifts_and_the_data_set_drifts_at_half_the_features()
    {
        var (layout, reference) = Data(seed: 1, rows: 5000, shift: 0);
        var current = DriftProfileBuilder.Profile(layout, Table(seed: 3, rows: 3000, shift: 0.5));

        var drift = DriftDetector.Compare(reference, current);

        Assert.Equal(DriftStatus.Drift, drift.Features[0].Status);
        Assert.Equal(DriftStatus.NoDrift, drift.Features[1].Status);
        Assert.Equal(0.5, drift.DriftShare);
        Assert.Equal(DriftStatus.Drift, drift.Status);
        Assert.Equal(DriftStatus.NoDrift, DriftDetector.Compare(reference, current, new DriftOptions { DriftShare = 0.51 }).Status);
    }

    [Fact]
    public void Per_feature_overrides_change_the_method_and_threshold()
    {
        var (layout, reference) = Data(seed: 1, rows: 5000, shift: 0);
        var current = DriftProfileBuilder.Profile(layout, Table(seed: 3, rows: 3000, shift: 0.5));
        var options = new DriftOptions
        {
            Features = new Dictionary<string, FeatureDriftOptions>
            {
                ["x"] = new(DriftMethod.Psi, Threshold: 1e6),
                ["color"] = new(DriftMethod.ChiSquare),
            },
        };

        var drift = DriftDetector.Compare(reference, current, options);

        Assert.Equal(DriftMethod.Psi, drift.Features[0].Method);
        Assert.Equal(DriftStatus.NoDrift, drift.Features[0].Status);
        Assert.Equal(DriftMethod.ChiSquare, drift.Features[1].Method);
        Assert.NotNull(drift.Features[1].PValue);
    }

    [Fact]
    public void Below_the_minimum_sample_size_the_verdict_is_insufficient_data_never_no_drift()
    {
        var (layout, reference) = Data(seed: 1, rows: 5000, shift: 0);
        var tiny = DriftProfileBuilder.Profile(layout, Table(seed: 4, rows: 10, shift: 0));
        var empty = DriftProfile.Empty(layout);

        var drift = DriftDetector.Compare(reference, tiny);
        var none = DriftDetector.Compare(reference, empty);

        Assert.All(drift.Features, f => Assert.Equal(DriftStatus.InsufficientData, f.Status));
        Assert.Equal(DriftStatus.InsufficientData, drift.Status);
        Assert.Equal(0, drift.TestedCount);
        Assert.Equal(DriftStatus.InsufficientData, none.Status);
        Assert.All(none.Features, f => Assert.True(double.IsNaN(f.Score)));
    }

    [Fact]
    public void An_override_for_an_unknown_feature_or_a_numeric_method_on_a_category_is_a_clear_error()
    {
        var (layout, reference) = Data(seed: 1, rows: 500, shift: 0);

        var unknown = Assert.Throws<StrataException>(() => DriftDetector.Compare(
            reference, reference, new DriftOptions { Features = new Dictionary<string, FeatureDriftOptions> { ["nope"] = new(DriftMethod.Psi) } }));
        var wrongKind = Assert.Throws<StrataException>(() => DriftDetector.Compare(
            reference, reference, new DriftOptions { Features = new Dictionary<string, FeatureDriftOptions> { ["color"] = new(DriftMethod.Wasserstein) } }));
        var missing = Assert.Throws<StrataException>(() => new DriftProfileBuilder(layout).Add(Strata.Table.From(("x", Columns.Float64(1.0)))));

        Assert.Equal(ErrorCodes.NotFound, unknown.Code);
        Assert.Contains("nope", unknown.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.ArgumentInvalid, wrongKind.Code);
        Assert.Equal(ErrorCodes.NotFound, missing.Code);
        Assert.Contains("color", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Window_profiles_merge_to_exactly_the_profile_of_all_their_rows()
    {
        var (layout, _) = Data(seed: 1, rows: 2000, shift: 0);
        var all = Table(seed: 9, rows: 3000, shift: 0.2);

        var whole = DriftProfileBuilder.Profile(layout, all);
        var merged = DriftProfileBuilder.Profile(layout, all.Slice(0, 1000))
            .Merge(DriftProfileBuilder.Profile(layout, all.Slice(1000, 1500)))
            .Merge(DriftProfileBuilder.Profile(layout, all.Slice(2500, 500)));

        var a = (NumericDistribution)whole["x"];
        var b = (NumericDistribution)merged["x"];
        Assert.Equal(3000, merged.RowCount);
        Assert.Equal(a.Histogram.Counts, b.Histogram.Counts);
        Assert.Equal(((CategoricalDistribution)whole["color"]).Counts.OrderBy(p => p.Key), ((CategoricalDistribution)merged["color"]).Counts.OrderBy(p => p.Key));
        Assert.Equal(a.Mean, b.Mean, 1e-12);
    }

    private static (DriftLayout Layout, DriftProfile Reference) Data(int seed, int rows, double shift)
    {
        var table = Table(seed, rows, shift);
        var layout = DriftLayout.FromProfile(Strata.Data.Profiling.Profiler.Profile(table));
        return (layout, DriftProfileBuilder.Profile(layout, table));
    }

    private static Table Table(int seed, int rows, double shift)
    {
        var random = new Random(seed);
        var x = new double?[rows];
        var color = new string?[rows];
        for (var i = 0; i < rows; i++)
        {
            x[i] = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()) + shift;
            color[i] = random.NextDouble() switch { < 0.5 => "red", < 0.8 => "green", _ => "blue" };
        }

        return Strata.Table.From(("x", Columns.Float64(x)), ("color", Columns.String(color)));
    }
}
