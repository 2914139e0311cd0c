using System.Net.Http.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Strata.Stores;

namespace Strata.Monitoring;

/// <summary>
/// Starts a pipeline run when an alert says so (e.g. retraining on fresh data). The pipelines stratum implements it; the
/// run's model version becomes <c>challenger</c> and its promotion to <c>champion</c> waits for approval.
/// </summary>
public interface IPipelineTrigger
{
    /// <summary>Starts <paramref name="pipeline"/> for <paramref name="alert"/>; returns the run's id.</summary>
    Task<string> TriggerAsync(string pipeline, AlertEvent alert, CancellationToken cancellationToken = default);
}

/// <summary>An alert that fired.</summary>
/// <param name="Rule">The rule's name.</param>
/// <param name="Monitor">The monitor.</param>
/// <param name="Endpoint">The endpoint.</param>
/// <param name="Model">The model.</param>
/// <param name="Check">The check read.</param>
/// <param name="WindowStart">Start of the window that completed the run (UTC microseconds).</param>
/// <param name="WindowEnd">Its end.</param>
/// <param name="Score">The window's score.</param>
/// <param name="Message">A sentence for people.</param>
public sealed record AlertEvent(
    string Rule, string Monitor, string Endpoint, string Model, string Check, long WindowStart, long WindowEnd, double? Score, string Message)
{
    /// <summary>
    /// The alert's id when it went through the outbox: the same for every delivery of it (delivery is at least once, so a
    /// receiver can drop repeats by it, and a pipeline action starts one run per id).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Id { get; init; }
}

/// <summary>How alert actions are delivered.</summary>
public sealed record AlertOptions
{
    /// <summary>Timeout of one webhook attempt (default 5 s).</summary>
    public TimeSpan WebhookTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Attempts per webhook (default 3), with a doubling pause from <see cref="RetryDelay"/>.</summary>
    public int WebhookAttempts { get; init; } = 3;

    /// <summary>First pause between attempts (default 200 ms).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Alerts waiting for delivery at most; beyond it the oldest is dropped and counted (default 1,000).</summary>
    public int QueueCapacity { get; init; } = 1000;

