using Strata.Features;
using Strata.Monitoring.Skew;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Monitoring;

/// <summary>Skew over a real enriching endpoint's prediction log (the rides project: trips pushed to the online store).</summary>
public sealed class TrainingServingSkewEndToEndTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _folder = new("strata-skew-e2e");
    private StrataHome _home = null!;
    private FeatureStores _features = null!;

    private string LogFolder => Path.Combine(_folder.Path, "predictions");

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        _features = new FeatureStores(_home.Metadata, new EmbeddedFeatureBackend(_home.Path));
        await RidesSeed.SeedAsync(_home, _features);
    }

    public async Task DisposeAsync()
    {
        await _features.DisposeAsync();
        await _home.DisposeAsync();
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Features_pushed_online_only_are_skewed_against_the_empty_offline_store_and_on_demand_ones_are_not_compared()
    {
        await ServeAsync(7, 8, 7);
        var store = await _features.GetAsync("rides");

        var result = await TrainingServingSkew.CheckAsync(store, store.Resolve(null, "pricing"), LogFolder, "fares");

        Assert.Equal(SkewStatus.Skewed, result.Status);
        Assert.Equal(3, result.Records);
        Assert.Equal(["fare_ratios:fare_per_mile"], result.NotCompared);
        var mean = Assert.Single(result.Features, f => f.Feature == "driver_trips:fare_mean_1d");
        Assert.Equal((3, 3, 1.0), (mean.RowsCompared, mean.Mismatched, mean.MismatchShare)); // served 30 / 5, stored nothing
        Assert.Null(mean.MeanAbsoluteDifference);
    }

    private async Task ServeAsync(params long[] drivers)
    {
        await using var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, _features, new MetricRegistry(), new ServingOptions { PredictionLogFolder = LogFolder });
        await runtime.StartAsync([new Deployment { Name = "fares", Project = "rides", Model = "fare/1", FeatureService = "pricing" }], new Actor("test"));
        var n = 0;
        foreach (var driver in drivers)
        {
            await runtime.PredictAsync(new PredictionRequest
            {
                Endpoint = "fares",
                RequestId = $"r{n++}",
                Input = new PredictionInput(1, new Dictionary<string, InputColumn> { ["driver_id"] = InputColumn.OfNumbers([driver]), ["distance"] = InputColumn.OfNumbers([4]) }),
            });
        }

        await runtime.FlushPredictionLogAsync();
    }
}
