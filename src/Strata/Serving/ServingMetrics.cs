using System.Collections.Concurrent;
using System.Globalization;
using Strata.Serving.Metrics;

namespace Strata.Serving;

/// <summary>
/// The serving metrics: requests and latency by endpoint, model version and status; requests in flight and waiting per
/// endpoint; model loads (time and failures); shadow predictions and drops. Children are cached per label set, so
/// recording a request allocates nothing once its labels were seen. The series of an endpoint that is gone are dropped
/// (<see cref="DropEndpoints"/>).
/// </summary>
internal sealed class ServingMetrics
{
    private readonly ConcurrentDictionary<(string Endpoint, int Version, string Status), Counter.Child> _requests = new();
    private readonly ConcurrentDictionary<(string Endpoint, int Version), Histogram.Child> _latency = new();
    private readonly Counter _requestCounter;
    private readonly Histogram _latencyHistogram;
    private readonly Metric[] _byEndpoint;

    public ServingMetrics(MetricRegistry registry)
    {
        _requestCounter = registry.CreateCounter("strata_serving_requests_total", "Prediction requests answered, by endpoint, model version and status.", "endpoint", "version", "status");
        _latencyHistogram = registry.CreateHistogram("strata_serving_request_duration_seconds", "Prediction latency in seconds (queue, enrichment and prediction), by endpoint and model version; a request refused before a model was chosen (429, 503, 504, 413) has version none, as in strata_serving_requests_total.", Histogram.LatencyBuckets, "endpoint", "version");
        InFlight = registry.CreateGauge("strata_serving_requests_in_flight", "Prediction requests being answered, by endpoint.", "endpoint");
        QueueDepth = registry.CreateGauge("strata_serving_queue_depth", "Prediction requests waiting for a slot, by endpoint.", "endpoint");
        LoadSeconds = registry.CreateHistogram("strata_serving_model_load_duration_seconds", "Time to load and verify a model version, by model.", Histogram.LatencyBuckets, "model");
        LoadFailures = registry.CreateCounter("strata_serving_model_load_failures_total", "Model versions that failed to load or verify, by model: once per version and reason (again when the reason changes or after the version loaded), however often it is retried.", "model");
        Swaps = registry.CreateCounter("strata_serving_model_swaps_total", "Model versions switched in on an endpoint, by endpoint.", "endpoint");
        ShadowPredictions = registry.CreateCounter("strata_serving_shadow_predictions_total", "Requests a shadow model answered, by endpoint.", "endpoint");
        ShadowDropped = registry.CreateCounter("strata_serving_shadow_dropped_total", "Requests the shadow did not answer because its queue was full or the server stopped first, by endpoint.", "endpoint");
        ShadowFailures = registry.CreateCounter("strata_serving_shadow_failures_total", "Shadow predictions that failed (a request the shadow cannot read, a model error), by endpoint.", "endpoint");
        Enrichments = registry.CreateCounter("strata_serving_online_lookups_total", "Online store lookups made to enrich prediction requests, by endpoint.", "endpoint");
        OnlineMisses = registry.CreateCounter("strata_serving_online_misses_total", "Request rows whose entity the online store holds no value for (every feature missing), by endpoint.", "endpoint");
        BatchSizes = registry.CreateHistogram("strata_serving_batch_size", "Requests predicted together in one batched call, by endpoint.", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], "endpoint");
        Served = registry.CreateGauge("strata_serving_model_version", "The model version each endpoint's role (champion, challenger, shadow) serves, while it is loaded.", "endpoint", "role");

