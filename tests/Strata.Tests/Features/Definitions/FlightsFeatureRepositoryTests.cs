using Strata.Data;
using Strata.Features.Definitions;
using Strata.Testing;

namespace Strata.Tests.Features.Definitions;

public sealed class FlightsFeatureRepositoryTests
{
    private static string Folder => SharedData.InRepository("samples", "flights", "features");

    [Fact]
    public async Task The_flights_sample_repository_loads_and_validates()
    {
        var repo = await FeatureRepositoryYaml.LoadFolderAsync(Folder);

        var hourly = repo.OnlineLayout("origin_hourly");
        Assert.Equal(["origin"], hourly.JoinKeys.Select(k => k.Name));
        Assert.Equal("feature_ts", hourly.EventTimestampColumn);
        Assert.Equal(
            ["dep_count int64", "mean_delay float64", "frac_late15 float64", "max_delay int64", "mean_distance float64"],
            hourly.Features.Select(f => $"{f.Name} {f.Type.Name()}"));
        Assert.Equal(TimeSpan.FromHours(3), repo.FeatureViews.Single().Ttl);
        Assert.Equal(["delay"], repo.OfflineLayout("origin_delay_windows").Features.Select(f => f.Name));
        Assert.Equal(10, repo.Service("flight_delay_v1").Features.Count);
        var windows = repo.AggregationViews.Single();
        Assert.Equal(DataType.Int64, FeatureRepository.AggregateType(windows.Aggregations.Single(a => a.Name == "last_delay"), repo.Source(windows.Source)));
    }

    [Fact]
    public async Task The_hourly_sample_data_has_the_types_the_view_declares()
    {
        var repo = await FeatureRepositoryYaml.LoadFolderAsync(Folder);
        var source = repo.Source("origin_hourly_stats");

        var (table, _) = await DataFiles.ReadAsync(Path.Combine(Folder, source.Path!), new DataReadOptions());

        foreach (var field in source.Schema!)
        {
            Assert.Equal((field.Name, field.Type), (table.Schema[field.Name].Name, table.Schema[field.Name].Type));
        }

        Assert.InRange(table.RowCount, 1_000, 100_000);
    }
}
