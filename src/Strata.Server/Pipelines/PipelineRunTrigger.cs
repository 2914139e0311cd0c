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

    public async Task<string> TriggerAsync(string pipeline, AlertEvent alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var project = state.Serving.GetDeployment(alert.Endpoint).Project;
        var caller = new Caller(new Principal(PrincipalName, null, project, Role.Editor), $"alert-{alert.Rule}-{alert.WindowStart}");
        var run = await runner.StartAsync(caller, project, pipeline, noCache: false, cancellationToken).ConfigureAwait(false);
        return run.Id;
    }
}

/// <summary>
/// The server's alert delivery: one <see cref="AlertDispatcher"/> whose log actions go to the audit log and whose
/// pipeline actions start runs through <see cref="PipelineRunTrigger"/>; monitors run by the server enqueue into it.
/// </summary>
internal sealed class ServerAlerts(ServerState state, IPipelineTrigger trigger) : IAsyncDisposable
{
    private readonly HttpClient _http = new();
    private readonly Lock _lock = new();
    private AlertDispatcher? _dispatcher;

    /// <summary>The dispatcher (created on first use, once the stores are open).</summary>
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

    public async ValueTask DisposeAsync()
    {
        if (_dispatcher is not null)
        {
            await _dispatcher.DisposeAsync().ConfigureAwait(false);
        }

        _http.Dispose();
    }
}
