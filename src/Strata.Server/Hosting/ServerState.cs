using Strata.Registry;
using Strata.Storage;

namespace Strata.Server.Hosting;

/// <summary>The stores and the registry service, opened when the host starts (before it listens) and closed when it stops.</summary>
internal sealed class ServerState
{
    private StrataHome? _home;
    private RegistryService? _registry;

    /// <summary>The home folder.</summary>
    public StrataHome Home => _home ?? throw new InvalidOperationException("the Strata stores are not open yet");

    /// <summary>The registry service every endpoint calls.</summary>
    public RegistryService Registry => _registry ?? throw new InvalidOperationException("the Strata stores are not open yet");

    /// <summary>Sets the opened stores.</summary>
    public void Open(StrataHome home, RegistryService registry)
    {
        _home = home;
        _registry = registry;
    }

    /// <summary>Takes the home back for closing.</summary>
    public StrataHome? Close()
    {
        var home = _home;
        _home = null;
        _registry = null;
        return home;
    }
}
