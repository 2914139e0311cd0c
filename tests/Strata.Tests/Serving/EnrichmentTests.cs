using Strata.Features;
using Strata.Features.Definitions;
using Strata.Learning;
using Strata.Registry;
using Strata.Security;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>Enrichment: a request carries entity keys and request fields; the endpoint's feature service fills in the rest.</summary>
public sealed class EnrichmentTests : IAsyncLifetime, IDisposable
{
    private const string Definitions = """
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

    private readonly TempFolder _folder = new("strata-enrich");
    private StrataHome _home = null!;
    private FeatureStores _features = null!;
    private Model _model = null!;

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        var registry = new RegistryService(_home.Metadata, _home.Artifacts);
        await registry.CreateProjectAsync(Caller.Local, "rides", null);
        await new FeatureRegistry(_home.Metadata).ApplyAsync("rides", FeatureRepositoryYaml.Parse([("rides.yaml", Definitions)]), force: false, Actor.Local);
        _features = new FeatureStores(_home.Metadata, new EmbeddedFeatureBackend(_home.Path));
        var store = await _features.GetAsync("rides");
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
        _model = await new Strata.Learning.Gbdt.GbdtLearner(new Strata.Learning.Gbdt.GbdtOptions { NumBoostRound = 20 })
            .FitAsync(TrainingData.FromTable(table, new TrainingSpec { Label = "y", Task = LearningTask.Regression }));
        await registry.CreateModelAsync(Caller.Local, "rides", "fare", null, null);
        using var package = new MemoryStream();
        await ModelPackage.SaveAsync(_model, package);
        package.Position = 0;
        await registry.UploadVersionAsync(Caller.Local, "rides", "fare", new VersionRegistration(), package);
    }

    public async Task DisposeAsync()
    {
        await _features.DisposeAsync();
        await _home.DisposeAsync();
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_request_with_entity_keys_is_enriched_from_the_online_store_and_on_demand_features()
    {
        await using var runtime = await StartAsync();

        var output = await runtime.PredictAsync(Request(("driver_id", 7), ("distance", 9)));

        // driver 7: 3 trips in the last hour, mean fare 30, fare per mile 30 / (9 + 1).
        var expected = _model.Predict(Table.From(("trips_1h", Columns.Float64(3)), ("fare_mean_1d", Columns.Float64(30)), ("fare_per_mile", Columns.Float64(3))));
        Assert.Equal(((Column<double>)expected["prediction"])[0], output.Values![0], 6);
    }

    [Fact]
    public async Task An_unknown_entity_is_predicted_with_missing_features()
    {
        await using var runtime = await StartAsync();

        var output = await runtime.PredictAsync(Request(("driver_id", 999), ("distance", 1)));

        Assert.True(double.IsFinite(output.Values![0]));
    }

    [Fact]
    public async Task Missing_keys_and_mistyped_request_fields_are_listed_together()
    {
        await using var runtime = await StartAsync();

        var e = await Assert.ThrowsAsync<StrataException>(() => runtime.PredictAsync(Request(("distance", "far"))));

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Contains("missing field 'driver_id'", e.Message, StringComparison.Ordinal);
        Assert.Contains("field 'distance' must be a number", e.Message, StringComparison.Ordinal);
    }

    private async Task<ServingRuntime> StartAsync()
    {
        var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, _features, new MetricRegistry());
        await runtime.StartAsync([new Deployment { Name = "fares", Project = "rides", Model = "fare/1", FeatureService = "pricing" }], new Actor("test"));
        return runtime;
    }

    private static PredictionRequest Request(params (string Name, object Value)[] fields) => new()
    {
        Endpoint = "fares",
        RequestId = "r1",
        Input = new PredictionInput(1, fields.ToDictionary(
            f => f.Name,
            f => f.Value is string s ? InputColumn.OfTexts([s]) : InputColumn.OfNumbers([Convert.ToDouble(f.Value, System.Globalization.CultureInfo.InvariantCulture)]))),
    };
}
