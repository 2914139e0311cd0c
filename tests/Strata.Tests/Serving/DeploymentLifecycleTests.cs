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
}
