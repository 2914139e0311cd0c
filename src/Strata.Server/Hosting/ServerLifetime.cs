using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Strata.Features;
using Strata.Postgres;
using Strata.Registry;
using Strata.Serving;
using Strata.Server.Http;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Server.Hosting;

/// <summary>
/// Opens the stores before the server binds, refuses to bind a non-loopback address while no API key exists (anyone
/// on the network could otherwise reach an open registry), checks the addresses actually bound once it has, and
/// closes the stores on shutdown.
/// </summary>
internal sealed partial class ServerLifetime(
    ServerState state,
    IOptions<StrataServerOptions> options,
    IConfiguration configuration,
    IServer server,
    ServerMetrics metrics,
    TimeProvider clock,
    IServiceProvider services,
    ILogger<ServerLifetime> logger) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        // NOTE: OpenTelemetry builds its tracer provider (which subscribes to the serving spans) in its hosted service's
        // StartAsync, after every StartingAsync; the models loaded below would go untraced. Resolving it builds it now.
        _ = services.GetService<OpenTelemetry.Trace.TracerProvider>();
        var settings = options.Value;
        var homePath = settings.ResolveHome();
        IMetadataStore? metadata = null;
        if (!string.IsNullOrEmpty(settings.Postgres))
        {
            metadata = await PostgresMetadataStore.OpenAsync(settings.Postgres, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        var home = await StrataHome.OpenAsync(homePath, metadata, cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            await CheckBindAsync(ConfiguredUrls(configuration), home.Metadata.Keys, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await home.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        IFeatureBackend featureData = string.IsNullOrEmpty(settings.Postgres) ? new EmbeddedFeatureBackend(home.Path) : new PostgresFeatureBackend(settings.Postgres);
        var features = new FeatureStores(home.Metadata, featureData, clock);
        state.Open(
            home,
            new RegistryService(home.Metadata, home.Artifacts, new RegistryOptions { MaxArtifactBytes = settings.MaxArtifactBytes }),
            features);
        LogOpened(logger, homePath, home.Metadata.Backend);
        await StartServingAsync(settings, home, features, cancellationToken).ConfigureAwait(false);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        // The configured URLs were checked before binding; this catches addresses that came from elsewhere (Kestrel endpoints in code).
        var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        await CheckBindAsync(bound, state.Home.Metadata.Keys, cancellationToken).ConfigureAwait(false);
        foreach (var address in bound)
        {
            LogListening(logger, address);
        }
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (state.StopServing() is { } serving)
        {
            await serving.DisposeAsync().ConfigureAwait(false);
        }

        var (home, features) = state.Close();
        if (features is not null)
        {
            await features.DisposeAsync().ConfigureAwait(false);
        }

        if (home is not null)
        {
            await home.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Starts the serving runtime: the endpoints of the configuration file (when there is one) are stored, then every
    /// stored endpoint's models are loaded; the runtime then polls the store for alias moves.
    /// </summary>
    private async Task StartServingAsync(StrataServerOptions settings, StrataHome home, FeatureStores features, CancellationToken cancellationToken)
    {
        var config = settings.Config ?? (File.Exists("strata.yaml") ? "strata.yaml" : null);
        var declared = config is null ? [] : await DeploymentYaml.LoadAsync(config, cancellationToken).ConfigureAwait(false);
        var retention = settings.PredictionLog.Retention();

        // A ServingOptions the host registered is the base (tests register one with the runtime's test hooks, a slow
        // shadow); the server's settings are set over it.
        var defaults = services.GetService<ServingOptions>() ?? new ServingOptions();
        var serving = new ServingRuntime(
            home.Metadata,
            home.Artifacts,
            features,
            metrics.Registry,
            defaults with
            {
                PredictionLogFolder = Path.Combine(home.Path, "predictions"),
                PredictionLogRetention = retention,
                PollInterval = TimeSpan.FromMilliseconds(Math.Clamp(settings.ServingPollMilliseconds, 50, 5000)),
                ShadowCapacity = settings.ShadowQueueCapacity,
                Warn = message => LogServing(logger, message),
            },
            clock);
        state.StartServing(serving);
        await serving.StartAsync(declared, new Actor("config", null), cancellationToken).ConfigureAwait(false);
        var count = serving.List().Count;
        LogEndpoints(logger, count, config ?? "(none)");
        LogPredictionLog(logger, serving.PredictionLogFolder, retention);
    }

    /// <summary>The URLs the host will bind, from configuration (<c>urls</c>, <c>ASPNETCORE_URLS</c>, <c>--urls</c>, Kestrel endpoints).</summary>
    internal static IReadOnlyList<string> ConfiguredUrls(IConfiguration configuration)
    {
        var urls = new List<string>();
        if (configuration["urls"] is { Length: > 0 } list)
        {
            urls.AddRange(list.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        urls.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>());
        return urls;
    }

    /// <summary>Refuses an address that is not one (Kestrel would crash on it later, saying only "Invalid url"), and non-loopback addresses while no unrevoked API key exists.</summary>
    internal static async Task CheckBindAsync(IEnumerable<string> urls, IApiKeyStore keys, CancellationToken cancellationToken)
    {
        foreach (var url in urls)
        {
            CheckAddress(url);
        }

        var exposed = urls.Where(u => !IsLoopback(u)).ToList();
        if (exposed.Count > 0 && !await keys.AnyAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new StrataException(
                ErrorCodes.Forbidden,
                $"refusing to listen on {string.Join(", ", exposed)}: that is reachable from other machines and no API key exists yet. " +
                "Create one first (strata auth create-key --project '*' --role admin), or listen on 127.0.0.1.");
        }
    }

    private static void CheckAddress(string url)
    {
        string? problem;
        try
        {
            var address = BindingAddress.Parse(url);
            problem = address.IsUnixPipe || address.IsNamedPipe || address.Port is >= 0 and <= 65535 ? null : $"port {address.Port} is beyond 65535";
        }
        catch (FormatException e)
        {
            problem = e.Message;
        }

        if (problem is not null)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"'{url}' is not an address to listen on, such as http://127.0.0.1:5000 ({problem})");
        }
    }

    /// <summary>True when a URL's host is a loopback address or localhost; wildcards (*, +, 0.0.0.0, [::]) and names are not.</summary>
    internal static bool IsLoopback(string url)
    {
        var host = url;
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            host = host[(scheme + 3)..];
        }

        var slash = host.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            host = host[..slash];
        }

        if (host.StartsWith('['))
        {
            var end = host.IndexOf(']', StringComparison.Ordinal);
            host = end > 0 ? host[1..end] : host;
        }
        else if (host.LastIndexOf(':') is var colon and > 0)
        {
            host = host[..colon];
        }

        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Strata home {Home} opened (metadata: {Backend})")]
    private static partial void LogOpened(ILogger logger, string home, string backend);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Serving: {Message}")]
    private static partial void LogServing(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving {Count} endpoints (configuration: {Config})")]
    private static partial void LogEndpoints(ILogger logger, int count, string config);

    [LoggerMessage(Level = LogLevel.Information, Message = "Prediction log {Folder}: retention {Retention}")]
    private static partial void LogPredictionLog(ILogger logger, string? folder, PredictionLogRetention retention);

    [LoggerMessage(Level = LogLevel.Information, Message = "Strata server listening on {Address}")]
    private static partial void LogListening(ILogger logger, string address);
}
