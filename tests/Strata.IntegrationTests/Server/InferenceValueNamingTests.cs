using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Strata.Features;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// An error about a request names what it carries as the request's API sent it: on <c>/v2/models/{name}/infer</c> a value
/// by its tensor and element, a whole field as an input tensor and the rows as the batch of the tensors' shape (the client
/// sent named tensors and no rows); on <c>/v1</c> a value by its row (<c>rows[i]</c>), a field as a field.
/// </summary>
public sealed class InferenceValueNamingTests(InferenceValueNamingTests.Fixture fixture)
    : IClassFixture<InferenceValueNamingTests.Fixture>
{
    private const string Float32 = "beyond the model's features (float32, at most ±3.4028235E+38)";

    /// <summary>The same on /v2, which tells float32 by the protocol's datatype.</summary>
    private const string Fp32 = "beyond the model's features (FP32, at most ±3.4028235E+38)";

    /// <summary>How the enriching endpoint's 400 begins: its problems follow, the enrichment's and the model's.</summary>
    private const string Basket = "the request does not fit model 'basket' version 1: ";

    private ServingServer Server => fixture.Server;

    [Theory]
    [InlineData("/v2/models/basket/infer")]
    [InlineData("/v2/models/b%61sket/infer")] // an escaped path goes the general pipeline's way
    public async Task A_bad_entity_key_element_is_named_by_its_tensor_and_listed_with_a_missing_key(string path)
    {
        using var http = Server.Http("root");

        // shop_id, the service's other entity key, is missing.
        using var fraction = await http.PostAsync(path, Json("""
            {"inputs": [{"name": "item_id", "shape": [2], "datatype": "FP64", "data": [1, 7.5]},
                        {"name": "amount", "shape": [2], "datatype": "FP64", "data": [5, 6]}]}
            """));
        using var text = await http.PostAsync(path, Json("""
            {"inputs": [{"name": "item_id", "shape": [2, 1], "datatype": "BYTES", "data": [["1"], ["seven"]]},
                        {"name": "shop_id", "shape": [2], "datatype": "INT32", "data": [2, 3]},
                        {"name": "amount", "shape": [2], "datatype": "FP64", "data": [5, 6]}]}
            """));
        using var boolean = await http.PostAsync(path, Json("""
            {"inputs": [{"name": "item_id", "shape": [1], "datatype": "BOOL", "data": [true]},
                        {"name": "shop_id", "shape": [1], "datatype": "INT32", "data": [2]},
                        {"name": "amount", "shape": [1], "datatype": "FP64", "data": [5]}]}
            """));

        Assert.Equal(
            Basket + "input tensor 'item_id': element 1 is 7.5, not a whole number; feature service 's' reads it (INT64); "
            + "missing input tensor 'shop_id' (INT32; feature service 's' needs it)",
            await ErrorAsync(fraction));
        Assert.Equal(
            Basket + "input tensor 'item_id': element 0 is \"1\", not a number; feature service 's' reads it (INT64)",
            await ErrorAsync(text));
        Assert.Equal(
            Basket + "input tensor 'item_id': element 0 is true, not a number; feature service 's' reads it (INT64)",
            await ErrorAsync(boolean));
    }

    [Fact]
    public async Task A_NaN_entity_key_in_binary_data_is_refused_naming_its_tensor_element()
    {
        using var http = Server.Http("root");
        var head = JsonSerializer.SerializeToUtf8Bytes(new
        {
            inputs = new object[]
            {
                new { name = "item_id", shape = new[] { 2 }, datatype = "FP64", parameters = new { binary_data_size = 16 } },
                new { name = "shop_id", shape = new[] { 2 }, datatype = "INT32", data = new[] { 2, 3 } },
                new { name = "amount", shape = new[] { 2 }, datatype = "FP64", data = new[] { 5, 6 } },
            },
        });
        var keys = new byte[16];
        BinaryPrimitives.WriteDoubleLittleEndian(keys, 1);
        BinaryPrimitives.WriteDoubleLittleEndian(keys.AsSpan(8), double.NaN); // a missing value, as numpy sends one
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/basket/infer") { Content = new ByteArrayContent([.. head, .. keys]) };
        request.Content.Headers.ContentType = new("application/octet-stream");
        request.Headers.Add("Inference-Header-Content-Length", head.Length.ToString(CultureInfo.InvariantCulture));

        using var response = await http.SendAsync(request);

        Assert.Equal(
            Basket + "input tensor 'item_id': element 1 is null; feature service 's' reads it (INT64)",
            await ErrorAsync(response));
    }

    [Fact]
    public async Task A_value_of_the_one_tensor_of_every_input_is_named_by_its_index_and_input()
    {
        using var http = Server.Http("root");
        var metadata = await ServingServer.JsonAsync(await http.GetAsync("/v2/models/basket"));
        var names = metadata.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToList();
        var item = names.IndexOf("item_id");
        var data = new double[2 * names.Count];
        for (var r = 0; r < 2; r++)
        {
            for (var f = 0; f < names.Count; f++)
            {
                data[(r * names.Count) + f] = names[f] == "item_id" && r == 1 ? 7.5 : names[f] == "shop_id" ? 2 : 1;
            }
        }

        using var response = await http.PostAsync("/v2/models/basket/infer", Json(
            $$"""{"inputs": [{"name": "row", "shape": [2, {{names.Count}}], "datatype": "FP64", "data": [{{string.Join(", ", data.Select(d => d.ToString(CultureInfo.InvariantCulture)))}}]}]}"""));

        Assert.Equal(
            Basket + $"input tensor 'row': element [1,{item}] (input 'item_id') is 7.5, not a whole number; feature service 's' reads it (INT64)",
            await ErrorAsync(response));
    }

    [Fact]
    public async Task A_NUL_in_a_text_entity_key_is_named_by_its_tensor_element_on_v2_and_by_its_row_on_v1()
    {
        using var http = Server.Http("root");

        using var infer = await http.PostAsync("/v2/models/users/infer", Json("""
            {"inputs": [{"name": "user_id", "shape": [2], "datatype": "BYTES", "data": ["u1", "u\u0000x"]},
                        {"name": "item_id", "shape": [2], "datatype": "INT64", "data": [1, 1]}]}
            """));
        using var native = await http.PostAsync("/v1/endpoints/users/predict", Json("""{"rows": [{"user_id": "u1", "item_id": 1}, {"user_id": "u\u0000x", "item_id": 1}]}"""));

        const string Nul = "holds a NUL character (U+0000), which feature text cannot hold (PostgreSQL's text type cannot store it); feature service 'users_s' reads it";
        Assert.Equal($"the request does not fit model 'users' version 1: input tensor 'user_id': element 1 {Nul} (BYTES)", await ErrorAsync(infer));
        Assert.Equal(HttpStatusCode.BadRequest, native.StatusCode);
        Assert.Equal([$"field 'user_id' in rows[1] {Nul} (string)"], (await ServingServer.JsonAsync(native)).GetProperty("errors").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task An_unknown_entity_is_still_predicted_from_missing_features()
    {
        using var http = Server.Http("root");

        using var response = await http.PostAsync("/v2/models/basket/infer", Json("""
            {"inputs": [{"name": "item_id", "shape": [2], "datatype": "INT64", "data": [1, 999]},
                        {"name": "shop_id", "shape": [2], "datatype": "INT32", "data": [2, 999]},
                        {"name": "amount", "shape": [2], "datatype": "FP64", "data": [5, 6]}]}
            """));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, (await ServingServer.JsonAsync(response)).GetProperty("outputs")[0].GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task A_number_beyond_the_models_float32_features_is_named_by_its_tensor_element_without_enrichment()
    {
        var (header, rows) = ServingServer.Sample(2);
        var inputs = Enumerable.Range(0, 11).Select(f => new
        {
            name = header[f],
            shape = new[] { 2 },
            datatype = "FP64",
            data = rows.Select((row, r) => header[f] == "distance" && r == 1 ? 1e39 : double.IsNaN(row[f]) ? 0 : row[f]).ToArray(),
        });
        using var http = Server.Http("root");

        using var response = await http.PostAsync("/v2/models/ranges/infer", Json(JsonSerializer.Serialize(new { inputs })));

        Assert.Equal($"the request does not fit model 'ranges' version 1: input tensor 'distance': element 1 is 1E+39, {Fp32}", await ErrorAsync(response));
    }

    [Fact]
    public async Task A_stored_feature_beyond_float32_is_named_as_the_feature_added_for_the_element()
    {
        // Item 5's stored price is beyond float32: the model cannot read it, though the request's own values fit.
        var store = await Server.State.Features.GetAsync("shop");
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) - 1_000_000;
        await store.PushAsync("items", Table.From(
            ("item_id", Columns.Int64(5)), ("ts", Columns.Timestamp(now)), ("price", Columns.Float64(1e39)), ("listed", Columns.Timestamp(ShopSeed.Listed))), PushTarget.Online);
        using var http = Server.Http("root");

        using var infer = await http.PostAsync("/v2/models/basket/infer", Json("""
            {"inputs": [{"name": "item_id", "shape": [2], "datatype": "INT64", "data": [1, 5]},
                        {"name": "shop_id", "shape": [2], "datatype": "INT32", "data": [2, 2]},
                        {"name": "amount", "shape": [2], "datatype": "FP64", "data": [5, 6]}]}
            """));
        using var native = await http.PostAsync("/v1/endpoints/basket/predict", Json("""{"rows": [{"item_id": 1, "shop_id": 2, "amount": 5}, {"item_id": 5, "shop_id": 2, "amount": 6}]}"""));

        Assert.Equal($"the request does not fit model 'basket' version 1: feature 'price' added for element 1 is 1E+39, {Fp32}", await ErrorAsync(infer));
        Assert.Equal(HttpStatusCode.BadRequest, native.StatusCode);
        Assert.Equal([$"field 'price' is 1E+39 in row 1, {Float32}"], (await ServingServer.JsonAsync(native)).GetProperty("errors").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task The_native_api_still_names_rows()
    {
        using var http = Server.Http("root");

        using var fraction = await http.PostAsync("/v1/endpoints/basket/predict", Json("""{"rows": [{"item_id": 1, "amount": 5}, {"item_id": 7.5, "amount": 6}]}"""));
        using var missing = await http.PostAsync("/v1/endpoints/basket/predict", Json("""{"rows": [{"item_id": 1, "shop_id": 2, "amount": 5}, {"shop_id": 2, "amount": 6}]}"""));
        using var wide = await http.PostAsync("/v1/endpoints/ranges/predict", Json("""{"rows": [{"distance": 12}, {"distance": 1e39}]}"""));

        Assert.Equal(
            ["field 'item_id' in rows[1] is 7.5, not a whole number; feature service 's' reads it (int64)", "missing field 'shop_id' (int32; feature service 's' needs it)"],
            await ErrorsAsync(fraction));
        Assert.Equal(["field 'item_id' in rows[1] is null; feature service 's' reads it (int64)"], await ErrorsAsync(missing));
        Assert.Contains($"field 'distance' is 1E+39 in row 1, {Float32}", await ErrorsAsync(wide));
    }

    [Fact]
    public async Task Missing_mistyped_and_unknown_inputs_are_input_tensors_on_v2_and_fields_on_v1()
    {
        var names = ServingServer.Sample(1).Header[..11];
        using var http = Server.Http("root");

        // distance left out, dow sent as text, bogus no input of the model.
        var sent = names.Where(n => n != "distance").Append("bogus").ToList();
        using var infer = await http.PostAsync("/v2/models/ranges/infer", Json($$"""
            {"inputs": [{{string.Join(", ", sent.Select(n => n == "dow" ? Tensor(n, "BYTES", "[1]", "[\"monday\"]") : Tensor(n, "FP64", "[1]", "[1]")))}}]}
            """));
        using var native = await http.PostAsync("/v1/endpoints/ranges/predict", Json($$"""
            {"rows": [{{{string.Join(", ", sent.Select(n => n == "dow" ? $"\"{n}\": \"monday\"" : $"\"{n}\": 1"))}}}]}
            """));

        Assert.Equal(
            "the request does not fit model 'ranges' version 1: missing input tensor 'distance' (FP32; the model needs it); "
            + "input tensor 'dow' is BYTES; the model reads it as a number (FP32); input tensor 'bogus' is not an input of model 'ranges' version 1",
            await ErrorAsync(infer));
        Assert.Equal(
            ["missing field 'distance' (a number, float32)", "field 'dow' is text; the model needs a number, float32", "unknown field 'bogus' (not an input of delay version 1)"],
            await ErrorsAsync(native));
    }

    [Theory]
    [InlineData("/v2/models/ranges/infer")]
    [InlineData("/v2/models/r%61nges/infer")] // an escaped path goes the general pipeline's way
    [InlineData("/v2/models/ranges/versions/1/infer")]
    public async Task On_v2_the_model_is_the_endpoint_the_path_names_never_the_registry_model_behind_it(string path)
    {
        // Endpoint ranges serves version 1 of registry model delay, a name the protocol's client never sees.
        using var http = Server.Http("root");
        var metadata = await ServingServer.JsonAsync(await http.GetAsync("/v2/models/ranges"));
        Assert.Equal(("ranges", "1"), (metadata.GetProperty("name").GetString(), metadata.GetProperty("versions")[0].GetString()));
        var names = ServingServer.Sample(1).Header[..11];

        using var infer = await http.PostAsync(path, Json($$"""
            {"inputs": [{{string.Join(", ", names.Append("bogus").Select(n => Tensor(n, "FP64", "[1]", "[1]")))}}]}
            """));
        using var native = await http.PostAsync("/v1/endpoints/ranges/predict", Json($$"""
            {"rows": [{{{string.Join(", ", names.Append("bogus").Select(n => $"\"{n}\": 1"))}}}]}
            """));

        Assert.Equal(
            "the request does not fit model 'ranges' version 1: input tensor 'bogus' is not an input of model 'ranges' version 1",
            await ErrorAsync(infer));
        // The native API names the registry model, as its endpoint routes do.
        Assert.Equal(
            "the request does not fit model 'delay' version 1: unknown field 'bogus' (not an input of delay version 1)",
            await DetailAsync(native, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Fields_a_feature_service_needs_are_missing_input_tensors_of_the_datatype_the_metadata_lists_on_v2()
    {
        using var http = Server.Http("root");

        using var basket = await http.PostAsync("/v2/models/basket/infer", Json("""
            {"inputs": [{"name": "item_id", "shape": [1], "datatype": "INT64", "data": [1]},
                        {"name": "bogus", "shape": [1], "datatype": "FP64", "data": [1]}]}
            """));
        using var typed = await http.PostAsync("/v2/models/typed/infer", Json("""{"inputs": [{"name": "flag", "shape": [1], "datatype": "BOOL", "data": [true]}]}"""));
        using var nativeBasket = await http.PostAsync("/v1/endpoints/basket/predict", Json("""{"rows": [{"item_id": 1, "bogus": 1}]}"""));
        using var nativeTyped = await http.PostAsync("/v1/endpoints/typed/predict", Json("""{"rows": [{"flag": true}]}"""));

        Assert.Equal(
            Basket + "missing input tensor 'shop_id' (INT32; feature service 's' needs it); missing input tensor 'amount' (FP64; feature service 's' needs it); "
            + "input tensor 'bogus' is not an input of model 'basket' version 1",
            await ErrorAsync(basket));
        Assert.Equal(
            "the request does not fit model 'typed' version 1: missing input tensor 'when' (BYTES; feature service 'typed_s' needs it)",
            await ErrorAsync(typed));
        Assert.Equal(
            ["missing field 'shop_id' (int32; feature service 's' needs it)", "missing field 'amount' (float64; feature service 's' needs it)", "unknown field 'bogus' (not an input of basket version 1)"],
            await ErrorsAsync(nativeBasket));
        Assert.Equal(["missing field 'when' (timestamp; feature service 'typed_s' needs it)"], await ErrorsAsync(nativeTyped));
    }

    [Fact]
    public async Task An_input_of_the_one_tensor_of_every_input_is_named_by_its_column()
    {
        var names = ServingServer.Sample(1).Header[..11];
        using var http = Server.Http("root");

        using var response = await http.PostAsync("/v2/models/ranges/infer", Json(
            $$"""{"inputs": [{"name": "row", "shape": [1, 11], "datatype": "BYTES", "data": [{{string.Join(", ", names.Select(_ => "\"a\""))}}]}]}"""));

        Assert.Equal(
            "the request does not fit model 'ranges' version 1: "
            + string.Join("; ", names.Select((n, f) => $"input '{n}' (elements [*,{f}] of input tensor 'row') is BYTES; the model reads it as a number (FP32)")),
            await ErrorAsync(response));
    }

    [Fact]
    public async Task An_empty_batch_is_told_by_its_tensor_shape_on_v2_and_as_no_rows_on_v1()
    {
        var names = ServingServer.Sample(1).Header[..11];
        using var http = Server.Http("root");

        using var tensors = await http.PostAsync("/v2/models/ranges/infer", Json(
            $$"""{"inputs": [{{string.Join(", ", names.Select(n => Tensor(n, "FP64", "[0]", "[]")))}}]}"""));
        using var matrix = await http.PostAsync("/v2/models/ranges/infer", Json("""{"inputs": [{"name": "row", "shape": [0, 11], "datatype": "FP64", "data": []}]}"""));
        using var native = await http.PostAsync("/v1/endpoints/ranges/predict", Json("""{"rows": []}"""));

        Assert.Equal("input tensor 'distance' has shape [0]: a batch needs at least one element", await ErrorAsync(tensors));
        Assert.Equal("input tensor 'row' has shape [0,11]: a batch needs at least one element", await ErrorAsync(matrix));
        Assert.Equal("the request has no rows", await DetailAsync(native, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task A_batch_over_the_endpoints_limit_is_told_by_its_tensor_shape_on_v2_and_as_rows_on_v1()
    {
        var names = ServingServer.Sample(1).Header[..11];
        using var http = Server.Http("root");

        using var infer = await http.PostAsync("/v2/models/small/infer", Json(
            $$"""{"inputs": [{{string.Join(", ", names.Select(n => Tensor(n, "FP64", "[3, 1]", "[1, 2, 3]")))}}]}"""));
        using var native = await http.PostAsync("/v1/endpoints/small/predict", Json(
            $$"""{"rows": [{{string.Join(", ", Enumerable.Repeat("{" + string.Join(", ", names.Select(n => $"\"{n}\": 1")) + "}", 3))}}]}"""));

        Assert.Equal(
            "input tensor 'distance' has shape [3,1]: a batch of 3 elements is over this model's limit of 2", await ErrorAsync(infer, HttpStatusCode.RequestEntityTooLarge));
        Assert.Equal("the request has 3 rows; endpoint 'small' accepts at most 2", await DetailAsync(native, HttpStatusCode.RequestEntityTooLarge));
    }

    [Fact]
    public async Task Tensors_of_different_batch_sizes_are_told_by_their_shapes()
    {
        using var http = Server.Http("root");

        using var response = await http.PostAsync("/v2/models/ranges/infer", Json("""
            {"inputs": [{"name": "distance", "shape": [2], "datatype": "FP64", "data": [1, 2]},
                        {"name": "dep_hour", "shape": [3, 1], "datatype": "FP64", "data": [1, 2, 3]}]}
            """));

        Assert.Equal(
            "input tensor 'dep_hour' has shape [3,1] and input tensor 'distance' shape [2]; the input tensors need the same batch size, their first dimension",
            await ErrorAsync(response));
    }

    private static string Tensor(string name, string datatype, string shape, string data) =>
        $$"""{"name": "{{name}}", "shape": {{shape}}, "datatype": "{{datatype}}", "data": {{data}}}""";

    /// <summary>The native API's problem: its status and detail.</summary>
    private static async Task<string> DetailAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await ServingServer.JsonAsync(response);
        Assert.True(response.StatusCode == status, $"{response.StatusCode}: {body}");
        return body.GetProperty("detail").GetString()!;
    }

    /// <summary>The protocol's error: a 400 (or <paramref name="status"/>) whose body is <c>{"error": "…"}</c> and nothing else.</summary>
    private static async Task<string> ErrorAsync(HttpResponseMessage response, HttpStatusCode status = HttpStatusCode.BadRequest)
    {
        var body = await ServingServer.JsonAsync(response);
        Assert.True(response.StatusCode == status, $"{response.StatusCode}: {body}");
        Assert.Equal(["error"], body.EnumerateObject().Select(p => p.Name));
        return body.GetProperty("error").GetString()!;
    }

    /// <summary>The native API's problem: a 400 listing each field's problem.</summary>
    private static async Task<List<string>> ErrorsAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        return [.. (await ServingServer.JsonAsync(response)).GetProperty("errors").EnumerateArray().Select(e => e.GetString()!)];
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>One server for the class: the shop project's endpoints (enriching) and the flights model's (not).</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        public ServingServer Server { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Server = await ServingServer.StartAsync();
            await ShopSeed.SeedAsync(Server.State.Home, Server.State.Features);
            await Server.DeployAsync("basket", new { project = "shop", model = "basket/1", feature_service = "s" });
            await Server.DeployAsync("users", new { project = "shop", model = "users/1", feature_service = "users_s" });
            await Server.DeployAsync("ranges", new { project = "flights", model = "delay/1" });
            await Server.DeployAsync("typed", new { project = "shop", model = "typed/1", feature_service = "typed_s" });
            await Server.DeployAsync("small", new { project = "flights", model = "delay/1", limits = new { max_rows = 2 } });
        }

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }
}
