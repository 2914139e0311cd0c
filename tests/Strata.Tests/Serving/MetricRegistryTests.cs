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

        Assert.Contains("d_bucket{le=\"0.00001\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("d_bucket{le=\"0.000025\"} 0\n", text, StringComparison.Ordinal);
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

    [Fact]
    public void A_removed_label_set_is_no_longer_written_and_comes_back_from_zero()
    {
        var registry = new MetricRegistry();
        var counter = registry.CreateCounter("served_total", "Served.", "endpoint");
        var gone = counter.Labels("gone");
        gone.Inc(5);
        counter.Labels("kept").Inc();

        Assert.True(counter.Remove("gone"));

        Assert.True(gone.IsRemoved);
        Assert.False(counter.Labels("kept").IsRemoved);
        Assert.False(counter.Remove("gone"));
        Assert.Equal("# HELP served_total Served.\n# TYPE served_total counter\nserved_total{endpoint=\"kept\"} 1\n", PrometheusText.ToText(registry));

        // A child kept from before the removal still takes updates, unseen; the label set used again starts afresh.
        gone.Inc();
        var again = counter.Labels("gone");
        again.Inc();
        Assert.NotSame(gone, again);
        Assert.EndsWith("served_total{endpoint=\"kept\"} 1\nserved_total{endpoint=\"gone\"} 1\n", PrometheusText.ToText(registry), StringComparison.Ordinal);
    }

    [Fact]
    public void Removing_where_a_predicate_matches_takes_out_every_kind_of_child()
    {
        var registry = new MetricRegistry();
        var gauge = registry.CreateGauge("version", "Version.", "endpoint", "role");
        var histogram = registry.CreateHistogram("size", "Size.", [1], "endpoint");
        gauge.Labels("a", "champion").Set(1);
        gauge.Labels("a", "challenger").Set(2);
        gauge.Labels("b", "champion").Set(3);
        histogram.Labels("a").Observe(1);
        histogram.Labels("b").Observe(1);

        Assert.Equal(1, gauge.RemoveWhere(labels => labels[1] == "challenger"));
        Assert.Equal(1, histogram.RemoveWhere(labels => labels[0] == "a"));
        Assert.Equal(0, gauge.RemoveWhere(labels => labels[0] == "c"));

        Assert.Equal(
            "# HELP version Version.\n# TYPE version gauge\n" +
            "version{endpoint=\"a\",role=\"champion\"} 1\n" +
            "version{endpoint=\"b\",role=\"champion\"} 3\n" +
            "# HELP size Size.\n# TYPE size histogram\n" +
            "size_bucket{endpoint=\"b\",le=\"1\"} 1\nsize_bucket{endpoint=\"b\",le=\"+Inf\"} 1\nsize_sum{endpoint=\"b\"} 1\nsize_count{endpoint=\"b\"} 1\n",
            PrometheusText.ToText(registry));
    }

    [Fact]
    public void Removing_the_only_child_of_a_metric_without_labels_or_with_the_wrong_label_count_is_refused()
    {
        var registry = new MetricRegistry();
        var plain = registry.CreateGauge("plain", "Plain.");
        var labelled = registry.CreateGauge("labelled", "Labelled.", "a", "b");

        Assert.Throws<InvalidOperationException>(() => plain.Remove());
        Assert.Throws<ArgumentException>(() => labelled.Remove("x"));
        Assert.Equal(0, plain.RemoveWhere(_ => true));
        Assert.Contains("\nplain 0\n", PrometheusText.ToText(registry), StringComparison.Ordinal);
    }

    [Fact]
    public void Label_sets_added_and_removed_while_scraping_are_written_once_each_and_as_looked_up()
    {
        var registry = new MetricRegistry();
        var counter = registry.CreateCounter("churn_total", "Churn.", "endpoint");
        string[] names = ["a", "b", "c", "d"];
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 3).Select(t => new Thread(() =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                counter.Labels(names[(i + t) % names.Length]).Inc();
            }
        })).ToList();
        var remover = new Thread(() =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                counter.Remove(names[i % names.Length]);
                if (i % 2 == 0)
                {
                    counter.RemoveWhere(labels => labels[0] == names[(i + 1) % names.Length]);
                }
            }
        });
        writers.ForEach(t => t.Start());
        remover.Start();

        for (var scrape = 0; scrape < 2000; scrape++)
        {
            var lines = PrometheusText.ToText(registry).Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).ToList();
            var labelSets = lines.Select(l => l[..l.IndexOf('}', StringComparison.Ordinal)]).ToList();
            Assert.Equal(labelSets.Count, labelSets.Distinct(StringComparer.Ordinal).Count());
        }

        stop.Cancel();
        writers.ForEach(t => t.Join());
        remover.Join();

        // At rest, what is written is exactly the children Labels(…) finds: no removed child left in the writer's list.
        var written = PrometheusText.ToText(registry).Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#'))
            .ToDictionary(l => l.Split('"')[1], l => l, StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (written.TryGetValue(name, out var line))
            {
                Assert.Equal($"churn_total{{endpoint=\"{name}\"}} {PrometheusText.Format(counter.Labels(name).Value)}", line);
            }
            else
            {
                Assert.False(counter.Remove(name), $"{name} is held but not written");
            }
        }
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