        // Every metric whose first label is the endpoint: what DropEndpoints removes.
        _byEndpoint = [_requestCounter, _latencyHistogram, InFlight, QueueDepth, Swaps, ShadowPredictions, ShadowDropped, ShadowFailures, Enrichments, OnlineMisses, BatchSizes, Served];
    }

    public Gauge InFlight { get; }

    public Gauge QueueDepth { get; }

    public Histogram LoadSeconds { get; }

    public Counter LoadFailures { get; }

    public Counter Swaps { get; }

    public Counter ShadowPredictions { get; }

    public Counter ShadowDropped { get; }

    /// <summary>By endpoint, so a shadow that fails every copy is told from one whose endpoint sees no traffic.</summary>
    public Counter ShadowFailures { get; }

    public Counter Enrichments { get; }

    /// <summary>Rows predicted from missing features only: an unknown entity, or one not materialized yet, answers without a word otherwise.</summary>
    public Counter OnlineMisses { get; }

    public Gauge Served { get; }

    public Histogram BatchSizes { get; }

    public void Record(string endpoint, int version, string status, double seconds)
    {
        // The children of this thread's last request, found again by reference: an endpoint's name and a status are the
        // same strings from one request to the next, and hashing them was most of the cost of recording.
        // A removed child (its endpoint was deleted, then perhaps made again) is looked up afresh, or the endpoint's
        // requests would be counted where no scrape sees them.
        var last = t_last;
        if (last is null || !ReferenceEquals(last.Metrics, this) || !ReferenceEquals(last.Endpoint, endpoint) || last.Version != version || !ReferenceEquals(last.Status, status)
            || last.Requests.IsRemoved || last.Latency.IsRemoved)
        {
            last = t_last = new LastLabels(
                this,
                endpoint,
                version,
                status,
                RequestsOf(endpoint, version, status),
                LatencyOf(endpoint, version));
        }

        // Every request counted is timed too, refusals included (version "none"): the histogram's count then equals the
        // requests counter by endpoint and version, and a queue timeout's wait shows in the latency quantiles.
        last.Requests.Inc();
        last.Latency.Observe(seconds);
    }

    /// <summary>
    /// Drops every series of the endpoints <paramref name="isGone"/> names, counters and histograms as well as gauges.
    /// </summary>
    /// <remarks>
    /// Counters go too, as Prometheus's convention allows for a label set that is gone: keeping them would export a
    /// deleted endpoint's series until the server restarts, one set for every name ever deployed. An endpoint made again
    /// under the same name counts from zero, which <c>rate()</c> and <c>increase()</c> read as a counter reset. A request
    /// that was in flight when its endpoint went may count it again afterwards; the next call drops that too.
    /// <paramref name="isGone"/> is asked under each metric's lock that adds children, so a child an endpoint made
    /// after it was asked about is never dropped.
    /// </remarks>
    public void DropEndpoints(Func<string, bool> isGone)
    {
        foreach (var metric in _byEndpoint)
        {
            metric.RemoveWhere(labels => isGone(labels[0]));
        }

        // The caches' own entries (their children were removed above; a cached removed child is looked up again anyway).
        foreach (var key in _requests.Keys.Where(k => isGone(k.Endpoint)))
        {
            _requests.TryRemove(key, out _);
        }

        foreach (var key in _latency.Keys.Where(k => isGone(k.Endpoint)))
        {
            _latency.TryRemove(key, out _);
        }
    }

    private Counter.Child RequestsOf(string endpoint, int version, string status)
    {
        if (!_requests.TryGetValue((endpoint, version, status), out var child) || child.IsRemoved)
        {
            child = _requests[(endpoint, version, status)] = _requestCounter.Labels(endpoint, Label(version), status);
        }

        return child;
    }

    private Histogram.Child LatencyOf(string endpoint, int version)
    {
        if (!_latency.TryGetValue((endpoint, version), out var child) || child.IsRemoved)
        {
            child = _latency[(endpoint, version)] = _latencyHistogram.Labels(endpoint, Label(version));
        }

        return child;
    }

    [ThreadStatic]
    private static LastLabels? t_last;

    private sealed record LastLabels(ServingMetrics Metrics, string Endpoint, int Version, string Status, Counter.Child Requests, Histogram.Child Latency);

    private static string Label(int version) => version > 0 ? version.ToString(CultureInfo.InvariantCulture) : "none";
}
