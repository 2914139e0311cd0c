using Strata.Monitoring;
using Strata.Security;
using Strata.Server.Hosting;
using Strata.Stores;

namespace Strata.Server.Pipelines;

/// <summary>
/// A monitor alert's pipeline action on the server: starts the named pipeline through the same runner as
/// <c>POST /api/v1/projects/{p}/pipelines/runs</c>, in the project of the endpoint the alert is about, as an editor
/// principal named "monitor" (so the run and its audit entries say who started it).
/// </summary>
internal sealed class PipelineRunTrigger(PipelineRunner runner, ServerState state) : IPipelineTrigger
{
    /// <summary>The principal name runs started by alerts carry.</summary>
    public const string PrincipalName = "monitor";

    /// <summary>
    /// Starts the run, or for an alert from the outbox (it has an id) returns the run it already started: the run's id
    /// is derived from the alert's id and the pipeline, and the store refuses a second run with the same id, so a
    /// redelivery after a crash never starts a second retraining.
    /// </summary>
    public async Task<string> TriggerAsync(string pipeline, AlertEvent alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var project = state.Serving.GetDeployment(alert.Endpoint).Project;
        var caller = new Caller(new Principal(PrincipalName, null, project, Role.Editor), $"alert-{alert.Rule}-{alert.WindowStart}");
        var runId = alert.Id is { } id ? RunId(id, pipeline) : null;
        if (runId is not null && await state.Home.Metadata.Pipelines.GetRunAsync(project, runId, cancellationToken).ConfigureAwait(false) is not null)
        {
            return runId;
        }

        try
        {
            var run = await runner.StartAsync(caller, project, pipeline, noCache: false, runId, cancellationToken).ConfigureAwait(false);
            return run.Id;
        }
        catch (StrataException e) when (e.Code == ErrorCodes.Conflict && runId is not null)
        {
            return runId; // NOTE: another delivery of the same alert recorded it first.
        }
    }

    /// <summary>The run id of an alert's pipeline action (hex, like generated run ids).</summary>
    internal static string RunId(string alertId, string pipeline) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(alertId + "\n" + pipeline)))[..32];
}

/// <summary>
/// The server's alert delivery: one <see cref="AlertDispatcher"/> whose log actions go to the audit log and whose
/// pipeline actions start runs through <see cref="PipelineRunTrigger"/>, and the <see cref="AlertOutbox"/> that feeds it
/// from the metadata store, where monitors run by the server write their alerts.
/// </summary>
internal sealed class ServerAlerts(ServerState state, IPipelineTrigger trigger) : IAsyncDisposable
{
    private readonly HttpClient _http = new();
    private readonly Lock _lock = new();
    private AlertDispatcher? _dispatcher;
    private AlertOutbox? _outbox;

    /// <summary>The dispatcher (created on first use, once the stores are open): what the outbox delivers through.</summary>
    public AlertDispatcher Dispatcher
    {
        get
        {
            lock (_lock)
            {
                return _dispatcher ??= new AlertDispatcher(_http, state.Home.Metadata.Audit, trigger);
            }
        }
    }

    /// <summary>The outbox (created on first use, once the stores are open).</summary>
    public AlertOutbox Outbox
    {
        get
        {
            var dispatcher = Dispatcher;
            lock (_lock)
            {
                return _outbox ??= new AlertOutbox(state.Home.Metadata.MonitorState, dispatcher);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_dispatcher is not null)
        {
            await _dispatcher.DisposeAsync().ConfigureAwait(false);
        }

        _outbox?.Dispose();
        _http.Dispose();
    }
}
