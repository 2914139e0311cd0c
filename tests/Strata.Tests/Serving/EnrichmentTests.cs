using Strata.Features;
using Strata.Learning;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>Enrichment: a request carries entity keys and request fields; the endpoint's feature service fills in the rest.</summary>
public sealed class EnrichmentTests : IAsyncLifetime, IDisposable
{

    private readonly TempFolder _folder = new("strata-enrich");
    private StrataHome _home = null!;
    private FeatureStores _features = null!;
    private Model _model = null!;

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        _features = new FeatureStores(_home.Metadata, new EmbeddedFeatureBackend(_home.Path));
        _model = await RidesSeed.SeedAsync(_home, _features);
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
    public async Task An_unknown_entity_is_predicted_with_missing_features_and_counted_as_a_miss()
    {
        var registry = new MetricRegistry();
        await using var runtime = await StartAsync(registry);
        var misses = ((Counter)registry.Metrics.Single(m => m.Name == "strata_serving_online_misses_total")).Labels("fares");

        var output = await runtime.PredictAsync(Request(("driver_id", 999), ("distance", 1)));
        await runtime.PredictAsync(Request(("driver_id", 7), ("distance", 9)));

        Assert.True(double.IsFinite(output.Values![0]));
        Assert.Equal(1, misses.Value);
    }

    [Fact]
    public async Task Missing_keys_and_mistyped_request_fields_are_listed_together()
    {
        await using var runtime = await StartAsync();

        var e = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request(("distance", "far"))).AsTask());

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Contains("missing field 'driver_id'", e.Message, StringComparison.Ordinal);
        Assert.Contains("field 'distance' in rows[0] is \"far\", not a number; feature service 'pricing' reads it (float64)", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, e.Problems.Count);
    }

    [Fact]
    public async Task An_entity_key_the_model_also_reads_is_reported_once_when_missing_or_mistyped()
    {
        // A model that reads the entity key itself as well as the service's features.
        var random = new Random(3);
        var table = Table.From(
            ("driver_id", Columns.Float64([.. Enumerable.Range(0, 200).Select(i => (double?)(i % 10))])),
            ("trips_1h", Columns.Float64([.. Enumerable.Range(0, 200).Select(_ => (double?)random.Next(0, 10))])),
            ("fare_mean_1d", Columns.Float64([.. Enumerable.Range(0, 200).Select(_ => (double?)random.NextDouble())])),
            ("fare_per_mile", Columns.Float64([.. Enumerable.Range(0, 200).Select(_ => (double?)random.NextDouble())])),
            ("y", Columns.Float64([.. Enumerable.Range(0, 200).Select(i => (double?)i)])));
        var model = await new Strata.Learning.Gbdt.GbdtLearner(new Strata.Learning.Gbdt.GbdtOptions { NumBoostRound = 5 })
            .FitAsync(TrainingData.FromTable(table, new TrainingSpec { Label = "y", Task = LearningTask.Regression }));
        await TestModels.RegisterAsync(_home, "rides", "by-driver", model);

        await using var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, _features, new MetricRegistry());
        await runtime.StartAsync([new Deployment { Name = "fares", Project = "rides", Model = "by-driver/1", FeatureService = "pricing" }], new Actor("test"));

        var missing = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request(("distance", 9))).AsTask());
        var text = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request(("driver_id", "seven"), ("distance", 9))).AsTask());

        Assert.StartsWith("missing field 'driver_id' (int64; feature service 'pricing' needs it)", Assert.Single(missing.Problems), StringComparison.Ordinal);
        Assert.Equal("field 'driver_id' in rows[0] is \"seven\", not a number; feature service 'pricing' reads it (int64)", Assert.Single(text.Problems));

        // A number that is one, but not a key the request can carry exactly, is named with its row and value.
        var fraction = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request(("driver_id", 7.5), ("distance", 9))).AsTask());
        var huge = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request(("driver_id", 1e16), ("distance", 9))).AsTask());
        Assert.Equal("field 'driver_id' in rows[0] is 7.5, not a whole number; feature service 'pricing' reads it (int64)", Assert.Single(fraction.Problems));
        Assert.Equal("field 'driver_id' in rows[0] is 10000000000000000, beyond the whole numbers a request carries exactly (±9e15); feature service 'pricing' reads it (int64)", Assert.Single(huge.Problems));
    }

    [Fact]
    public async Task A_deployment_whose_model_reads_a_service_field_as_the_other_kind_is_refused()
    {
        // The model reads the entity key (int64 in the service) and a numeric feature as text: every request would fail.
        var table = Table.From(
            ("driver_id", Columns.String([.. Enumerable.Range(0, 200).Select(i => (string?)$"d{i % 10}")])),
            ("trips_1h", Columns.String([.. Enumerable.Range(0, 200).Select(i => (string?)$"t{i % 3}")])),
            ("fare_mean_1d", Columns.Float64([.. Enumerable.Range(0, 200).Select(i => (double?)(i % 7))])),
            ("y", Columns.Float64([.. Enumerable.Range(0, 200).Select(i => (double?)i)])));
        var model = await new Strata.Learning.Gbdt.GbdtLearner(new Strata.Learning.Gbdt.GbdtOptions { NumBoostRound = 3 })
            .FitAsync(TrainingData.FromTable(table, new TrainingSpec { Label = "y", Task = LearningTask.Regression }));
        await TestModels.RegisterAsync(_home, "rides", "by-text", model);

        await using var runtime = await StartAsync();
        var e = await Assert.ThrowsAsync<StrataException>(() =>
            runtime.PutAsync(new Deployment { Name = "texts", Project = "rides", Model = "by-text/1", FeatureService = "pricing" }, new Actor("test")));

        Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code);
        Assert.StartsWith("endpoint 'texts' cannot read feature service 'pricing': ", e.Message, StringComparison.Ordinal);
        Assert.Contains("field 'driver_id' is int64 in feature service 'pricing'; by-text version 1 needs text, string", e.Message, StringComparison.Ordinal);
        Assert.Contains("field 'trips_1h' is ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("fare_mean_1d", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(runtime.List(), s => s.Name == "texts");

        // The endpoint that reads the same service as numbers is served.
        Assert.True(double.IsFinite((await runtime.PredictAsync(Request(("driver_id", 7), ("distance", 9)))).Values![0]));
    }

    [Fact]
    public async Task A_feature_service_reads_what_the_same_features_read_as_a_list_give()
    {
        var store = await _features.GetAsync("rides");
        var service = store.Resolve(null, "pricing"); // read through the plan the store made for the service
        var list = service.ToList(); // an equal list: planned for the read itself
        var entities = Table.From(("driver_id", Columns.Int64([7, 999])), ("distance", Columns.Float64([9, 1])));

        foreach (var fullNames in new[] { false, true })
        {
            var byService = await store.GetOnlineFeaturesAsync(service, entities, fullNames);
            var byList = await store.GetOnlineFeaturesAsync(list, entities, fullNames);

            Assert.Equal(byList.FeatureNames, byService.FeatureNames);
            Assert.Equal(byList.Values.Select(v => v.Select(x => x.ToString())), byService.Values.Select(v => v.Select(x => x.ToString())));
            Assert.Contains(byService.Values, v => v[0].HasValue); // driver 7 has values (the comparison is not of two empty reads)
        }
    }

    private async Task<ServingRuntime> StartAsync(MetricRegistry? registry = null)
    {
        var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, _features, registry ?? new MetricRegistry());
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
