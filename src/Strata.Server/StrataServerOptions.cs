using System.Globalization;
using Strata.Serving;

namespace Strata.Server;

/// <summary>The server's settings, from the <c>Strata</c> configuration section (<c>--Strata:Home</c>, <c>Strata__Postgres</c>…).</summary>
public sealed class StrataServerOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Strata";

    /// <summary>Where the server listens unless told otherwise: loopback only.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>The home folder (artifacts, and metadata unless <see cref="Postgres"/> is set); default $STRATA_HOME, else ./.strata.</summary>
    public string? Home { get; set; }

    /// <summary>A PostgreSQL connection string: keep metadata there instead of the home's SQLite file (replicas share it).</summary>
    public string? Postgres { get; set; }

    /// <summary>
    /// The project of Feast-compatible feature routes (<c>/get-online-features</c>…) when a request names none (no
    /// <c>?project=</c>, no <c>Strata-Project</c> header) and its key is valid in every project.
    /// </summary>
    public string? FeatureProject { get; set; }

    /// <summary>Largest JSON request body, in bytes (default 1 MiB); larger bodies get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1 << 20;

    /// <summary>Largest artifact or model package upload, in bytes (default 1 GiB); larger uploads get 413.</summary>
    public long MaxArtifactBytes { get; set; } = 1L << 30;

    /// <summary>
    /// Lets <c>GET /metrics</c> answer a request from a loopback address without a key (a Prometheus scraper on the
    /// same machine); default false, so scraping needs a key. Behind a reverse proxy on the same machine every request
    /// comes from loopback, so leave it off there.
    /// </summary>
    public bool AnonymousMetrics { get; set; }

    /// <summary>
    /// The project configuration whose <c>endpoints:</c> section declares serving endpoints (default <c>strata.yaml</c> in
    /// the working folder, when there is one).
    /// </summary>
    public string? Config { get; set; }

    /// <summary>How often replicas poll the metadata store for alias moves and endpoint changes, in milliseconds (default 1000).</summary>
    public int ServingPollMilliseconds { get; set; } = 1000;

    /// <summary>
    /// The per-request access log (<see cref="Http.AccessLog"/>): <c>stdout</c> (every request), <c>off</c>, or a
    /// sampling rate such as <c>0.1</c>, the default (that share of successful requests; failed ones are always logged).
    /// </summary>
    public string? AccessLog { get; set; }

    /// <summary>The shadow queue capacity's setting.</summary>
    public const string ShadowQueueCapacitySetting = Section + ":" + nameof(ShadowQueueCapacity);

    /// <summary>The largest shadow queue capacity taken: each waiting copy holds its request's input.</summary>
    public const int MaxShadowQueueCapacity = 1 << 20;

    /// <summary>
    /// Most copies of requests that may wait for one endpoint's shadow model (default 1024; each endpoint has its own
    /// queue): beyond it the endpoint's copies are dropped and counted (<c>strata_serving_shadow_dropped_total</c>).
    /// </summary>
    public int ShadowQueueCapacity { get; set; } = ServingOptions.DefaultShadowCapacity;

    /// <summary>The prediction log's retention (<c>Strata:PredictionLog:RetentionBytes</c>, <c>:RetentionAge</c>).</summary>
    public PredictionLogServerOptions PredictionLog { get; set; } = new();

    /// <summary>
    /// The configured shadow queue capacity, else the default; checked at start-up, so a value that is not one stops the
    /// start naming the setting (the configuration binder would otherwise fail later with a message naming neither).
    /// </summary>
    /// <exception cref="StrataException">A value that is not a whole number from 1 to <see cref="MaxShadowQueueCapacity"/>.</exception>
    public static int ShadowQueueCapacityFrom(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var text = configuration[ShadowQueueCapacitySetting];
        return string.IsNullOrEmpty(text) ? ServingOptions.DefaultShadowCapacity
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var capacity) && capacity is > 0 and <= MaxShadowQueueCapacity ? capacity
            : throw new StrataException(
                ErrorCodes.ArgumentInvalid,
                $"setting {ShadowQueueCapacitySetting} is '{text}', not a whole number from 1 to {MaxShadowQueueCapacity}: how many copies of requests may wait for one endpoint's shadow model");
    }

    /// <summary>The home folder to use: the option, else $STRATA_HOME, else ./.strata.</summary>
    public string ResolveHome() => Path.GetFullPath(Home ?? Environment.GetEnvironmentVariable("STRATA_HOME") ?? ".strata");
}
