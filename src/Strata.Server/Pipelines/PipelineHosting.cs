using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Strata.Pipelines;
using Strata.Postgres;
using Strata.Security;
using Strata.Server.Hosting;
using Strata.Stores;

namespace Strata.Server.Pipelines;

/// <summary>
/// The server's pipelines, from the <c>Strata:Pipelines</c> section: the folder holding them (<c>NAME.yaml</c>; a
/// request names a pipeline, never a path) and the cron schedules the server runs them on.
/// </summary>
internal sealed class PipelineServerOptions
{
    public const string Section = "Strata:Pipelines";

    /// <summary>The folder of pipeline specs; null: no pipelines can be started on this server.</summary>
    public string? Folder { get; set; }

    /// <summary>Schedules: which pipeline, in which project, when (5-field cron, UTC).</summary>
    public List<PipelineScheduleOptions> Schedules { get; set; } = [];

    /// <summary>How often the scheduler looks at the clock (default 20 s).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(20);
}

/// <summary>One schedule entry.</summary>
internal sealed class PipelineScheduleOptions
{
    public string Pipeline { get; set; } = "";

    public string Project { get; set; } = "";

    public string Cron { get; set; } = "";
}

/// <summary>
/// Starts pipeline runs in the background (the request returns once the run is recorded), one executor per server,
/// and cancels runs still going when the server stops.
/// </summary>
internal sealed partial class PipelineRunner(ServerState state, IOptions<PipelineServerOptions> options, ILogger<PipelineRunner> logger) : IDisposable
{
    private readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Runs still executing (for tests and shutdown).</summary>
    public IReadOnlyCollection<Task> Running => _running.Values.ToList();

    /// <summary>Validates the named pipeline, records its run and starts executing it; returns the recorded run.</summary>
    public Task<PipelineRun> StartAsync(Caller caller, string project, string pipeline, bool noCache, CancellationToken cancellationToken) =>
        StartAsync(caller, project, pipeline, noCache, runId: null, cancellationToken);

    /// <summary>Like the other overload, with the run's id (null: a fresh one); a second run with that id is refused with a conflict.</summary>
    public async Task<PipelineRun> StartAsync(Caller caller, string project, string pipeline, bool noCache, string? runId, CancellationToken cancellationToken)
    {
        Names.Check("pipeline", pipeline);
        var folder = options.Value.Folder is { Length: > 0 } f ? Path.GetFullPath(f)
            : throw new StrataException(ErrorCodes.NotFound, "this server has no pipelines folder (set Strata:Pipelines:Folder)");
        var file = Path.Combine(folder, pipeline + ".yaml");
        if (!File.Exists(file))
        {
            throw new StrataException(ErrorCodes.NotFound, $"field 'pipeline': no pipeline '{pipeline}' on this server");
        }

        var spec = await PipelineYaml.LoadAsync(file, cancellationToken).ConfigureAwait(false);
        var executor = Executor();
        var runOptions = new PipelineRunOptions { Project = project, Caller = caller, NoCache = noCache, RunId = runId };
        var run = await executor.StartAsync(spec, runOptions, cancellationToken).ConfigureAwait(false);
        _running[run.Id] = Task.Run(async () =>
        {
            try
            {
                var ended = await executor.ExecuteAsync(run, runOptions, _stopping.Token).ConfigureAwait(false);
                LogEnded(logger, run.Id, pipeline, ended.State, ended.Error);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogCrashed(logger, e, run.Id, pipeline);
            }
            finally
            {
                _running.TryRemove(run.Id, out _);
            }
        }, CancellationToken.None);
        return run;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private PipelineExecutor Executor()
    {
        var home = state.Home;
        return new PipelineExecutor(new PipelineServices(home.Metadata, home.Artifacts, Path.Combine(home.Path, "tmp", "pipelines"), state.Features,
            (connection, query, schema, ct) => PostgresSourceReader.ReadQueryAsync(connection, query, schema, ct)));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "pipeline run {Run} of {Pipeline} ended: {State} {Error}")]
    private static partial void LogEnded(ILogger logger, string run, string pipeline, PipelineState state, string? error);

    [LoggerMessage(Level = LogLevel.Error, Message = "pipeline run {Run} of {Pipeline} stopped unexpectedly")]
    private static partial void LogCrashed(ILogger logger, Exception exception, string run, string pipeline);
}

/// <summary>Runs the configured schedules: each minute a schedule is due, its pipeline starts (missed minutes are not made up).</summary>
internal sealed partial class PipelineScheduler(PipelineRunner runner, IOptions<PipelineServerOptions> options, TimeProvider clock, ILogger<PipelineScheduler> logger) : BackgroundService
{
    private readonly Dictionary<int, DateTimeOffset> _next = [];

    /// <summary>The schedules, parsed (a bad one stops the server at start with its index named).</summary>
    public IReadOnlyList<(PipelineScheduleOptions Options, CronSchedule Cron)> Schedules { get; } = options.Value.Schedules.Select((s, i) =>
    {
        Names.Check($"Strata:Pipelines:Schedules:{i}:Pipeline", s.Pipeline);
        Names.Check($"Strata:Pipelines:Schedules:{i}:Project", s.Project);
        return (s, CronSchedule.Parse(s.Cron));
    }).ToList();

    /// <summary>Starts every schedule due at <paramref name="now"/>; returns the runs started.</summary>
    public async Task<IReadOnlyList<PipelineRun>> TickAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var started = new List<PipelineRun>();
        for (var i = 0; i < Schedules.Count; i++)
        {
            var (schedule, cron) = Schedules[i];
            if (!_next.TryGetValue(i, out var due))
            {
                // The first due time after start-up: a server that was down does not make up missed runs.
                _next[i] = cron.Next(now) ?? DateTimeOffset.MaxValue;
                continue;
            }

            if (now < due)
            {
                continue;
            }

            _next[i] = cron.Next(now) ?? DateTimeOffset.MaxValue;
            try
            {
                var scheduler = new Caller(new Principal("scheduler", null, schedule.Project, Role.Editor), $"schedule-{i}");
                started.Add(await runner.StartAsync(scheduler, schedule.Project, schedule.Pipeline, noCache: false, cancellationToken).ConfigureAwait(false));
            }
            catch (StrataException e)
            {
                LogRefused(logger, schedule.Pipeline, schedule.Cron, e.Message);
            }
        }

        return started;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Schedules.Count == 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.PollInterval, clock);
        await TickAsync(clock.GetUtcNow(), stoppingToken).ConfigureAwait(false);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await TickAsync(clock.GetUtcNow(), stoppingToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "scheduled pipeline {Pipeline} ({Cron}) could not start: {Reason}")]
    private static partial void LogRefused(ILogger logger, string pipeline, string cron, string reason);
}