    /// <summary>First pause before an outbox action that failed is tried again (default 5 s), doubling per attempt.</summary>
    public TimeSpan OutboxRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest pause between outbox attempts (default 10 min); an action is retried until it is delivered.</summary>
    public TimeSpan OutboxMaxRetryDelay { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the outbox looks for due actions when nobody wakes it (default 5 s).</summary>
    public TimeSpan OutboxPoll { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a claimed action is not handed out again (default 2 min: longer than one delivery's attempts).</summary>
    public TimeSpan OutboxLease { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long delivered actions stay in the outbox, to be listed, before they are deleted (default 30 days).</summary>
    public TimeSpan OutboxRetention { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>
/// Decides which rules fire on a monitor's results, and delivers their actions on a background queue: a slow or dead
/// webhook never holds up monitoring (bounded queue, bounded timeout, bounded retries), and failures are counted.
/// </summary>
public sealed class AlertDispatcher : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly IAuditLog? _audit;
    private readonly IPipelineTrigger? _pipelines;
    private readonly AlertOptions _options;
    private readonly Channel<(string Project, AlertEvent Alert, AlertAction Action)> _queue;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _runs = new();
    private readonly Task _worker;
    private readonly CancellationTokenSource _stop = new();
    private long _pending;
    private long _delivered;
    private long _failed;
    private long _dropped;

    /// <summary>Creates a dispatcher; <paramref name="audit"/> receives log actions, <paramref name="pipelines"/> pipeline triggers.</summary>
    public AlertDispatcher(HttpClient http, IAuditLog? audit, IPipelineTrigger? pipelines, AlertOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http;
        _audit = audit;
        _pipelines = pipelines;
        _options = options ?? new AlertOptions();
        _queue = Channel.CreateBounded<(string, AlertEvent, AlertAction)>(
            new BoundedChannelOptions(_options.QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => { Interlocked.Increment(ref _dropped); Interlocked.Decrement(ref _pending); });
        _worker = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Actions delivered.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Actions that failed after every attempt.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Actions dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Pipeline runs started, by alert (the run ids).</summary>
    public IReadOnlyList<string> PipelineRuns => [.. _runs];

    /// <summary>How deliveries are made.</summary>
    public AlertOptions Options => _options;

    /// <summary>
    /// The alerts that fire on the newest window of each check in <paramref name="results"/> (one monitor's results in
    /// window order): a rule fires when the run of consecutive windows meeting its condition reaches N.
    /// </summary>
    public static IReadOnlyList<AlertEvent> Evaluate(MonitorSpec spec, IReadOnlyList<MonitorResult> results)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(results);
        var fired = new List<AlertEvent>();
        foreach (var rule in spec.Alerts)
        {
            var series = results.Where(r => r.Monitor == spec.Name && r.Check == rule.Check)
                .GroupBy(r => r.WindowStart).Select(g => g.OrderBy(r => r.ModelVersion).Last()).OrderBy(r => r.WindowStart).ToList();
            if (series.Count < rule.ConsecutiveWindows)
            {
                continue;
            }

            // The streak of contiguous windows meeting the condition that ends at the newest one; the rule fires when it
            // reaches N, and not again until the condition breaks (one retraining per episode, not one per window).
            var streak = 0;
            for (var i = series.Count - 1; i >= 0 && Meets(rule, series[i]) && (i == series.Count - 1 || series[i].WindowEnd == series[i + 1].WindowStart); i--)
            {
                streak++;
            }

            if (streak != rule.ConsecutiveWindows)
            {
                continue;
            }

            var last = series[^1];
            var condition = rule.Comparison switch
            {
                AlertComparison.Drifted => rule.Check == MonitorChecks.Skew ? "skew" : "drift",
                AlertComparison.Below => $"{rule.Check} below {rule.Threshold}",
                _ => $"{rule.Check} above {rule.Threshold}",
            };
            fired.Add(new AlertEvent(
                rule.Name, spec.Name, spec.Endpoint, spec.Model, rule.Check, last.WindowStart, last.WindowEnd, last.Score,
                $"{spec.Endpoint}: {condition} in {rule.ConsecutiveWindows} consecutive window(s) of {spec.Window} (score {last.Score?.ToString("G4", System.Globalization.CultureInfo.InvariantCulture) ?? "n/a"})"));
        }

        return fired;
    }

    /// <summary>
    /// The alerts that <paramref name="results"/> (new results of one monitor) fire, given the monitor's stored
    /// <paramref name="history"/> around them: for each window of the new results, the rules over a check that has a new
    /// result there, evaluated on the history up to that window with the new results in place of stored ones.
    /// </summary>
    public static IReadOnlyList<AlertEvent> Fired(MonitorSpec spec, IReadOnlyList<MonitorResult> history, IReadOnlyList<MonitorResult> results)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(results);
        var merged = history.ToDictionary(r => (r.WindowStart, r.Check, r.ModelVersion));
        foreach (var r in results)
        {
            merged[(r.WindowStart, r.Check, r.ModelVersion)] = r;
        }

        var all = merged.Values.Where(r => r.Monitor == spec.Name).OrderBy(r => r.WindowStart).ToList();
        var fired = new List<AlertEvent>();
        foreach (var window in results.GroupBy(r => r.WindowStart).OrderBy(g => g.Key))
        {
            var checks = window.Select(r => r.Check).ToHashSet(StringComparer.Ordinal);
            var only = spec with { Alerts = [.. spec.Alerts.Where(a => checks.Contains(a.Check))] };
            fired.AddRange(Evaluate(only, [.. all.Where(r => r.WindowStart <= window.Key)]).Where(a => a.WindowStart == window.Key));
        }

        return fired;
    }

    /// <summary>Queues the actions of a fired rule; returns at once.</summary>
    public void Enqueue(string project, MonitorSpec spec, AlertEvent alert)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(alert);
        var rule = spec.Alerts.Single(r => r.Name == alert.Rule);
        foreach (var action in rule.Actions)
        {
            Interlocked.Increment(ref _pending);
            if (!_queue.Writer.TryWrite((project, alert, action)))
            {
                Interlocked.Decrement(ref _pending);
                Interlocked.Increment(ref _dropped);
            }
        }
    }

    /// <summary>Waits until every queued action was delivered or failed (for the command line and tests).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        while (Interlocked.Read(ref _pending) > 0)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        try
        {
            await _worker.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private static bool Meets(AlertRule rule, MonitorResult r) => rule.Comparison switch
    {
        AlertComparison.Drifted => r.Status is "drift" or "skewed",
        AlertComparison.Below => r.Score is { } s && s < rule.Threshold,
        _ => r.Score is { } s && s > rule.Threshold,
    };

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        await foreach (var (project, alert, action) in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await DeliverNowAsync(project, alert, action, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    /// <summary>Delivers one action now (with the webhook's bounded attempts) and counts it; returns null when delivered, else why not.</summary>
    internal async Task<string?> DeliverNowAsync(string project, AlertEvent alert, AlertAction action, CancellationToken cancellationToken)
    {
        try
        {
            var ok = await DeliverAsync(project, alert, action, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref ok ? ref _delivered : ref _failed);
            return ok ? null : action.Kind switch
            {
                AlertActionKind.Webhook => $"webhook {action.Target} did not answer 2xx in {_options.WebhookAttempts} attempt(s)",
                AlertActionKind.Log => "no audit log to write to",
                _ => "no pipeline trigger",
            };
        }
#pragma warning disable CA1031 // NOTE: an action that throws must not stop delivery; it is counted as failed.
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _failed);
            return e.Message;
        }
    }

    private async Task<bool> DeliverAsync(string project, AlertEvent alert, AlertAction action, CancellationToken cancellationToken)
    {
        switch (action.Kind)
        {
            case AlertActionKind.Webhook:
                var delay = _options.RetryDelay;
                for (var attempt = 1; attempt <= _options.WebhookAttempts; attempt++)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(_options.WebhookTimeout);
                    try
                    {
                        using var response = await _http.PostAsJsonAsync(action.Target, alert, AlertJson.Default.AlertEvent, timeout.Token).ConfigureAwait(false);
                        if (response.IsSuccessStatusCode)
                        {
                            return true;
                        }
                    }
                    catch (HttpRequestException)
                    {
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                    }

                    if (attempt < _options.WebhookAttempts)
                    {
                        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                        delay *= 2;
                    }
                }

                return false;
            case AlertActionKind.Log:
                if (_audit is null)
                {
                    return false;
                }

                await _audit.RecordAsync(project, "monitor.alert", $"{alert.Endpoint}/{alert.Monitor}", $"rule={alert.Rule} {alert.Message}", new Actor("monitor"), cancellationToken).ConfigureAwait(false);
                return true;
            default:
                if (_pipelines is null)
                {
                    return false;
                }

                _runs.Enqueue(await _pipelines.TriggerAsync(action.Target!, alert, cancellationToken).ConfigureAwait(false));
                return true;
        }
    }
}

/// <summary>JSON of alert webhooks.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(AlertEvent))]
internal sealed partial class AlertJson : JsonSerializerContext;
