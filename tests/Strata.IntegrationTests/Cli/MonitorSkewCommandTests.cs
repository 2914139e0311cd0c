using System.Text.Json;
using Microsoft.Data.Sqlite;
using Strata.Features;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

/// <summary>`strata monitor skew` over a local home whose enriching endpoint logged predictions.</summary>
public sealed class MonitorSkewCommandTests : IDisposable
{
    private readonly TempFolder _folder = new("monitor-skew-cli");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact]
    public async Task Skew_of_online_only_trips_exits_4_and_names_the_skewed_features()
    {
        await using (var home = await StrataHome.OpenAsync(_folder.Path))
        {
            await using var features = new FeatureStores(home.Metadata, new EmbeddedFeatureBackend(home.Path));
            await RidesSeed.SeedAsync(home, features);
            await using var runtime = new ServingRuntime(home.Metadata, home.Artifacts, features, new MetricRegistry(),
                new ServingOptions { PredictionLogFolder = Path.Combine(_folder.Path, "predictions") });
            await runtime.StartAsync([new Deployment { Name = "fares", Project = "rides", Model = "fare/1", FeatureService = "pricing" }], new Actor("test"));
            await runtime.PredictAsync(new PredictionRequest
            {
                Endpoint = "fares",
                RequestId = "r1",
                Input = new PredictionInput(1, new Dictionary<string, InputColumn> { ["driver_id"] = InputColumn.OfNumbers([7]), ["distance"] = InputColumn.OfNumbers([4]) }),
            });
            await runtime.FlushPredictionLogAsync();
        }

        var result = await Cli.RunAsync("--home", _folder.Path, "monitor", "skew", "fares", "-p", "rides", "--service", "pricing", "--json");

        Assert.Equal(4, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal("skewed", json.RootElement.GetProperty("status").GetString());
        var byName = json.RootElement.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("feature").GetString()!);
        Assert.Equal(1.0, byName["driver_trips:trips_1h"].GetProperty("mismatch_share").GetDouble()); // served 3 trips, offline none
        Assert.Equal("insufficient_data", byName["driver_trips:fare_mean_1d"].GetProperty("status").GetString()); // no offline mean to compare
        Assert.Equal(1, byName["driver_trips:fare_mean_1d"].GetProperty("unmatched").GetInt32());
        Assert.Equal("fare_ratios:fare_per_mile", json.RootElement.GetProperty("not_compared")[0].GetString());
    }
}
