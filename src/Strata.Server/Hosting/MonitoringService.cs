using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Strata.Monitoring;
using Strata.Monitoring.Drift;
using Strata.Monitoring.Skew;
using Strata.Security;
using Strata.Server.Http;
using Strata.Server.Pipelines;
using Strata.Stores;

namespace Strata.Server.Hosting;

/// <summary>How the server runs declared monitors, from the <c>Strata:Monitoring</c> section.</summary>
internal sealed class MonitoringServerOptions
{
    public const string Section = "Strata:Monitoring";

    /// <summary>Whether the server runs monitors itself (default true).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often every monitor is looked at (default 30 s; at least 50 ms).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long after a window ends it is evaluated (default 10 s): a record is stamped when its request starts and logged
    /// when it ends, so a window waits for requests still in flight. (The open log segment is closed before a due window
    /// is read, so the segment age does not delay it.)
    /// </summary>
    public TimeSpan Grace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Whether this server delivers the alerts in the outbox (default true). False holds deliveries: alerts stay in the
    /// metadata store and a server that delivers sends them later (e.g. one replica of several delivers).
    /// </summary>
    public bool DeliverAlerts { get; set; } = true;
}

/// <summary>Reference profiles of model versions as monitors need them, read once from the registry and kept.</summary>
internal sealed class MonitorReferences(ServerState state)
{
    private readonly ConcurrentDictionary<(string Project, string Model, int Version), DriftProfile> _cache = new();

