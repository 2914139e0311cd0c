using Strata.Features;
using Strata.Features.Definitions;
using Strata.Learning;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Testing;

/// <summary>
/// The rides feature project the enrichment tests share (the runtime's and the server's): a driver entity, trip
/// aggregations, an on-demand fare per mile, the "pricing" service, and a regression model "fare" (version 1) over
/// exactly that service's features. Driver 7 has 3 trips in the last hour with a mean fare of 30.
/// </summary>
public static class RidesSeed
{
    public const string Definitions = """
        entities:
          - name: driver
            join_keys:
              - { name: driver_id, type: int64 }
        sources:
          - name: trips
            kind: push
            timestamp_field: ts
            schema:
              - { name: driver_id, type: int64 }
              - { name: ts, type: timestamp }
              - { name: fare, type: float64 }
        aggregation_views:
          - name: driver_trips
            entities: [driver]
            source: trips
            ttl: 1d
            aggregations:
              - { name: trips_1h, function: count, window: 1h }
              - { name: fare_mean_1d, function: mean, column: fare, window: 1d }
        on_demand_views:
          - name: fare_ratios
            request_fields:
              - { name: distance, type: float64 }
            inputs:
              - driver_trips:fare_mean_1d
            features:
              - name: fare_per_mile
                type: float64
                expression: driver_trips__fare_mean_1d / (distance + 1)
        feature_services:
          - name: pricing
            features:
              - driver_trips:trips_1h
              - driver_trips:fare_mean_1d
              - fare_ratios:fare_per_mile
        """;

    /// <summary>Creates project "rides", applies the definitions, pushes trips online and registers the model.</summary>
    public static async Task<Model> SeedAsync(StrataHome home, FeatureStores features)
    {
        ArgumentNullException.ThrowIfNull(home);
        ArgumentNullException.ThrowIfNull(features);
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        await registry.CreateProjectAsync(Caller.Local, "rides", null);
        await new FeatureRegistry(home.Metadata).ApplyAsync("rides", FeatureRepositoryYaml.Parse([("rides.yaml", Definitions)]), force: false, Actor.Local);
        var store = await features.GetAsync("rides");
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        await store.PushAsync("trips", Table.From(
            ("driver_id", Columns.Int64(7, 7, 7, 8)),
            ("ts", Columns.Timestamp(now - 3_000_000, now - 2_000_000, now - 1_000_000, now - 1_000_000)),
            ("fare", Columns.Float64(10, 20, 60, 5))), PushTarget.Online);

        // A small regression model over exactly the service's features.
        var random = new Random(5);
        var rows = 400;
        double[] trips = new double[rows], mean = new double[rows], perMile = new double[rows], y = new double[rows];
        for (var r = 0; r < rows; r++)
        {
            (trips[r], mean[r], perMile[r]) = (random.Next(0, 10), random.NextDouble() * 50, random.NextDouble() * 5);
            y[r] = (2 * trips[r]) + mean[r] - (3 * perMile[r]);
        }

        var table = Table.From(("trips_1h", Columns.Create<double>(DataType.Float64, trips)), ("fare_mean_1d", Columns.Create<double>(DataType.Float64, mean)),
            ("fare_per_mile", Columns.Create<double>(DataType.Float64, perMile)), ("y", Columns.Create<double>(DataType.Float64, y)));
        var model = await new Strata.Learning.Gbdt.GbdtLearner(new Strata.Learning.Gbdt.GbdtOptions { NumBoostRound = 20 })
            .FitAsync(TrainingData.FromTable(table, new TrainingSpec { Label = "y", Task = LearningTask.Regression }));
        await TestModels.RegisterAsync(home, "rides", "fare", model);
        return model;
    }
}
