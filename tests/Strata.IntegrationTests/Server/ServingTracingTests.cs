using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Strata.Serving;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The prediction spans as a tracing backend sees them: children of the caller's W3C trace context on every inference
/// route, sampled as the caller's flag says, and model loads at start traced too. Sequential: an ActivityListener is
/// process-wide, and another test's listener recording every span would hide what the sampler decides.
/// </summary>
[Collection(Sequential.Name)]
public sealed class ServingTracingTests
{
    [Fact]
    public async Task A_callers_traceparent_is_the_parent_of_the_prediction_span_on_every_inference_route()
    {
        await using var server = await ServingServer.StartAsync();
        await server.DeployAsync("traced", new { project = "flights", model = "delay/1" });
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ServingTelemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var http = server.Http();

        // The lean branch and the general pipeline (a query string, a trailing slash) of both APIs.
        string[] paths =
        [
            "/v1/endpoints/traced/predict", "/v1/endpoints/traced/predict?explain=1",
            "/v2/models/traced/infer", "/v2/models/traced/versions/1/infer", "/v2/models/traced/infer/",
        ];
        foreach (var path in paths)
        {
            var (traceId, parentId) = (ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom());
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Body(path) };
            request.Headers.Add("traceparent", $"00-{traceId}-{parentId}-01");
            request.Headers.Add("tracestate", "vendor=abc");

            using var response = await http.SendAsync(request);

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var span = Assert.Single(stopped, a => a.OperationName == "strata.predict" && (string?)a.GetTagItem("strata.request_id") == RequestId(response));
            Assert.Equal((traceId, parentId, true), (span.TraceId, span.ParentSpanId, span.HasRemoteParent));
            Assert.Equal((ActivityKind.Server, "vendor=abc"), (span.Kind, span.TraceStateString));
            Assert.Equal(200, span.GetTagItem("http.response.status_code")); // an int, as the semantic conventions say
        }

        // Without the header (or with a malformed one), a prediction's span starts a trace of its own.
        using var plain = await http.PostAsync("/v1/endpoints/traced/predict", Body("/v1"));
        using var malformed = new HttpRequestMessage(HttpMethod.Post, "/v1/endpoints/traced/predict") { Content = Body("/v1") };
        malformed.Headers.TryAddWithoutValidation("traceparent", "00-not-a-trace-01");
        using var garbled = await http.SendAsync(malformed);
        foreach (var response in new[] { plain, garbled })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var span = Assert.Single(stopped, a => a.OperationName == "strata.predict" && (string?)a.GetTagItem("strata.request_id") == RequestId(response));
            Assert.Equal((default, false), (span.ParentSpanId, span.HasRemoteParent));
        }
    }

    [Fact]
    public async Task The_parent_based_sampler_records_a_prediction_only_when_the_callers_trace_is_sampled()
    {
        await using var server = await ServingServer.StartAsync();
        await server.DeployAsync("sampled", new { project = "flights", model = "delay/1" });
        var exported = new ConcurrentBag<Activity>();
        using var provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(ServingTelemetry.SourceName)
            .SetSampler(new ParentBasedSampler(new AlwaysOnSampler())) // OpenTelemetry's default sampler
            .AddProcessor(new Collector(exported))
            .Build();
        using var http = server.Http();

        var traces = new Dictionary<string, ActivityTraceId>();
        foreach (var (path, flags) in new[] { ("/v1/endpoints/sampled/predict", "01"), ("/v1/endpoints/sampled/predict", "00"), ("/v2/models/sampled/infer", "01"), ("/v2/models/sampled/infer", "00") })
        {
            var traceId = ActivityTraceId.CreateRandom();
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Body(path) };
            request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-{flags}");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            traces[$"{path} {flags}"] = traceId;
        }

        Assert.Contains(exported, a => a.OperationName == "strata.predict" && a.TraceId == traces["/v1/endpoints/sampled/predict 01"]);
        Assert.Contains(exported, a => a.OperationName == "strata.predict" && a.TraceId == traces["/v2/models/sampled/infer 01"]);
        Assert.DoesNotContain(exported, a => a.TraceId == traces["/v1/endpoints/sampled/predict 00"] || a.TraceId == traces["/v2/models/sampled/infer 00"]);
    }

    [Fact]
    public async Task Models_loaded_when_the_server_starts_are_traced()
    {
        using var home = new TempFolder("strata-traced-start");
        await using (var first = await ServingServer.StartAsync(home: home.Path))
        {
            await first.DeployAsync("booted", new { project = "flights", model = "delay/2" });
        }

        // Tracing on as Telemetry.AddTracing turns it on (the OpenTelemetry hosting services), exporting to a collector here.
        var exported = new ConcurrentBag<Activity>();
        await using var second = await ServingServer.StartWithAsync(
            builder => builder.Services.AddOpenTelemetry().WithTracing(t => t.AddSource(ServingTelemetry.SourceName).AddProcessor(new Collector(exported))),
            home.Path,
            seed: false);

        Assert.True(second.Serving.Ready);
        Assert.Contains(exported, a => a.OperationName == "strata.model.load" && (string?)a.GetTagItem("strata.project") == "flights"
            && (string?)a.GetTagItem("strata.model") == "delay" && (int?)a.GetTagItem("strata.model.version") == 2);
    }

    private static string RequestId(HttpResponseMessage response) => response.Headers.GetValues("X-Request-Id").Single();

    /// <summary>One flight, as the native API's rows or the protocol's tensors (one per input).</summary>
    private static StringContent Body(string path)
    {
        var (header, rows) = ServingServer.Sample(1);
        var json = path.StartsWith("/v2", StringComparison.Ordinal)
            ? JsonSerializer.Serialize(new
            {
                inputs = Enumerable.Range(0, 11).Select(f => new
                {
                    name = header[f],
                    shape = new[] { 1 },
                    datatype = "FP32",
                    data = new[] { double.IsNaN(rows[0][f]) ? 0 : rows[0][f] },
                }),
            })
            : string.Create(CultureInfo.InvariantCulture, $"{{\"rows\": [{ServingServer.RowJson(header[..11], rows[0])}]}}");
        return new StringContent(json, Encoding.UTF8, "application/json");
    }

    /// <summary>Keeps the spans the provider would export.</summary>
    private sealed class Collector(ConcurrentBag<Activity> exported) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data) => exported.Add(data);
    }
}
