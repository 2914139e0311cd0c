using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>
/// How the serving runtime reports what goes wrong: refused requests in the latency histogram as in the request counter,
/// and a model version that keeps failing to load counted and warned about once, not at every retry.
/// </summary>
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

    [Fact]
    public async Task A_version_that_keeps_failing_is_counted_and_warned_about_once_and_read_again_only_as_its_retries_back_off()
    {
        var digest = await RegisterCorruptAsync("fragile");
        var clock = new ManualClock(DateTimeOffset.UnixEpoch, TimeSpan.Zero);
        var artifacts = new CountingArtifacts(_home.Artifacts, digest);
        var warnings = new ConcurrentQueue<string>();
        var registry = new MetricRegistry();
        await using var runtime = new ServingRuntime(
            _home.Metadata, artifacts, null, registry, new ServingOptions { PollInterval = TimeSpan.FromHours(1), Warn = warnings.Enqueue }, clock);
        await StartStoredAsync(runtime, new Deployment { Name = "fragile", Project = "flights", Model = "fragile/1" });
        Assert.False(runtime.Ready);
        Assert.Equal(1, artifacts.Reads);

        // Retried at every poll (and after every change in the store), it is not read again while its retry waits.
        for (var i = 0; i < 5; i++)
        {
            await runtime.RefreshAsync();
        }

        await new Strata.Registry.RegistryService(_home.Metadata, _home.Artifacts).CreateModelAsync(Strata.Security.Caller.Local, "flights", "unrelated", null, null);
        await runtime.RefreshAsync();
        Assert.Equal(1, artifacts.Reads);

        // Read again once the wait is over; each wait doubles (1 s, 2 s, …) up to a minute.
        clock.Advance(TimeSpan.FromSeconds(1));
        await runtime.RefreshAsync();
        Assert.Equal(2, artifacts.Reads);
        clock.Advance(TimeSpan.FromSeconds(1));
        await runtime.RefreshAsync();
        Assert.Equal(2, artifacts.Reads);
        clock.Advance(TimeSpan.FromSeconds(1));
        await runtime.RefreshAsync();
        Assert.Equal(3, artifacts.Reads);
        for (var i = 0; i < 10; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            await runtime.RefreshAsync();
        }

        Assert.Equal(13, artifacts.Reads);

        // However often it was tried, the version failed once for one reason: one count, one warning.
        Assert.Contains("strata_serving_model_load_failures_total{model=\"fragile\"} 1\n", PrometheusText.ToText(registry), StringComparison.Ordinal);
        Assert.Single(warnings, w => w.Contains("endpoint 'fragile'", StringComparison.Ordinal));
        Assert.False(runtime.Ready);

        // An operator asking for the load has it tried at once.
        await Assert.ThrowsAsync<StrataException>(() => runtime.LoadAsync("fragile"));
        Assert.Equal(14, artifacts.Reads);
    }

    [Fact]
    public async Task An_alias_moved_off_a_failing_version_is_served_at_the_next_refresh_and_a_failure_after_it_is_warned_about_again()
    {
        await RegisterCorruptAsync("wobbly");
        await using (var package = new MemoryStream())
        {
            await Strata.Learning.ModelPackage.SaveAsync(Strata.Learning.XGBoostImporter.Load(SharedData.InRepository("tests", "fixtures", "xgboost", "flights_xgb.json")), package);
            package.Position = 0;
            await Registry.UploadVersionAsync(Strata.Security.Caller.Local, "flights", "wobbly", new Strata.Registry.VersionRegistration(), package);
        }

        await Registry.SetAliasAsync(Strata.Security.Caller.Local, "flights", "wobbly", "live", 1, null);
        var warnings = new ConcurrentQueue<string>();
        var registry = new MetricRegistry();
        var clock = new ManualClock(DateTimeOffset.UnixEpoch, TimeSpan.Zero); // never moved: no retry wait ever passes
        await using var runtime = new ServingRuntime(
            _home.Metadata, _home.Artifacts, null, registry, new ServingOptions { PollInterval = TimeSpan.FromHours(1), Warn = warnings.Enqueue }, clock);
        await StartStoredAsync(runtime, new Deployment { Name = "wobbly", Project = "flights", Model = "wobbly@live" });
        Assert.False(runtime.Ready);

        // The fix (the alias moved to a good version) is not held back by the failing version's retry wait.
        await Registry.SetAliasAsync(Strata.Security.Caller.Local, "flights", "wobbly", "live", 2, null);
        await runtime.RefreshAsync();
        Assert.True(runtime.Ready);
        Assert.Equal(2, (await runtime.PredictAsync(Request("moved", "wobbly"))).Version);

        // Moved back, the endpoint keeps serving version 2 and says so again; the version's own failure is not new.
        await Registry.SetAliasAsync(Strata.Security.Caller.Local, "flights", "wobbly", "live", 1, null);
        await runtime.RefreshAsync();
        Assert.Equal(2, (await runtime.PredictAsync(Request("kept", "wobbly"))).Version);
        Assert.Equal(2, warnings.Count(w => w.Contains("endpoint 'wobbly'", StringComparison.Ordinal)));
        Assert.Contains("strata_serving_model_load_failures_total{model=\"wobbly\"} 1\n", PrometheusText.ToText(registry), StringComparison.Ordinal);
    }

    /// <summary>
    /// Starts serving a deployment stored before its version went bad (a declaration or a PUT naming a version that
    /// cannot load is refused, so the store is written directly).
    /// </summary>
    private async Task StartStoredAsync(ServingRuntime runtime, Deployment deployment)
    {
        await _home.Metadata.Endpoints.PutAsync(deployment.Name, deployment.Project, deployment.ToJson(), new Actor("test"));
        await runtime.StartAsync([], new Actor("test"));
    }

    private Strata.Registry.RegistryService Registry => new(_home.Metadata, _home.Artifacts);

    private PredictionRequest Request(string id, string endpoint = "refusing") => FlightsModelSeed.Request(_inputs, endpoint, id);

    private static PredictionRequest TwoRows(PredictionRequest request) => request with
    {
        Input = new PredictionInput(2, request.Input.Columns.ToDictionary(c => c.Key, c => InputColumn.OfNumbers([c.Value.Numbers![0], c.Value.Numbers![0]]))),
    };

    /// <summary>Registers a small model as version 1 of <paramref name="name"/> and corrupts its stored package; returns its digest.</summary>
    private async Task<string> RegisterCorruptAsync(string name)
    {
        var random = new Random(3);
        var columns = _inputs
            .Select(input => (input, (Column)Columns.Float64([.. Enumerable.Range(0, 50).Select(_ => (double?)random.NextDouble())])))
            .Append(("late", Columns.Int64([.. Enumerable.Range(0, 50).Select(i => (long?)(i % 2))])));
        var model = await new Strata.Learning.Gbdt.GbdtLearner(new Strata.Learning.Gbdt.GbdtOptions { NumBoostRound = 2 })
            .FitAsync(Strata.Learning.TrainingData.FromTable(Table.From([.. columns]), new Strata.Learning.TrainingSpec { Label = "late", Task = Strata.Learning.LearningTask.BinaryClassification }));
        await TestModels.RegisterAsync(_home, "flights", name, model);
        var digest = (await _home.Metadata.Registry.GetVersionAsync("flights", name, 1))!.ArtifactDigest;
        var path = Path.Combine(_folder.Path, "objects", "sha256", digest[..2], digest[2..]);
        var bytes = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, bytes[..16]); // cut short: neither its digest nor its package checks pass
        return digest;
    }

    /// <summary>A metric's values of one endpoint, summed by version (over statuses, for the counter).</summary>
    private static Dictionary<string, double> Totals(string text, string metric, string endpoint) =>
        Regex.Matches(text, "^" + Regex.Escape(metric) + "\\{endpoint=\"" + Regex.Escape(endpoint) + "\",version=\"(?<v>[^\"]+)\"[^}]*\\} (?<n>\\S+)$", RegexOptions.Multiline)
            .GroupBy(m => m.Groups["v"].Value)
            .ToDictionary(g => g.Key, g => g.Sum(m => double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture)));

    /// <summary>The artifact store, counting the reads of one blob (each is an attempt to load the version stored there).</summary>
    private sealed class CountingArtifacts(IArtifactStore inner, string watched) : IArtifactStore
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public Task<BlobInfo> PutAsync(Stream content, long maxBytes, CancellationToken cancellationToken = default) => inner.PutAsync(content, maxBytes, cancellationToken);

        public Task<Stream> OpenReadAsync(string digest, CancellationToken cancellationToken = default)
        {
            if (digest == watched)
            {
                Interlocked.Increment(ref _reads);
            }

            return inner.OpenReadAsync(digest, cancellationToken);
        }

        public Task<long?> GetSizeAsync(string digest, CancellationToken cancellationToken = default) => inner.GetSizeAsync(digest, cancellationToken);

        public IAsyncEnumerable<(BlobInfo Blob, DateTimeOffset Written)> ListAsync(CancellationToken cancellationToken = default) => inner.ListAsync(cancellationToken);

        public Task DeleteAsync(string digest, CancellationToken cancellationToken = default) => inner.DeleteAsync(digest, cancellationToken);
    }
}
