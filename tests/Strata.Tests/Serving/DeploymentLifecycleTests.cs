using System.Text;
using Strata.Registry;
using Strata.Security;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>
/// An endpoint's life beside the registry: versions that cannot be loaded, deleted ones, challengers and shadows that
/// fail, declarations with mistakes. Refreshes are asked for directly (the poller waits an hour), so nothing is timed.
/// </summary>
public sealed class DeploymentLifecycleTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _folder = new("strata-lifecycle");
    private readonly List<string> _warnings = [];
    private StrataHome _home = null!;
    private RegistryService _registry = null!;
    private string[] _inputs = [];

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        _registry = new RegistryService(_home.Metadata, _home.Artifacts);
        _inputs = await FlightsModelSeed.SeedAsync(_home, versions: 2);
        await _registry.SetAliasAsync(Caller.Local, "flights", "delay", "live", 1, null);
    }

    public async Task DisposeAsync() => await _home.DisposeAsync();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task An_unreadable_package_fails_only_the_endpoint_serving_it_and_the_server_still_starts()
    {
        await _registry.SetAliasAsync(Caller.Local, "flights", "delay", "other", 1, null);
        var unreadable = await RegisterBlobAsync("a package whose file the server cannot read");
        MakeUnreadable(unreadable);
        await using (var runtime = await StartAsync(
            new Deployment { Name = "a-broken", Project = "flights", Model = "delay@live" },
            new Deployment { Name = "b-other", Project = "flights", Model = "delay@other" }))
        {
            // The first endpoint's alias moves to the unreadable version, then the other's moves too.
            await _registry.SetAliasAsync(Caller.Local, "flights", "delay", "live", unreadable.Version, null);
            await _registry.SetAliasAsync(Caller.Local, "flights", "delay", "other", 2, null);
            await runtime.RefreshAsync();

            Assert.Equal("delay/2", runtime.Get("b-other").Champion);
            var broken = runtime.Get("a-broken");
            Assert.Equal("delay/1", broken.Champion);
            Assert.Contains($"version {unreadable.Version} of model 'delay' cannot be read", broken.Error, StringComparison.Ordinal);

            // A deployment naming it is the caller's to fix (a 409 naming the version), not a server failure.
            var refused = await Assert.ThrowsAsync<StrataException>(() => runtime.PutAsync(
                new Deployment { Name = "c-new", Project = "flights", Model = $"delay/{unreadable.Version}" }, new Actor("test")));
            Assert.Equal(ErrorCodes.Conflict, refused.Code);
            Assert.Contains($"version {unreadable.Version}", refused.Message, StringComparison.Ordinal);
        }

        // A server starting over this home serves what it can.
        await using var restarted = await StartAsync();
        Assert.False(restarted.Get("a-broken").Ready);
        Assert.Contains("cannot be read", restarted.Get("a-broken").Error, StringComparison.Ordinal);
        Assert.Equal(2, (await restarted.PredictAsync(Request("b-other", "r1"))).Version);
    }

    [Fact]
    public async Task A_deleted_version_still_in_the_model_cache_is_refused_by_a_new_deployment()
    {
        await _registry.SetAliasAsync(Caller.Local, "flights", "delay", "canary", 2, null);
        await using var runtime = await StartAsync(new Deployment { Name = "canaried", Project = "flights", Model = "delay/1", Challenger = "delay@canary" });

        // The alias moves on and version 2 is deleted before any refresh: the cache still holds it.
        await _registry.SetAliasAsync(Caller.Local, "flights", "delay", "canary", 1, null);
        await _registry.SetVersionStatusAsync(Caller.Local, "flights", "delay", 2, VersionStatus.Deleted);
        var refused = await Assert.ThrowsAsync<StrataException>(() => runtime.PutAsync(
            new Deployment { Name = "late", Project = "flights", Model = "delay/1", Challenger = "delay/2" }, new Actor("test")));

        Assert.Equal(ErrorCodes.Conflict, refused.Code);
        Assert.Contains("version 2 of model 'delay' is deleted", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_challenger_that_cannot_load_leaves_the_champion_serving_alone_with_the_reason_shown()
    {
        var corrupt = await RegisterBlobAsync("not a model package");
        await _home.Metadata.Endpoints.PutAsync(
            "canaried", "flights", new Deployment { Name = "canaried", Project = "flights", Model = "delay/1", Challenger = $"delay/{corrupt.Version}", ChallengerWeight = 1 }.ToJson(), new Actor("test"));

        await using var runtime = await StartAsync();

        var status = runtime.Get("canaried");
        Assert.True(status.Ready);
        Assert.Equal("delay/1", status.Champion);
        Assert.Null(status.Challenger);
        Assert.Contains($"challenger 'delay/{corrupt.Version}' is not served", status.Error, StringComparison.Ordinal);
        var output = await runtime.PredictAsync(Request("canaried", "r1"));
        Assert.Equal((1, ServingRoles.Champion), (output.Version, output.Role));
    }

    [Fact]
    public async Task The_error_of_a_failed_swap_is_gone_once_the_alias_moves_back()
    {
        var corrupt = await RegisterBlobAsync("not a model package");
        await using var runtime = await StartAsync(new Deployment { Name = "swapped", Project = "flights", Model = "delay@live" });

        await _registry.SetAliasAsync(Caller.Local, "flights", "delay", "live", corrupt.Version, null);
        await runtime.RefreshAsync();
        Assert.Contains($"version {corrupt.Version} of model 'delay' failed verification", runtime.Get("swapped").Error, StringComparison.Ordinal);

        await _registry.SetAliasAsync(Caller.Local, "flights", "delay", "live", 1, null);
        await runtime.RefreshAsync();

        Assert.Equal("delay/1", runtime.Get("swapped").Champion);
        Assert.Null(runtime.Get("swapped").Error);
    }

    [Fact]
    public async Task A_new_declaration_that_cannot_serve_is_not_stored_and_the_server_starts_without_it()
    {
        await using var runtime = await StartAsync(
            new Deployment { Name = "good", Project = "flights", Model = "delay@live" },
            new Deployment { Name = "misspelt", Project = "flights", Model = "delay@live", Pii = ["distanse"] },
            new Deployment { Name = "nomodel", Project = "flights", Model = "nomodel@live" },
            new Deployment { Name = "noservice", Project = "flights", Model = "delay@live", FeatureService = "no_such_service" });

        Assert.Equal(["good"], runtime.List().Select(e => e.Name));
        foreach (var name in new[] { "misspelt", "nomodel", "noservice" })
        {
            Assert.Null(await _home.Metadata.Endpoints.GetAsync(name));
            Assert.Contains(_warnings, w => w.StartsWith($"strata.yaml: endpoint '{name}' is not created: ", StringComparison.Ordinal));
        }

        Assert.Contains(_warnings, w => w.Contains("field 'pii' names 'distanse'", StringComparison.Ordinal));
        Assert.Equal(1, (await runtime.PredictAsync(Request("good", "r1"))).Version);
    }

    [Fact]
    public async Task A_batching_delay_not_below_the_timeout_is_refused_on_put()
    {
        await using var runtime = await StartAsync();

        var refused = await Assert.ThrowsAsync<StrataException>(() => runtime.PutAsync(
            new Deployment { Name = "waits", Project = "flights", Model = "delay/1", Limits = new DeploymentLimits { TimeoutMs = 10 }, Batching = new DeploymentBatching { MaxDelayMs = 10 } },
            new Actor("test")));
        var accepted = await runtime.PutAsync(
            new Deployment { Name = "waits", Project = "flights", Model = "delay/1", Limits = new DeploymentLimits { TimeoutMs = 11 }, Batching = new DeploymentBatching { MaxDelayMs = 10 } },
            new Actor("test"));

        Assert.Equal(ErrorCodes.ArgumentInvalid, refused.Code);
        Assert.Equal("field 'batching.max_delay_ms' is 10, not below limits.timeout_ms (10): a request arriving alone would wait for company until it timed out", refused.Message);
        Assert.Equal("waits", accepted.Name);
    }

    [Fact]
    public async Task A_shadow_reading_a_field_as_another_kind_than_the_champion_is_refused()
    {
        // The same inputs as the flights model, the first one read as text: no request can feed both.
        var random = new Random(3);
        var columns = _inputs.Select((input, i) => (input, i == 0
                ? (Column)Columns.String([.. Enumerable.Range(0, 100).Select(r => r % 3 == 0 ? "a" : "b")])
                : Columns.Float64([.. Enumerable.Range(0, 100).Select(_ => (double?)random.NextDouble())])))
            .Append(("late", Columns.Int64([.. Enumerable.Range(0, 100).Select(i => (long?)(i % 2))])));
        await RegisterAsync("delay-text", columns);
        await using var runtime = await StartAsync();

        var refused = await Assert.ThrowsAsync<StrataException>(() => runtime.PutAsync(
            new Deployment { Name = "mismatched", Project = "flights", Model = "delay/1", Shadow = "delay-text/1" }, new Actor("test")));

        Assert.Equal(ErrorCodes.ArgumentInvalid, refused.Code);
        Assert.Contains($"field '{_inputs[0]}' is a number for delay version 1 but text for delay-text version 1", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shadow_failures_are_counted_by_endpoint_and_each_reason_is_logged_once()
    {
        // A shadow reading a field the champion does not: requests without it fail the shadow (and only it).
        var random = new Random(5);
        var columns = _inputs.Append("weather")
            .Select(input => (input, (Column)Columns.Float64([.. Enumerable.Range(0, 100).Select(_ => (double?)random.NextDouble())])))
            .Append(("late", Columns.Int64([.. Enumerable.Range(0, 100).Select(i => (long?)(i % 2))])));
        await RegisterAsync("delay-plus", columns);
        var metrics = new MetricRegistry();
        await using var runtime = await StartAsync(metrics, new Deployment { Name = "shadowed", Project = "flights", Model = "delay/1", Shadow = "delay-plus/1" });

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(ServingRoles.Champion, (await runtime.PredictAsync(Request("shadowed", $"r{i}"))).Role);
        }

        var failures = ((Counter)metrics.Metrics.Single(m => m.Name == "strata_serving_shadow_failures_total")).Labels("shadowed");
        await WaitUntilAsync(() => failures.Value >= 5);
        Assert.Equal(5, failures.Value);
        var logged = _warnings.Where(w => w.Contains("shadow delay-plus/1", StringComparison.Ordinal)).ToList();
        Assert.Single(logged);
        Assert.Contains("missing field 'weather'", logged[0], StringComparison.Ordinal);
    }

    private Task<ServingRuntime> StartAsync(params Deployment[] deployments) => StartAsync(new MetricRegistry(), deployments);

    private async Task<ServingRuntime> StartAsync(MetricRegistry metrics, params Deployment[] deployments)
    {
        // NOTE: the poller waits an hour, so what a test sees was refreshed when it asked (or at start).
        var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, metrics, new ServingOptions
        {
            PollInterval = TimeSpan.FromHours(1),
            Warn = message =>
            {
                lock (_warnings)
                {
                    _warnings.Add(message);
                }
            },
        });
        await runtime.StartAsync(deployments, new Actor("test"));
        return runtime;
    }

    private PredictionRequest Request(string endpoint, string id) => FlightsModelSeed.Request(_inputs, endpoint, id);

    /// <summary>Registers bytes as the next version of model delay (a distinct blob, not a model package).</summary>
    private async Task<ModelVersion> RegisterBlobAsync(string content)
    {
        var blob = await _registry.PutBlobAsync(Caller.Local, "flights", new MemoryStream(Encoding.UTF8.GetBytes(content)));
        return await _registry.RegisterVersionAsync(Caller.Local, "flights", "delay", new VersionRegistration { ArtifactDigest = blob.Digest });
    }

    /// <summary>Puts a folder where a version's package file is: opening it for reading is refused, as a file without read permission is (even for root).</summary>
    private void MakeUnreadable(ModelVersion version)
    {
        var path = Path.Combine(_folder.Path, "objects", "sha256", version.ArtifactDigest[..2], version.ArtifactDigest[2..]);
        Assert.True(File.Exists(path), path);
        File.Delete(path);
        Directory.CreateDirectory(path);
    }

    private async Task RegisterAsync(string name, IEnumerable<(string Name, Column Column)> columns)
    {
        var model = await new Strata.Learning.Gbdt.GbdtLearner(new Strata.Learning.Gbdt.GbdtOptions { NumBoostRound = 3 })
            .FitAsync(Strata.Learning.TrainingData.FromTable(Table.From([.. columns]), new Strata.Learning.TrainingSpec { Label = "late", Task = Strata.Learning.LearningTask.BinaryClassification }));
        await TestModels.RegisterAsync(_home, "flights", name, model);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting");
            await Task.Delay(10);
        }
    }
}
