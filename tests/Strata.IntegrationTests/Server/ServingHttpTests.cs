using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Strata.Learning;
using Strata.Server.Hosting;
using Strata.Server.Http;
using Strata.Serving;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// Serving over HTTP on its own server: enrichment from the embedded online store, PII masking in the prediction
/// log, and the trace spans.
/// </summary>
public sealed class ServingHttpTests : IAsyncLifetime
{
    private ServingServer _server = null!;
    private Model _fare = null!;

    public async Task InitializeAsync()
    {
        _server = await ServingServer.StartAsync();
        _fare = await RidesSeed.SeedAsync(_server.State.Home, _server.State.Features);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Entity_keys_are_enriched_from_the_online_store_over_http_and_bad_fields_get_one_400_listing_each()
    {
        await _server.DeployAsync("fares", new { project = "rides", model = "fare/1", feature_service = "pricing" });
        using var http = _server.Http("root");

        using var ok = await http.PostAsync("/v1/endpoints/fares/predict", Json("""{"rows": [{"driver_id": 7, "distance": 9}]}"""));
        using var missing = await http.PostAsync("/v1/endpoints/fares/predict", Json("""{"rows": [{"distance": "far"}]}"""));
        using var extra = await http.PostAsync("/v1/endpoints/fares/predict", Json("""{"rows": [{"driver_id": 7, "distance": 9, "bogus": 1, "trips_1h": "many"}]}"""));

        // driver 7: 3 trips in the last hour, mean fare 30, fare per mile 30 / (9 + 1).
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var expected = _fare.Predict(Table.From(("trips_1h", Columns.Float64(3)), ("fare_mean_1d", Columns.Float64(30)), ("fare_per_mile", Columns.Float64(3))));
        Assert.Equal(((Column<double>)expected["prediction"])[0], (await ServingServer.JsonAsync(ok)).GetProperty("predictions")[0].GetDouble(), 6);

        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        var detail = (await ServingServer.JsonAsync(missing)).GetProperty("detail").GetString()!;
        Assert.Contains("missing field 'driver_id'", detail, StringComparison.Ordinal);
        Assert.Contains("field 'distance' in rows[0] is \"far\", not a number; feature service 'pricing' reads it (float64)", detail, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.BadRequest, extra.StatusCode);
        detail = (await ServingServer.JsonAsync(extra)).GetProperty("detail").GetString()!;
        Assert.Contains("unknown field 'bogus'", detail, StringComparison.Ordinal);
        Assert.Contains("field 'trips_1h' is text", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_enriching_endpoint_s_protocol_metadata_lists_what_a_request_sends_and_its_row_tensor_holds_that()
    {
        await _server.DeployAsync("fares-v2", new { project = "rides", model = "fare/1", feature_service = "pricing" });
        using var http = _server.Http("root");

        // The model reads three features the service supplies; a request gives the entity key and the request field.
        var metadata = await ServingServer.JsonAsync(await http.GetAsync("/v2/models/fares-v2"));
        var inputs = metadata.GetProperty("inputs").EnumerateArray().Select(i => (i.GetProperty("name").GetString()!, i.GetProperty("datatype").GetString())).ToList();
        Assert.Equal([("distance", "FP64"), ("driver_id", "INT64")], inputs.Order());

        // One [1, 2] tensor in the metadata's order answers as the native API does for the same entity and distance.
        var data = inputs.Select(i => i.Item1 == "driver_id" ? 7.0 : 9.0).ToArray();
        using var infer = await http.PostAsync("/v2/models/fares-v2/infer", Json(
            $$"""{"inputs": [{"name": "row", "shape": [1, 2], "datatype": "FP64", "data": [{{string.Join(", ", data)}}]}]}"""));
        using var native = await http.PostAsync("/v1/endpoints/fares-v2/predict", Json("""{"rows": [{"driver_id": 7, "distance": 9}]}"""));
        Assert.Equal(HttpStatusCode.OK, infer.StatusCode);
        Assert.Equal(
            (await ServingServer.JsonAsync(native)).GetProperty("predictions")[0].GetDouble(),
            (await ServingServer.JsonAsync(infer)).GetProperty("outputs")[0].GetProperty("data")[0].GetDouble());
    }

    [Fact]
    public async Task Bad_entity_keys_and_bad_model_fields_get_one_400_listing_every_error_on_both_apis()
    {
        await _server.DeployAsync("fares-both", new { project = "rides", model = "fare/1", feature_service = "pricing" });
        using var http = _server.Http("root");

        // No driver_id (the feature service's entity key), an unknown field, and a model input sent as text.
        using var native = await http.PostAsync("/v1/endpoints/fares-both/predict", Json("""{"rows": [{"distance": 9, "bogus": 1, "trips_1h": "many"}]}"""));
        using var infer = await http.PostAsync("/v2/models/fares-both/infer", Json("""
            {"inputs": [{"name": "distance", "shape": [1], "datatype": "FP64", "data": [9]},
                        {"name": "bogus", "shape": [1], "datatype": "FP64", "data": [1]},
                        {"name": "trips_1h", "shape": [1], "datatype": "BYTES", "data": ["many"]}]}
            """));
        using var modelOnly = await http.PostAsync("/v1/endpoints/fares-both/predict", Json("""{"rows": [{"driver_id": 7, "distance": 9, "bogus": 1}]}"""));

        string[] expected = ["missing field 'driver_id'", "field 'trips_1h' is text", "unknown field 'bogus'"];
        Assert.Equal(HttpStatusCode.BadRequest, native.StatusCode);
        Assert.Equal("application/problem+json", native.Content.Headers.ContentType?.MediaType);
        var problem = await ServingServer.JsonAsync(native);
        Assert.Equal(ErrorCodes.SchemaInvalid, problem.GetProperty("code").GetString());
        var errors = problem.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(expected.Length, errors.Count);
        foreach (var (error, i) in expected.Select((e, i) => (e, i)))
        {
            Assert.StartsWith(error, errors[i], StringComparison.Ordinal);
            Assert.Contains(error, problem.GetProperty("detail").GetString()!, StringComparison.Ordinal);
        }

        // Open Inference Protocol keeps its error object ({"error": "…"} and nothing else), listing every problem in its
        // own words: input tensors, with the datatypes its metadata lists.
        Assert.Equal(HttpStatusCode.BadRequest, infer.StatusCode);
        var answer = await ServingServer.JsonAsync(infer);
        Assert.Equal(["error"], answer.EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            "the request does not fit model 'fares-both' version 1: missing input tensor 'driver_id' (INT64; feature service 'pricing' needs it); "
            + "input tensor 'trips_1h' is BYTES; the model reads it as a number (FP64); input tensor 'bogus' is not an input of model 'fares-both' version 1",
            answer.GetProperty("error").GetString());

        // Keys that enrich but a field the model does not know: the same errors list, with the model's problem only.
        Assert.Equal(HttpStatusCode.BadRequest, modelOnly.StatusCode);
        Assert.Equal(["unknown field 'bogus' (not an input of fare version 1)"], (await ServingServer.JsonAsync(modelOnly)).GetProperty("errors").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Numbers_beyond_a_double_or_the_models_float32_features_get_a_400_naming_the_field_and_row()
    {
        await _server.DeployAsync("ranges", new { project = "flights", model = "delay/1" });
        using var http = _server.Http("root");

        using var huge = await http.PostAsync("/v1/endpoints/ranges/predict", Json("""{"rows": [{"distance": 12}, {"distance": -1e999}]}"""));
        using var wide = await http.PostAsync("/v1/endpoints/ranges/predict", Json("""{"rows": [{"distance": 12}, {"distance": 1e39}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, huge.StatusCode);
        Assert.Equal("field 'distance' in rows[1] is -1e999, beyond the range of a number (at most ±1.7976931348623157E+308)", (await ServingServer.JsonAsync(huge)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, wide.StatusCode);
        var errors = (await ServingServer.JsonAsync(wide)).GetProperty("errors").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("field 'distance' is 1E+39 in row 1, beyond the model's features (float32, at most ±3.4028235E+38)", errors);
    }

    [Fact]
    public async Task A_query_value_of_the_wrong_type_gets_a_400_saying_what_it_must_be()
    {
        await _server.DeployAsync("explained", new { project = "flights", model = "delay/1" });
        using var http = _server.Http("root");

        using var response = await http.PostAsync("/v1/endpoints/explained/predict?explain=three", Json("""{"rows": [{"distance": 12}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("parameter 'explain' must be a whole number, not \"three\"", (await ServingServer.JsonAsync(response)).GetProperty("detail").GetString());
        Assert.Null(ProblemExceptionHandler.Parameter("Failed to bind parameter \"Widget w\" from \"x\"."));
        Assert.Equal("parameter 'at' must be a date and time (ISO 8601), not \"soon\"", ProblemExceptionHandler.Parameter("Failed to bind parameter \"Nullable<DateTimeOffset> at\" from \"soon\"."));
    }

    [Fact]
    public async Task Pii_fields_of_http_requests_are_masked_in_the_prediction_log()
    {
        await _server.DeployAsync("masked", new { project = "flights", model = "delay/1", pii = new[] { "origin_code" } });
        var (header, rows) = ServingServer.Sample(1);
        using var http = _server.Http();
        var ids = new List<string>();
        foreach (var path in new[] { "/v1/endpoints/masked/predict", "/v1/endpoints/masked/predict?explain=1" })
        {
            using var response = await http.PostAsync(path, ServingTests.Body(header, rows));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            ids.Add(response.Headers.GetValues("X-Request-Id").Single());
        }

        await _server.Serving.FlushPredictionLogAsync();

        var records = new List<PredictionRecord>();
        await foreach (var record in PredictionLogReader.ReadAsync(_server.Serving.PredictionLogFolder!))
        {
            if (record.Endpoint == "masked")
            {
                records.Add(record);
            }
        }

        Assert.Equal(ids.Order(), records.Select(r => r.RequestId).Order());
        foreach (var record in records)
        {
            var row = Assert.Single(record.Rows);
            Assert.Equal(PredictionLog.Mask, row.Inputs["origin_code"].GetString());
            Assert.Equal(rows[0][Array.IndexOf(header, "distance")], row.Inputs["distance"].GetDouble());
        }
    }

    [Fact]
    public async Task Predictions_enrichment_and_model_loads_are_traced_when_a_listener_subscribes()
    {
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ServingTelemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);

        await _server.DeployAsync("traced", new { project = "rides", model = "fare/1", feature_service = "pricing" });
        using var http = _server.Http("root");
        using var response = await http.PostAsync("/v1/endpoints/traced/predict", Json("""{"rows": [{"driver_id": 8, "distance": 1}]}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = response.Headers.GetValues("X-Request-Id").Single();

        // The listener is process-wide: other tests running alongside may load the same seeded model too.
        Assert.Contains(stopped, a => a.OperationName == "strata.model.load" && (string?)a.GetTagItem("strata.project") == "rides"
            && (string?)a.GetTagItem("strata.model") == "fare");
        var predict = Assert.Single(stopped, a => a.OperationName == "strata.predict" && (string?)a.GetTagItem("strata.request_id") == id);
        Assert.Equal(("traced", 1, 200), ((string?)predict.GetTagItem("strata.endpoint"), (int?)predict.GetTagItem("strata.model.version"), (int?)predict.GetTagItem("http.response.status_code")));
        var enrich = Assert.Single(stopped, a => a.OperationName == "strata.enrich" && a.ParentSpanId == predict.SpanId);
        Assert.Equal("pricing", enrich.GetTagItem("strata.feature_service"));
    }

    [Fact]
    public void Otlp_export_is_off_unless_an_endpoint_is_configured()
    {
        static TracerProvider? Provider(params string[] args)
        {
            var builder = WebApplication.CreateBuilder(args);
            Telemetry.AddTracing(builder);
            using var app = builder.Build();
            return app.Services.GetService<TracerProvider>();
        }

        Assert.Null(Provider());
        Assert.NotNull(Provider("--Strata:Otlp:Endpoint", "http://127.0.0.1:4317"));
        Assert.Throws<StrataException>(() => Provider("--Strata:Otlp:Endpoint", "file:///etc/passwd"));
    }

    [Fact]
    public async Task Otlp_over_http_posts_spans_at_the_traces_path_under_the_service_name_asked_for()
    {
        var received = new ConcurrentQueue<(string Path, byte[] Body)>();
        await using var app = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0"]).Build();
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.Path.Value!, body.ToArray()));
        });
        await app.StartAsync();
        var url = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.Single();

        var builder = WebApplication.CreateBuilder(["--Strata:Otlp:Endpoint", url, "--OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "--OTEL_SERVICE_NAME", "strata-canary"]);
        Telemetry.AddTracing(builder);
        using var server = builder.Build();
        var provider = server.Services.GetRequiredService<TracerProvider>();

        // Until a span arrives: in a full run other tests' tracer providers come and go on the same static source, and
        // a span was seen to go missing once; what is asserted is where and under which name spans are posted.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (received.IsEmpty && DateTime.UtcNow < deadline)
        {
            using (ServingTelemetry.Source.StartActivity("strata.predict"))
            {
            }

            Assert.True(provider.ForceFlush(30_000));
            if (received.IsEmpty)
            {
                await Task.Delay(100);
            }
        }

        // Spans went to "/" (refused by a collector) under service.name "strata", whatever OTEL_SERVICE_NAME said.
        Assert.NotEmpty(received);
        Assert.All(received, r => Assert.Equal("/v1/traces", r.Path));
        Assert.Contains(received, r => Encoding.UTF8.GetString(r.Body).Contains("strata-canary", StringComparison.Ordinal));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
