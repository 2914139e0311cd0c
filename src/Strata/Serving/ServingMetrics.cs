using System.Collections.Concurrent;
using System.Globalization;
using Strata.Serving.Metrics;

namespace Strata.Serving;

/// <summary>
/// The serving metrics: requests and latency by endpoint, model version and status; requests in flight and waiting per
/// endpoint; model loads (time and failures); shadow predictions and drops. Children are cached per label set, so
/// recording a request allocates nothing once its labels were seen.
/// </summary>
internal sealed class ServingMetrics
{
    private readonly ConcurrentDictionary<(string Endpoint, int Version, string Status), Counter.Child> _requests = new();
    private readonly ConcurrentDictionary<(string Endpoint, int Version), Histogram.Child> _latency = new();
    private readonly Counter _requestCounter;
    private readonly Histogram _latencyHistogram;

    public ServingMetrics(MetricRegistry registry)
    {
        _requestCounter = registry.CreateCounter("strata_serving_requests_total", "Prediction requests answered, by endpoint, model version and status.", "endpoint", "version", "status");
        _latencyHistogram = registry.CreateHistogram("strata_serving_request_duration_seconds", "Prediction latency in seconds (queue, enrichment and prediction), by endpoint and model version.", Histogram.LatencyBuckets, "endpoint", "version");
        InFlight = registry.CreateGauge("strata_serving_requests_in_flight", "Prediction requests being answered, by endpoint.", "endpoint");
        QueueDepth = registry.CreateGauge("strata_serving_queue_depth", "Prediction requests waiting for a slot, by endpoint.", "endpoint");
        LoadSeconds = registry.CreateHistogram("strata_serving_model_load_duration_seconds", "Time to load and verify a model version, by model.", Histogram.LatencyBuckets, "model");
        LoadFailures = registry.CreateCounter("strata_serving_model_load_failures_total", "Model versions that failed to load or verify, by model.", "model");
        Swaps = registry.CreateCounter("strata_serving_model_swaps_total", "Model versions switched in on an endpoint, by endpoint.", "endpoint");
        ShadowPredictions = registry.CreateCounter("strata_serving_shadow_predictions_total", "Requests a shadow model answered, by endpoint.", "endpoint");
        ShadowDropped = registry.CreateCounter("strata_serving_shadow_dropped_total", "Requests not copied to the shadow because its queue was full, by endpoint.", "endpoint");
        Enrichments = registry.CreateCounter("strata_serving_online_lookups_total", "Online store lookups made to enrich prediction requests, by endpoint.", "endpoint");
        BatchSizes = registry.CreateHistogram("strata_serving_batch_size", "Requests predicted together in one batched call, by endpoint.", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], "endpoint");
        Served = registry.CreateGauge("strata_serving_model_version", "The model version each endpoint's role serves.", "endpoint", "role");
    }

    public Gauge InFlight { get; }

    public Gauge QueueDepth { get; }

    public Histogram LoadSeconds { get; }

    public Counter LoadFailures { get; }

    public Counter Swaps { get; }

    public Counter ShadowPredictions { get; }

    public Counter ShadowDropped { get; }

    public Counter Enrichments { get; }

    public Gauge Served { get; }

    public Histogram BatchSizes { get; }

    public void Record(string endpoint, int version, string status, double seconds)
    {
        // The children of this thread's last request, found again by reference: an endpoint's name and a status are the
        // same strings from one request to the next, and hashing them was most of the cost of recording.
        var last = t_last;
        if (last is null || !ReferenceEquals(last.Metrics, this) || !ReferenceEquals(last.Endpoint, endpoint) || last.Version != version || !ReferenceEquals(last.Status, status))
        {
            last = t_last = new LastLabels(
                this,
                endpoint,
                version,
                status,
                _requests.GetOrAdd((endpoint, version, status), static (k, c) => c.Labels(k.Endpoint, Label(k.Version), k.Status), _requestCounter),
                version > 0 ? _latency.GetOrAdd((endpoint, version), static (k, h) => h.Labels(k.Endpoint, Label(k.Version)), _latencyHistogram) : null);
        }

        last.Requests.Inc();
        last.Latency?.Observe(seconds);
    }

    [ThreadStatic]
    private static LastLabels? t_last;

    private sealed record LastLabels(ServingMetrics Metrics, string Endpoint, int Version, string Status, Counter.Child Requests, Histogram.Child? Latency);

    private static string Label(int version) => version > 0 ? version.ToString(CultureInfo.InvariantCulture) : "none";
}
