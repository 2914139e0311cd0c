using Strata.Features;
using Strata.Registry;
using Strata.Serving;
using Strata.Storage;

namespace Strata.Server.Hosting;

/// <summary>The stores and the registry service, opened when the host starts (before it listens) and closed when it stops.</summary>
internal sealed class ServerState
{
    private StrataHome? _home;
    private RegistryService? _registry;
    private FeatureStores? _features;
    private ServingRuntime? _serving;

    /// <summary>The home folder.</summary>
    public StrataHome Home => _home ?? throw new InvalidOperationException("the Strata stores are not open yet");

    /// <summary>The registry service every endpoint calls.</summary>
    public RegistryService Registry => _registry ?? throw new InvalidOperationException("the Strata stores are not open yet");

    /// <summary>The feature stores of every project.</summary>
    public FeatureStores Features => _features ?? throw new InvalidOperationException("the Strata stores are not open yet");

    /// <summary>The serving runtime (endpoints, models, prediction log).</summary>
    public ServingRuntime Serving => _serving ?? throw new InvalidOperationException("the serving runtime is not started yet");

    /// <summary>Sets the started serving runtime.</summary>
    public void StartServing(ServingRuntime serving) => _serving = serving;

    /// <summary>Takes the serving runtime back for stopping.</summary>
    public ServingRuntime? StopServing()
    {
        var serving = _serving;
        _serving = null;
        return serving;
    }

    /// <summary>Sets the opened stores.</summary>
    public void Open(StrataHome home, RegistryService registry, FeatureStores features)
    {
        _home = home;
        _registry = registry;
        _features = features;
    }

    /// <summary>Takes the home and the feature stores back for closing.</summary>
    public (StrataHome? Home, FeatureStores? Features) Close()
    {
        var home = _home;
        var features = _features;
        _home = null;
        _registry = null;
        _features = null;
        return (home, features);
    }
}
