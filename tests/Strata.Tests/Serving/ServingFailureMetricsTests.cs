using System.Globalization;
using System.Text.RegularExpressions;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>How the serving runtime reports what goes wrong: refused requests in the latency histogram as in the request counter.</summary>
public sealed class ServingFailureMetricsTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _folder = new("strata-serving-failures");
    private StrataHome _home = null!;
    private string[] _inputs = [];

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        _inputs = await FlightsModelSeed.SeedAsync(_home, versions: 1);
    }

    public async Task DisposeAsync() => await _home.DisposeAsync();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Requests_refused_before_a_model_answers_are_timed_under_version_none_as_they_are_counted()
    {
        var registry = new MetricRegistry();
        await using var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, registry);
        await runtime.StartAsync(
            [new Deployment { Name = "refusing", Project = "flights", Model = "delay/1", Limits = new DeploymentLimits { MaxConcurrency = 1, TimeoutMs = 1, MaxRows = 1 } }],
            new Actor("test"));

        await runtime.PredictAsync(Request("ok"));
        await Assert.ThrowsAsync<StrataException>(() => runtime.PredictAsync(TwoRows(Request("too-many-rows"))).AsTask()); // 413
        await Assert.ThrowsAsync<StrataException>(() => runtime.PredictAsync(Request("unknown-version") with { Version = 7 }).AsTask()); // 404
        Assert.True(runtime.RuntimeOf("refusing").Admission.TryEnter(out var lease));
        using (lease)
        {
            var timeout = await Assert.ThrowsAsync<ServingRefusal>(() => runtime.PredictAsync(Request("queued")).AsTask());
            Assert.Equal(504, timeout.Status);
        }

        // The histogram's count equals the counter's total by endpoint and version, refusals (version none) included.
        var text = PrometheusText.ToText(registry);
        var counted = Totals(text, "strata_serving_requests_total", "refusing");
        var timed = Totals(text, "strata_serving_request_duration_seconds_count", "refusing");
        Assert.Equal(new Dictionary<string, double> { ["1"] = 1, ["none"] = 3 }, counted);
        Assert.Equal(counted, timed);
    }

    private PredictionRequest Request(string id, string endpoint = "refusing") => FlightsModelSeed.Request(_inputs, endpoint, id);

    private static PredictionRequest TwoRows(PredictionRequest request) => request with
    {
        Input = new PredictionInput(2, request.Input.Columns.ToDictionary(c => c.Key, c => InputColumn.OfNumbers([c.Value.Numbers![0], c.Value.Numbers![0]]))),
    };

    /// <summary>A metric's values of one endpoint, summed by version (over statuses, for the counter).</summary>
    private static Dictionary<string, double> Totals(string text, string metric, string endpoint) =>
        Regex.Matches(text, "^" + Regex.Escape(metric) + "\\{endpoint=\"" + Regex.Escape(endpoint) + "\",version=\"(?<v>[^\"]+)\"[^}]*\\} (?<n>\\S+)$", RegexOptions.Multiline)
            .GroupBy(m => m.Groups["v"].Value)
            .ToDictionary(g => g.Key, g => g.Sum(m => double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture)));
}
