using System.Net;
using System.Text;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The entity keys and request fields a feature service reads, sent over both inference APIs: read as the service
/// declares them (booleans, ISO 8601 timestamps, int32 ranges), refused with each API's error when they do not fit.
/// </summary>
public sealed class EnrichmentRequestFieldHttpTests : IAsyncLifetime
{
    private ServingServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ServingServer.StartAsync();
        await ShopSeed.SeedAsync(_server.State.Home, _server.State.Features);
        await _server.DeployAsync("basket", new { project = "shop", model = "basket/1", feature_service = "s" });
        await _server.DeployAsync("typed", new { project = "shop", model = "typed/1", feature_service = "typed_s" });
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Bool_and_timestamp_request_fields_are_sent_as_the_protocol_metadata_lists_them_on_both_apis()
    {
        using var http = _server.Http("root");

        // The model reads flag and when itself too; the request sends them as the feature service reads them.
        var metadata = await ServingServer.JsonAsync(await http.GetAsync("/v2/models/typed"));
        var inputs = metadata.GetProperty("inputs").EnumerateArray().Select(i => (i.GetProperty("name").GetString()!, i.GetProperty("datatype").GetString()!)).ToList();
        Assert.Equal([("flag", "BOOL"), ("when", "BYTES")], inputs.Order());

        using var native = await http.PostAsync("/v1/endpoints/typed/predict", Json("""{"rows": [{"flag": true, "when": "2024-01-01T00:00:00Z"}]}"""));
        using var infer = await http.PostAsync("/v2/models/typed/infer", Json("""
            {"inputs": [{"name": "flag", "shape": [1], "datatype": "BOOL", "data": [true]},
                        {"name": "when", "shape": [1], "datatype": "BYTES", "data": ["2024-01-01T00:00:00Z"]}]}
            """));
        using var number = await http.PostAsync("/v1/endpoints/typed/predict", Json("""{"rows": [{"flag": 1, "when": "2024-01-01T00:00:00Z"}]}"""));

        Assert.Equal(HttpStatusCode.OK, native.StatusCode);
        Assert.Equal(HttpStatusCode.OK, infer.StatusCode);
        Assert.Equal(
            (await ServingServer.JsonAsync(native)).GetProperty("predictions")[0].GetDouble(),
            (await ServingServer.JsonAsync(infer)).GetProperty("outputs")[0].GetProperty("data")[0].GetDouble());
        Assert.Equal(HttpStatusCode.BadRequest, number.StatusCode);
        Assert.Contains(
            "field 'flag' in rows[0] is 1, not true or false; feature service 'typed_s' reads it (bool)",
            (await ServingServer.JsonAsync(number)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v2/models/typed/infer")]
    [InlineData("/v2/models/typ%65d/infer")] // an escaped path goes the general pipeline's way
    public async Task A_request_field_that_does_not_fit_is_told_by_the_datatype_the_protocol_metadata_lists(string path)
    {
        using var http = _server.Http("root");

        // flag is BOOL and when is BYTES (ISO 8601 text) in the model metadata; the feature store calls them bool and timestamp.
        using var infer = await http.PostAsync(path, Json("""
            {"inputs": [{"name": "flag", "shape": [1], "datatype": "INT64", "data": [1]},
                        {"name": "when", "shape": [1], "datatype": "FP64", "data": [5]}]}
            """));
        using var native = await http.PostAsync("/v1/endpoints/typed/predict", Json("""{"rows": [{"flag": 1, "when": 5}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, infer.StatusCode);
        var error = await ServingServer.JsonAsync(infer);
        Assert.Equal(["error"], error.EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            "the request does not fit model 'typed' version 1: input tensor 'flag': element 0 is 1, not true or false; feature service 'typed_s' reads it (BOOL); "
            + "input tensor 'when': element 0 is 5, not an ISO 8601 timestamp such as \"2001-06-01T00:00:00Z\"; feature service 'typed_s' reads it (BYTES)",
            error.GetProperty("error").GetString());

        // The native API keeps the feature store's type names.
        Assert.Equal(HttpStatusCode.BadRequest, native.StatusCode);
        Assert.Equal(
            [
                "field 'flag' in rows[0] is 1, not true or false; feature service 'typed_s' reads it (bool)",
                "field 'when' in rows[0] is 5, not an ISO 8601 timestamp such as \"2001-06-01T00:00:00Z\"; feature service 'typed_s' reads it (timestamp)",
            ],
            (await ServingServer.JsonAsync(native)).GetProperty("errors").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task A_bool_tensor_or_a_number_beyond_int32_is_refused_as_an_entity_key_with_each_apis_error()
    {
        using var http = _server.Http("root");

        using var boolKey = await http.PostAsync("/v2/models/basket/infer", Json("""
            {"inputs": [{"name": "item_id", "shape": [1], "datatype": "BOOL", "data": [true]},
                        {"name": "shop_id", "shape": [1], "datatype": "INT32", "data": [2]},
                        {"name": "amount", "shape": [1], "datatype": "FP64", "data": [5]}]}
            """));
        using var wideTensor = await http.PostAsync("/v2/models/basket/infer", Json("""
            {"inputs": [{"name": "item_id", "shape": [1], "datatype": "INT64", "data": [1]},
                        {"name": "shop_id", "shape": [1], "datatype": "INT64", "data": [4294967298]},
                        {"name": "amount", "shape": [1], "datatype": "FP64", "data": [5]}]}
            """));
        using var wideRow = await http.PostAsync("/v1/endpoints/basket/predict", Json("""{"rows": [{"item_id": 1, "shop_id": 4294967298, "amount": 5}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, boolKey.StatusCode);
        var error = await ServingServer.JsonAsync(boolKey);
        Assert.Equal(["error"], error.EnumerateObject().Select(p => p.Name));
        Assert.Equal("the request does not fit model 'basket' version 1: input tensor 'item_id': element 0 is true, not a number; feature service 's' reads it (INT64)", error.GetProperty("error").GetString());

        // The same value, named by its tensor's element and the protocol's datatype on /v2, by its row and the feature
        // store's type on /v1.
        Assert.Equal(HttpStatusCode.BadRequest, wideTensor.StatusCode);
        Assert.Equal(
            "the request does not fit model 'basket' version 1: input tensor 'shop_id': element 0 is 4294967298, beyond the range of INT32 (-2147483648 to 2147483647); "
            + "feature service 's' reads it (INT32)",
            (await ServingServer.JsonAsync(wideTensor)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, wideRow.StatusCode);
        Assert.Equal(["field 'shop_id' in rows[0] is 4294967298, beyond the range of int32 (-2147483648 to 2147483647); feature service 's' reads it (int32)"], (await ServingServer.JsonAsync(wideRow)).GetProperty("errors").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task A_null_request_field_is_predicted_alike_in_a_one_row_request_and_a_row_of_many()
    {
        using var http = _server.Http("root");

        using var one = await http.PostAsync("/v1/endpoints/basket/predict", Json("""{"rows": [{"item_id": 1, "shop_id": 2, "amount": null}]}"""));
        using var many = await http.PostAsync("/v1/endpoints/basket/predict", Json("""{"rows": [{"item_id": 1, "shop_id": 2, "amount": 5}, {"item_id": 1, "shop_id": 2}]}"""));

        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal(HttpStatusCode.OK, many.StatusCode);
        Assert.Equal(
            (await ServingServer.JsonAsync(one)).GetProperty("predictions")[0].GetDouble(),
            (await ServingServer.JsonAsync(many)).GetProperty("predictions")[1].GetDouble());
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