    /// <summary>The reference stored with a version, or with the newest version that has one when <paramref name="version"/> is null.</summary>
    public async Task<DriftProfile?> GetAsync(string project, string model, int? version, CancellationToken cancellationToken)
    {
        var caller = new Caller(new Principal(PipelineRunTrigger.PrincipalName, null, project, Role.Viewer));
        if (version is { } v)
        {
            return await LoadAsync(caller, project, model, v, cancellationToken).ConfigureAwait(false);
        }

        IReadOnlyList<ModelVersion> versions;
        try
        {
            versions = await state.Registry.ListVersionsAsync(caller, project, model, cancellationToken).ConfigureAwait(false);
        }
        catch (StrataException e) when (e.Code == ErrorCodes.NotFound)
        {
            return null;
        }

        foreach (var candidate in versions.OrderByDescending(x => x.Version))
        {
            if (await LoadAsync(caller, project, model, candidate.Version, cancellationToken).ConfigureAwait(false) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    private async Task<DriftProfile?> LoadAsync(Caller caller, string project, string model, int version, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue((project, model, version), out var cached))
        {
            return cached;
        }

        try
        {
            var profile = await ReferenceProfiles.LoadAsync(state.Registry, caller, project, model, version, cancellationToken).ConfigureAwait(false);
            return _cache[(project, model, version)] = profile;
        }
        catch (StrataException e) when (e.Code == ErrorCodes.NotFound)
        {
            return null; // NOTE: not cached: a reference may be stored after the version.
        }
    }
}

/// <summary>
/// Runs every declared monitor (strata.yaml's <c>monitors:</c> and those stored through the API) on the server, with
/// no one running <c>strata monitor check</c>: each interval, each monitor evaluates the windows that closed (see
/// <see cref="LiveMonitor"/>) and its alert rules go to the server's alert dispatcher (webhooks, audit, pipeline runs).
/// A monitor that fails is logged and tried again next interval; the others go on.
/// </summary>
internal sealed partial class MonitoringService(
    ServerState state,
    ServerAlerts alerts,
    MonitorReferences references,
    IOptions<MonitoringServerOptions> options,
    IOptions<StrataServerOptions> server,
    TimeProvider clock,
    ServerMetrics metrics,
    ILogger<MonitoringService> logger) : BackgroundService
{
    private readonly Dictionary<string, string> _lastErrors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _unreadableLedgerLines = new(StringComparer.Ordinal);

    /// <summary>Ticks completed (tests wait on it).</summary>
    public long Ticks => Interlocked.Read(ref _ticks);

    private long _ticks;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;

        // The outbox is delivered whether or not this server runs monitors: alerts a crash left pending go out at start-up.
        var delivery = settings.DeliverAlerts
            ? Task.Run(() => alerts.Outbox.RunAsync(e => LogDeliveryFailed(logger, e), stoppingToken), CancellationToken.None)
            : Task.CompletedTask;
        try
        {
            if (settings.Enabled)
            {
                await RunMonitorsAsync(settings, stoppingToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await delivery.ConfigureAwait(false);
        }
    }

    private async Task RunMonitorsAsync(MonitoringServerOptions settings, CancellationToken stoppingToken)
    {
        var interval = settings.Interval < TimeSpan.FromMilliseconds(50) ? TimeSpan.FromMilliseconds(50) : settings.Interval;
        using var timer = new PeriodicTimer(interval, clock);
        do
        {
            try
            {
                await TickAsync(settings.Grace, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogTickFailed(logger, e);
            }

            Interlocked.Increment(ref _ticks);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One pass over every monitor.</summary>
    internal async Task TickAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        if (state.Serving.PredictionLogFolder is not { } folder)
        {
            return;
        }

        var now = Timestamp.FromDateTimeOffset(clock.GetUtcNow());
        foreach (var (project, spec, source) in await LoadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = $"{project}/{spec.Endpoint}/{spec.Name}";
            try
            {
                var monitor = new LiveMonitor(
                    project, spec, folder, state.Home.Metadata, (v, ct) => references.GetAsync(project, spec.Model, v, ct), alerts.Outbox,
                    state.Serving.FlushPredictionLogAsync, await SkewAsync(project, spec, cancellationToken).ConfigureAwait(false));
                var tick = await monitor.TickAsync(now, grace, cancellationToken).ConfigureAwait(false);
                if (tick.Late > 0 || tick.Unreferenced > 0)
                {
                    LogSkipped(logger, key, tick.Late, tick.Unreferenced, spec.Model);
                }

                if (tick.LateLabels > 0)
                {
                    LogLateLabels(logger, key, tick.LateLabels, spec.EffectiveLabelDelay);
                }

                if (tick.Missed.Segments > 0)
                {
                    metrics.MonitorMissedSegments.Labels(project, spec.Endpoint, spec.Name).Inc(tick.Missed.Segments);
                    metrics.MonitorMissedBytes.Labels(project, spec.Endpoint, spec.Name).Inc(tick.Missed.Bytes);
                    LogMissed(logger, key, tick.Missed.Segments, tick.Missed.Bytes, tick.Results.Count);
                }

                // NOTE: damaged ledger lines stay until the ledger is pruned: logged when their count changes, not every interval.
                if (tick.Missed.UnreadableLedgerLines is > 0 and var unreadable && unreadable != _unreadableLedgerLines.GetValueOrDefault(key))
                {
                    _unreadableLedgerLines[key] = unreadable;
                    LogUnreadableLedger(logger, key, unreadable, folder);
                }

                _lastErrors.Remove(key);
            }
            catch (StrataException e)
            {
                // NOTE: logged once per distinct error, not every interval, so a misfit monitor does not flood the log.
                if (!_lastErrors.TryGetValue(key, out var last) || last != e.Message)
                {
                    _lastErrors[key] = e.Message;
                    LogMonitorFailed(logger, key, source, e.Message);
                }
            }
        }
    }

    /// <summary>What a skew check compares with: the project's offline store (embedded or PostgreSQL) and the endpoint's feature service.</summary>
    private async Task<SkewBaseline?> SkewAsync(string project, MonitorSpec spec, CancellationToken cancellationToken)
    {
        if (!spec.Checks.Contains(MonitorChecks.Skew))
        {
            return null;
        }

        var service = SkewBaseline.ServiceOf(spec, state.Serving.List().Any(e => e.Name == spec.Endpoint) ? state.Serving.GetDeployment(spec.Endpoint).FeatureService : null);
        return SkewBaseline.Create(await state.Features.GetAsync(project, cancellationToken).ConfigureAwait(false), spec, service);
    }

    /// <summary>The monitors to run: the configuration file's (project: the endpoint's) and the API's.</summary>
    private async Task<List<(string Project, MonitorSpec Spec, string Source)>> LoadAsync(CancellationToken cancellationToken)
    {
        var result = new List<(string, MonitorSpec, string)>();
        var config = server.Value.Config ?? (File.Exists("strata.yaml") ? "strata.yaml" : null);
        if (config is not null && File.Exists(config))
        {
            try
            {
                foreach (var spec in MonitorConfig.Parse(await File.ReadAllTextAsync(config, cancellationToken).ConfigureAwait(false), config))
                {
                    if (state.Serving.List().Any(e => e.Name == spec.Endpoint))
                    {
                        result.Add((state.Serving.GetDeployment(spec.Endpoint).Project, spec, config));
                    }
                }
            }
            catch (StrataException e)
            {
                if (!_lastErrors.TryGetValue(config, out var last) || last != e.Message)
                {
                    _lastErrors[config] = e.Message;
                    LogMonitorFailed(logger, "(all)", config, e.Message);
                }
            }
        }

        foreach (var (project, stored) in await state.Home.Metadata.MonitorState.ListMonitorsAsync(null, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (result.Any(r => r.Item2.Endpoint == stored.Endpoint && r.Item2.Name == stored.Name))
            {
                continue; // NOTE: the configuration file wins over the API for the same endpoint and name.
            }

            try
            {
                result.Add((project, MonitorConfig.ParseOne(stored.Definition, $"monitor {stored.Endpoint}/{stored.Name}"), "api"));
            }
            catch (StrataException e)
            {
                LogMonitorFailed(logger, $"{project}/{stored.Endpoint}/{stored.Name}", "api", e.Message);
            }
        }

        return result;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Monitor {Monitor}: {Count} labels arrived after their window's quality was evaluated (label delay {Delay}); counted as late, not evaluated")]
    private static partial void LogLateLabels(ILogger logger, string monitor, long count, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Monitor {Monitor}: {Segments} segments ({Bytes} bytes) of the prediction log were deleted by its retention before the monitor read them; the {Results} results of this pass may miss their records (said in their details). Raise Strata:PredictionLog:RetentionBytes or RetentionAge, or find why the monitor lags")]
    private static partial void LogMissed(ILogger logger, string monitor, int segments, long bytes, int results);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Monitor {Monitor}: {Lines} lines of the prediction log's retention ledger (retention-*.ledger in {Folder}) cannot be read and were skipped; segments they name, if deleted before the monitor read them, are not counted as missed")]
    private static partial void LogUnreadableLedger(ILogger logger, string monitor, int lines, string folder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert delivery failed; the alerts stay in the outbox and are tried again")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Monitoring tick failed")]
    private static partial void LogTickFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Monitor {Monitor} ({Source}) cannot run: {Message}")]
    private static partial void LogMonitorFailed(ILogger logger, string monitor, string source, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Monitor {Monitor}: {Late} late rows and {Unreferenced} rows of versions of {Model} without a reference profile were left out")]
    private static partial void LogSkipped(ILogger logger, string monitor, long late, long unreferenced, string model);
}
