using Strata.Serving.Metrics;

namespace Strata.Tests.Serving;

public sealed class MetricRegistryTests
{
    [Fact]
    public void A_counter_with_labels_is_written_with_help_type_and_one_line_per_label_set()
    {
        var registry = new MetricRegistry();
        var counter = registry.CreateCounter("strata_requests_total", "Requests served.", "route", "status");

        counter.Labels("/a", "200").Inc();
        counter.Labels("/a", "200").Inc(2);
        counter.Labels("/b", "404").Inc();

        Assert.Equal(
            "# HELP strata_requests_total Requests served.\n" +
            "# TYPE strata_requests_total counter\n" +
            "strata_requests_total{route=\"/a\",status=\"200\"} 3\n" +
            "strata_requests_total{route=\"/b\",status=\"404\"} 1\n",
            PrometheusText.ToText(registry));
    }

    [Fact]
    public void A_gauge_without_labels_is_exposed_at_zero_before_use_and_goes_up_and_down()
    {
        var registry = new MetricRegistry();
        var gauge = registry.CreateGauge("in_flight", "Help with a \\ backslash\nand a newline.");
        Assert.Equal("# HELP in_flight Help with a \\\\ backslash\\nand a newline.\n# TYPE in_flight gauge\nin_flight 0\n", PrometheusText.ToText(registry));

        gauge.Unlabelled.Inc();
        gauge.Unlabelled.Inc();
        gauge.Unlabelled.Dec();
        gauge.Unlabelled.Add(0.5);

        Assert.EndsWith("\nin_flight 1.5\n", PrometheusText.ToText(registry), StringComparison.Ordinal);
    }

    [Fact]
    public void A_labelled_histogram_has_cumulative_buckets_with_inf_sum_and_count_and_escaped_label_values()
    {
        var registry = new MetricRegistry();
        var histogram = registry.CreateHistogram("latency_seconds", "Latency.", [0.1, 1, 10], "route");
        var odd = histogram.Labels("a\\b\"c\nd");

        odd.Observe(0.05);
        odd.Observe(0.1); // on a bound: counts in that bucket (le is "less or equal")
        odd.Observe(5);
        odd.Observe(100);

        Assert.Equal(
            "# HELP latency_seconds Latency.\n" +
            "# TYPE latency_seconds histogram\n" +
            "latency_seconds_bucket{route=\"a\\\\b\\\"c\\nd\",le=\"0.1\"} 2\n" +
            "latency_seconds_bucket{route=\"a\\\\b\\\"c\\nd\",le=\"1\"} 2\n" +
            "latency_seconds_bucket{route=\"a\\\\b\\\"c\\nd\",le=\"10\"} 3\n" +
            "latency_seconds_bucket{route=\"a\\\\b\\\"c\\nd\",le=\"+Inf\"} 4\n" +
            "latency_seconds_sum{route=\"a\\\\b\\\"c\\nd\"} 105.15\n" +
            "latency_seconds_count{route=\"a\\\\b\\\"c\\nd\"} 4\n",
            PrometheusText.ToText(registry));
        Assert.Equal(4, odd.Count);
    }

    [Fact]
    public void Latency_buckets_print_as_plain_decimals()
    {
        var registry = new MetricRegistry();
        registry.CreateHistogram("d", "d", Histogram.LatencyBuckets);

        var text = PrometheusText.ToText(registry);

        Assert.Contains("d_bucket{le=\"0.0001\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("d_bucket{le=\"10\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("d_bucket{le=\"+Inf\"} 0\nd_sum 0\nd_count 0\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Eight_threads_of_100k_increments_sum_exactly()
    {
        var registry = new MetricRegistry();
        var counter = registry.CreateCounter("hits_total", "Hits.", "route");
        var gauge = registry.CreateGauge("level", "Level.");
        var histogram = registry.CreateHistogram("sizes", "Sizes.", [1, 2]);
        const int Threads = 8, Increments = 100_000;

        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            for (var i = 0; i < Increments; i++)
            {
                counter.Labels("/shared").Inc();
                gauge.Unlabelled.Inc();
                histogram.Observe(i % 3);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(Threads * Increments, counter.Labels("/shared").Value);
        Assert.Equal(Threads * Increments, gauge.Unlabelled.Value);
        Assert.Equal(Threads * Increments, histogram.Unlabelled.Count);
        Assert.Equal(Threads * (Increments / 3 * 3), histogram.Unlabelled.Sum); // 0,1,2 repeating: 33333 of each (sum 99999), then one more 0
    }

    [Fact]
    public void Looking_up_an_existing_label_set_allocates_nothing()
    {
        var counter = new MetricRegistry().CreateCounter("c_total", "c", "route", "method");
        const string Route = "/r", Method = "GET";
        counter.Labels(Route, Method).Inc();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            counter.Labels(Route, Method).Inc();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1001, counter.Labels(Route, Method).Value);
    }

    [Theory]
    [InlineData("ok_name")]
    [InlineData("ns:sub_total")]
    [InlineData("_x9")]
    public void Valid_metric_names_are_accepted(string name) => new MetricRegistry().CreateCounter(name, "h");

    [Theory]
    [InlineData("")]
    [InlineData("9lives")]
    [InlineData("with-dash")]
    [InlineData("space name")]
    [InlineData("ünicode")]
    public void Invalid_metric_names_are_refused(string name) =>
        Assert.Throws<ArgumentException>(() => new MetricRegistry().CreateCounter(name, "h"));

    [Theory]
    [InlineData("a:b")]
    [InlineData("__reserved")]
    [InlineData("1x")]
    [InlineData("a-b")]
    public void Invalid_label_names_are_refused(string label) =>
        Assert.Throws<ArgumentException>(() => new MetricRegistry().CreateCounter("c", "h", label));

    [Fact]
    public void Misuse_is_refused()
    {
        var registry = new MetricRegistry();
        var counter = registry.CreateCounter("c_total", "h", "a");

        Assert.Throws<ArgumentException>(() => registry.CreateGauge("c_total", "again"));
        Assert.Throws<ArgumentException>(() => counter.Labels("x", "y"));
        Assert.Throws<ArgumentOutOfRangeException>(() => counter.Labels("x").Inc(-1));
        Assert.Throws<InvalidOperationException>(() => counter.Inc());
        Assert.Throws<ArgumentException>(() => registry.CreateHistogram("h", "h", [1, 1]));
        Assert.Throws<ArgumentException>(() => registry.CreateHistogram("h2", "h", [1], "le"));
    }

    [Fact]
    public void Process_metrics_are_read_at_scrape_time()
    {
        var registry = new MetricRegistry();
        ProcessMetrics.Register(registry);
        GC.Collect(0);

        var text = PrometheusText.ToText(registry);

        Assert.Contains("# TYPE process_start_time_seconds gauge\n", text, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_collections_total{generation=\"0\"} ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("process_resident_memory_bytes 0\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("dotnet_gc_collections_total{generation=\"0\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_gc_allocated_bytes_total counter\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("dotnet_gc_allocated_bytes_total 0\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_gc_pause_seconds_total counter\n", text, StringComparison.Ordinal);
    }
}
