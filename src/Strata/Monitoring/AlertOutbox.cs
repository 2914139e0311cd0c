using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Strata.Stores;

namespace Strata.Monitoring;

/// <summary>
/// Delivers alerts durably: a monitor writes each fired alert's actions to the metadata store's outbox in the same
/// transaction as the results that fired them (<see cref="Entries"/>), and this delivers them after the commit through
/// an <see cref="AlertDispatcher"/>, marks each delivered, retries failures with a doubling backoff, and on start-up
/// delivers whatever a crash left pending. Delivery is at least once; the alert's id travels with it so receivers and
/// the pipeline trigger can drop repeats.
/// </summary>
public sealed class AlertOutbox : IDisposable
{
    private const int ClaimBatch = 100;
    private static readonly TimeSpan PruneEvery = TimeSpan.FromHours(1);
    private readonly IMonitorStateStore _store;
    private readonly AlertDispatcher _dispatcher;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private long _prunedAt = long.MinValue;

    /// <summary>Creates an outbox over <paramref name="store"/> that delivers through <paramref name="dispatcher"/> (and its options).</summary>
    public AlertOutbox(IMonitorStateStore store, AlertDispatcher dispatcher)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(dispatcher);
        _store = store;
        _dispatcher = dispatcher;
    }

    /// <summary>The stable id of an alert: its project, endpoint, monitor, rule and window (hex, 32 characters).</summary>
    public static string AlertId(string project, AlertEvent alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var text = string.Join('\n', project, alert.Endpoint, alert.Monitor, alert.Rule, alert.WindowStart.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
    }

    /// <summary>The outbox entries of a fired alert: one per action of its rule, carrying the alert (with its id) as JSON.</summary>
    public static IReadOnlyList<OutboxAlert> Entries(string project, MonitorSpec spec, AlertEvent alert)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(alert);
        var id = AlertId(project, alert);
        var json = JsonSerializer.Serialize(alert with { Id = id }, AlertJson.Default.AlertEvent);
        var rule = spec.Alerts.Single(r => r.Name == alert.Rule);
        return [.. rule.Actions.Select((action, i) => new OutboxAlert($"{id}/{i}", id, project, KindName(action.Kind), action.Target, json))];
    }

    /// <inheritdoc />
    public void Dispose() => _wake.Dispose();

    /// <summary>Asks the delivery loop to look at the outbox now (after a commit that added entries).</summary>
    public void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (Exception e) when (e is SemaphoreFullException or ObjectDisposedException)
        {
            // Already woken, or stopped.
        }
    }

    /// <summary>Delivers every due entry (claimed in batches); returns how many were delivered.</summary>
    public async Task<int> DeliverDueAsync(CancellationToken cancellationToken = default)
    {
        var options = _dispatcher.Options;
        var delivered = 0;
        while (true)
        {
            var claimed = await _store.ClaimAlertsAsync(options.OutboxLease, ClaimBatch, cancellationToken).ConfigureAwait(false);
            foreach (var entry in claimed)
            {
                var error = await DeliverAsync(entry, cancellationToken).ConfigureAwait(false);
                var retry = Backoff(options, entry.Attempts);

                // NOTE: not cancellable: once the action happened, recording that is what prevents a second delivery.
                await _store.CompleteAlertAsync(entry.Id, error is null, retry, error, CancellationToken.None).ConfigureAwait(false);
                delivered += error is null ? 1 : 0;
            }

            if (claimed.Count < ClaimBatch)
            {
                await PruneAsync(cancellationToken).ConfigureAwait(false);
                return delivered;
            }
        }
    }

    /// <summary>Deletes entries delivered longer ago than the retention, at most once an hour (and at the first delivery pass).</summary>
    private async Task PruneAsync(CancellationToken cancellationToken)
    {
        var now = Environment.TickCount64;
        if (_prunedAt != long.MinValue && now - _prunedAt < (long)PruneEvery.TotalMilliseconds)
        {
            return;
        }

        await _store.PruneDeliveredAlertsAsync(_dispatcher.Options.OutboxRetention, cancellationToken).ConfigureAwait(false);
        _prunedAt = now;
    }

    /// <summary>Delivers due entries until cancelled: at once (what a crash left pending), then when woken or every poll interval.</summary>
    public async Task RunAsync(Action<Exception>? onError, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await DeliverDueAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // NOTE: a store hiccup must not end delivery; the entries stay in the outbox and are tried again.
            catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
            {
                onError?.Invoke(e);
            }

            try
            {
                await _wake.WaitAsync(_dispatcher.Options.OutboxPoll, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The pause before attempt <paramref name="attempts"/> + 1: the retry delay doubled per attempt, capped.</summary>
    internal static TimeSpan Backoff(AlertOptions options, int attempts)
    {
        var factor = Math.Pow(2, Math.Clamp(attempts - 1, 0, 30));
        var delay = TimeSpan.FromTicks((long)Math.Min(options.OutboxRetryDelay.Ticks * factor, options.OutboxMaxRetryDelay.Ticks));
        return delay;
    }

    private async Task<string?> DeliverAsync(OutboxAlert entry, CancellationToken cancellationToken)
    {
        AlertEvent? alert;
        try
        {
            alert = JsonSerializer.Deserialize(entry.Event, AlertJson.Default.AlertEvent);
        }
        catch (JsonException e)
        {
            return $"the stored alert is not readable: {e.Message}";
        }

        if (alert is null)
        {
            return "the stored alert is empty";
        }

        var action = entry.Kind switch
        {
            "webhook" => new AlertAction(AlertActionKind.Webhook, entry.Target),
            "log" => new AlertAction(AlertActionKind.Log),
            "pipeline" => new AlertAction(AlertActionKind.TriggerPipeline, entry.Target),
            _ => null,
        };
        return action is null
            ? $"unknown action kind '{entry.Kind}'"
            : await _dispatcher.DeliverNowAsync(entry.Project, alert with { Id = entry.AlertId }, action, cancellationToken).ConfigureAwait(false);
    }

    private static string KindName(AlertActionKind kind) => kind switch
    {
        AlertActionKind.Webhook => "webhook",
        AlertActionKind.Log => "log",
        _ => "pipeline",
    };
}
