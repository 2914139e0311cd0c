using System.Text.Json;
using Strata.Features;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>
/// Enrichment reads the entity keys and request fields a feature service needs as the service declares them, as the
/// feature routes read them: values that do not fit are named, nulls of request fields reach on-demand features as nulls.
/// </summary>
public sealed class EnrichmentRequestFieldTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _folder = new("strata-enrich-fields");
    private StrataHome _home = null!;
    private FeatureStores _features = null!;
    private int _requests;

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        _features = new FeatureStores(_home.Metadata, new EmbeddedFeatureBackend(_home.Path));
        await ShopSeed.SeedAsync(_home, _features);
    }

    public async Task DisposeAsync()
    {
        await _features.DisposeAsync();
        await _home.DisposeAsync();
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task An_int32_key_or_request_field_beyond_int32_is_refused_naming_the_field_row_and_value()
    {
        await using var runtime = await StartAsync();

        // 4294967298 is 2^32 + 2: wrapped into an int32 it would read shop 2's features.
        var key = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request("basket", 1,
            ("item_id", Numbers(1)), ("shop_id", Numbers(4294967298)), ("amount", Numbers(5)))).AsTask());
        var field = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request("sized", 2, ("weight", Numbers(1, 1)), ("qty", Numbers(1, -3e9)))).AsTask());

        Assert.Equal("field 'shop_id' in rows[0] is 4294967298, beyond the range of int32 (-2147483648 to 2147483647); feature service 's' reads it (int32)", Assert.Single(key.Problems));
        Assert.Equal("field 'qty' in rows[1] is -3000000000, beyond the range of int32 (-2147483648 to 2147483647); feature service 'sized_s' reads it (int32)", Assert.Single(field.Problems));
    }

    [Fact]
    public async Task A_float32_request_field_beyond_float32_is_refused_naming_the_field_row_and_value()
    {
        await using var runtime = await StartAsync();

        var e = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request("sized", 2, ("weight", Numbers(1, 1e39)), ("qty", Numbers(1, 2)))).AsTask());

        Assert.Equal("field 'weight' in rows[1] is 1E+39, beyond the range of float32 (at most ±3.4028235E+38); feature service 'sized_s' reads it (float32)", Assert.Single(e.Problems));
    }

    [Fact]
    public async Task Null_and_text_entity_keys_are_named_with_their_row_and_what_was_sent()
    {
        await using var runtime = await StartAsync();

        var e = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request("basket", 2,
            ("item_id", Numbers(1, double.NaN)), ("shop_id", InputColumn.OfTexts(["2", "two"])), ("amount", Numbers(5, 5)))).AsTask());
        var number = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request("users", 1,
            ("user_id", Numbers(5)), ("item_id", InputColumn.OfNulls()))).AsTask());

        Assert.Equal(
            ["field 'item_id' in rows[1] is null; feature service 's' reads it (int64)", "field 'shop_id' in rows[0] is \"2\", not a number; feature service 's' reads it (int32)"],
            e.Problems.Order(StringComparer.Ordinal));
        Assert.Equal(
            ["field 'item_id' in rows[0] is null; feature service 'users_s' reads it (int64)", "field 'user_id' in rows[0] is 5, not text; feature service 'users_s' reads it (string)"],
            number.Problems.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_null_or_absent_request_field_reaches_the_on_demand_features_as_a_null_in_one_row_or_many()
    {
        await using var runtime = await StartAsync();

        // One row with a null amount (a request's own null column), then two rows whose second leaves it out.
        await runtime.PredictAsync(Request("basket", 1, ("item_id", Numbers(1)), ("shop_id", Numbers(2)), ("amount", InputColumn.OfNulls())));
        await runtime.PredictAsync(Request("basket", 2, ("item_id", Numbers(1, 1)), ("shop_id", Numbers(2, 2)), ("amount", Numbers(5, double.NaN))));
        var rows = (await LoggedAsync(runtime)).SelectMany(r => r.Rows).ToList();

        // As the feature route reads the same entity with a null amount (and as a training set has it): coalesce(amount, -1)
        // is -1, is_null(amount) is 1, amount / price is null.
        var store = await _features.GetAsync("shop");
        var route = await store.GetOnlineFeaturesAsync(
            store.Resolve(null, "s"), Table.From(("item_id", Columns.Int64(1)), ("shop_id", Columns.Int32(2)), ("amount", Columns.Float64([null]))));
        Assert.Equal([-1.0, 1.0], route.Values.Skip(3).Select(v => Convert.ToDouble(v[0].Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.False(route.Values[2][0].HasValue);

        Assert.Equal(3, rows.Count);
        foreach (var row in new[] { rows[0], rows[2] })
        {
            Assert.Equal((-1.0, 1.0, JsonValueKind.Null), (row.Inputs["filled"].GetDouble(), row.Inputs["isn"].GetDouble(), row.Inputs["ratio"].ValueKind));
        }

        Assert.Equal((5.0, 0.0, 0.5), (rows[1].Inputs["filled"].GetDouble(), rows[1].Inputs["isn"].GetDouble(), rows[1].Inputs["ratio"].GetDouble()));
    }

    [Fact]
    public async Task A_timestamp_request_field_is_read_from_iso_8601_text_and_reaches_the_model_in_seconds()
    {
        await using var runtime = await StartAsync();

        await runtime.PredictAsync(Request("typed", 1, ("flag", InputColumn.OfNulls()), ("when", InputColumn.OfTexts(["2024-01-01T00:00:00Z"]))));
        var bad = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request("typed", 1,
            ("flag", InputColumn.OfNulls()), ("when", InputColumn.OfTexts(["yesterday"])))).AsTask());

        // The on-demand feature reads the timestamp as the feature routes give it (microseconds); the model, which reads
        // the field too, gets it as training gave it (seconds since 1970).
        var row = Assert.Single(Assert.Single(await LoggedAsync(runtime)).Rows);
        Assert.Equal((double)ShopSeed.Listed, row.Inputs["when_us"].GetDouble());
        Assert.Equal(ShopSeed.Listed / 1e6, row.Inputs["when"].GetDouble());
        Assert.Equal(
            "field 'when' in rows[0] is \"yesterday\", not an ISO 8601 timestamp such as \"2001-06-01T00:00:00Z\"; feature service 'typed_s' reads it (timestamp)",
            Assert.Single(bad.Problems));
    }

    [Fact]
    public async Task A_stored_timestamp_feature_reaches_the_model_in_seconds_as_training_gave_it()
    {
        await using var runtime = await StartAsync();

        // The users model was trained on listed in seconds since 1970 (as a training set gives a timestamp feature).
        await runtime.PredictAsync(Request("users", 2, ("user_id", InputColumn.OfTexts(["u1", "u1"])), ("item_id", Numbers(1, 999))));

        var rows = Assert.Single(await LoggedAsync(runtime)).Rows;
        Assert.Equal(ShopSeed.Listed / 1e6, rows[0].Inputs["listed"].GetDouble());
        Assert.Equal(JsonValueKind.Null, rows[1].Inputs["listed"].ValueKind);
    }

    [Fact]
    public async Task An_entity_none_of_whose_stored_features_is_found_is_a_miss_though_on_demand_features_are_computed()
    {
        var registry = new MetricRegistry();
        await using var runtime = await StartAsync(registry);
        var misses = (Counter)registry.Metrics.Single(m => m.Name == "strata_serving_online_misses_total");

        // coalesce(amount, -1) is present for any entity. Service ratio_s stores nothing of its own (its on-demand
        // features read item_stats:price); service s also gives the price and the shop's rating.
        await runtime.PredictAsync(Request("ratio", 2, ("item_id", Numbers(999, 1)), ("amount", Numbers(5, 5))));
        await runtime.PredictAsync(Request("basket", 2, ("item_id", Numbers(999, 999)), ("shop_id", Numbers(999, 2)), ("amount", Numbers(5, 5))));

        Assert.Equal(1, misses.Labels("ratio").Value);
        Assert.Equal(1, misses.Labels("basket").Value);
    }

    [Fact]
    public async Task A_request_field_that_replaces_a_stored_feature_is_what_the_on_demand_features_read()
    {
        await using var runtime = await StartAsync();

        // Item 1's stored price is 10; the request says 40 (and, in its second row, null), which is what the model reads.
        await runtime.PredictAsync(Request("basket", 2,
            ("item_id", Numbers(1, 1)), ("shop_id", Numbers(2, 2)), ("amount", Numbers(20, 20)), ("price", Numbers(40, double.NaN))));
        var text = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request("basket", 1,
            ("item_id", Numbers(1)), ("shop_id", Numbers(2)), ("amount", Numbers(20)), ("price", InputColumn.OfTexts(["cheap"])))).AsTask());

        var rows = Assert.Single(await LoggedAsync(runtime)).Rows;
        Assert.Equal((40.0, 0.5), (rows[0].Inputs["price"].GetDouble(), rows[0].Inputs["ratio"].GetDouble()));
        Assert.Equal((JsonValueKind.Null, JsonValueKind.Null), (rows[1].Inputs["price"].ValueKind, rows[1].Inputs["ratio"].ValueKind));
        Assert.Equal("field 'price' in rows[0] is \"cheap\", not a number; feature service 's' reads it (float64)", Assert.Single(text.Problems));
    }

    private async Task<ServingRuntime> StartAsync(MetricRegistry? registry = null)
    {
        var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, _features, registry ?? new MetricRegistry(), new ServingOptions { PredictionLogFolder = LogFolder });
        await runtime.StartAsync(
            [
                new Deployment { Name = "basket", Project = "shop", Model = "basket/1", FeatureService = "s" },
                new Deployment { Name = "typed", Project = "shop", Model = "typed/1", FeatureService = "typed_s" },
                new Deployment { Name = "sized", Project = "shop", Model = "sized/1", FeatureService = "sized_s" },
                new Deployment { Name = "ratio", Project = "shop", Model = "ratio/1", FeatureService = "ratio_s" },
                new Deployment { Name = "users", Project = "shop", Model = "users/1", FeatureService = "users_s" },
            ],
            new Actor("test"));
        return runtime;
    }

    private string LogFolder => Path.Combine(_folder.Path, "predictions");

    /// <summary>The logged predictions (their inputs are the fields after enrichment), in request order.</summary>
    private async Task<List<PredictionRecord>> LoggedAsync(ServingRuntime runtime)
    {
        await runtime.FlushPredictionLogAsync();
        var records = new List<PredictionRecord>();
        await foreach (var record in PredictionLogReader.ReadAsync(LogFolder))
        {
            records.Add(record);
        }

        return [.. records.OrderBy(r => r.RequestId, StringComparer.Ordinal)];
    }

    private static InputColumn Numbers(params double[] values) => InputColumn.OfNumbers(values);

    private PredictionRequest Request(string endpoint, int rows, params (string Name, InputColumn Column)[] fields) => new()
    {
        Endpoint = endpoint,
        RequestId = $"r{++_requests:D4}", // in request order, as the log is read back
        Input = new PredictionInput(rows, fields.ToDictionary(f => f.Name, f => f.Column)),
    };
}
