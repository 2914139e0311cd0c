using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Strata.Monitoring;
using Strata.Monitoring.Drift;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Monitoring;

public sealed class MonitorRunnerTests() : SqliteStoreTests("monitor-runner")
{
    private const long Hour = 3_600_000_000L;
    [Fact]
    public async Task Drift_in_two_consecutive_windows_fires_the_webhook_the_log_entry_and_the_retraining_trigger()
    {
        using var hook = new LoopbackWebhook();
        var trigger = new RecordingTrigger();
        using var http = new HttpClient();
        await using var alerts = new AlertDispatcher(http, Store.Audit, trigger);
        var spec = Spec(new AlertRule
        {
            Name = "sustained-drift",
            Check = MonitorChecks.DataDrift,
            ConsecutiveWindows = 2,
            Actions = [new(AlertActionKind.Webhook, hook.Url), new(AlertActionKind.Log), new(AlertActionKind.TriggerPipeline, "retrain-delays")],
        });
        var runner = new MonitorRunner("flights", spec, Reference(), Store.Monitoring, alerts);

        runner.Add(Served(seed: 2, start: 0, rows: 600, shift: 0));
        runner.Add(Served(seed: 3, start: Hour, rows: 600, shift: 1));
        runner.Add(Served(seed: 4, start: 2 * Hour, rows: 600, shift: 1));
        runner.Add(Served(seed: 5, start: 3 * Hour, rows: 10, shift: 1));
        var results = await runner.EvaluateAsync(4 * Hour, Actor.Local);
        await alerts.FlushAsync();

        var drift = results.Where(r => r.Check == MonitorChecks.DataDrift).ToList();
        Assert.Equal(["no_drift", "drift", "drift", "insufficient_data"], drift.Select(r => r.Status));
        Assert.Null(drift[3].Score);
        Assert.All(results.Where(r => r.Check == MonitorChecks.PredictionDrift).Take(3), r => Assert.Equal("no_drift", r.Status));
        var posted = Assert.Single(hook.Bodies);
        Assert.Contains("\"rule\":\"sustained-drift\"", posted, StringComparison.Ordinal);
        Assert.Contains($"\"window_start\":{2 * Hour}", posted, StringComparison.Ordinal);
        Assert.Equal(["retrain-delays"], trigger.Pipelines);
        Assert.Contains(await Store.Audit.ReadAsync(0, 100), e => e.Action == "monitor.alert" && e.Details!.Contains("sustained-drift", StringComparison.Ordinal));
        Assert.Equal(3, alerts.Delivered);
        var stored = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights", Check: MonitorChecks.DataDrift));
        Assert.Equal(drift.Select(r => (r.WindowStart, r.Status)), stored.Select(r => (r.WindowStart, r.Status)));
    }

    [Fact]
    public async Task A_webhook_that_never_answers_does_not_hold_up_monitoring_and_is_counted_as_failed()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/hook";
        using var http = new HttpClient();
        await using var alerts = new AlertDispatcher(http, null, null, new AlertOptions { WebhookTimeout = TimeSpan.FromMilliseconds(200), WebhookAttempts = 2, RetryDelay = TimeSpan.FromMilliseconds(10) });
        var runner = new MonitorRunner("flights", Spec(new AlertRule { Name = "any-drift", Check = MonitorChecks.DataDrift, Actions = [new(AlertActionKind.Webhook, url)] }), Reference(), Store.Monitoring, alerts);

        runner.Add(Served(seed: 3, start: 0, rows: 600, shift: 1));
        var results = await runner.EvaluateAsync(Hour, Actor.Local);
        var stored = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights"));
        await alerts.FlushAsync();

        Assert.Contains(results, r => r.Status == "drift");
        Assert.Equal(results.Count, stored.Count);
        Assert.Equal(1, alerts.Failed);
        Assert.Equal(0, alerts.Delivered);
    }

    [Fact]
    public async Task Window_profiles_merge_into_longer_spans_and_an_empty_evaluation_stores_nothing()
    {
        var runner = new MonitorRunner("flights", Spec(), Reference(), Store.Monitoring);

        runner.Add(Served(seed: 2, start: 0, rows: 300, shift: 0));
        runner.Add(Served(seed: 3, start: Hour, rows: 200, shift: 0));
        var day = runner.Profile(0, 24 * Hour);
        var nothing = await runner.EvaluateAsync(0, Actor.Local);

        Assert.Equal(500, day.RowCount);
        Assert.Empty(nothing);
        Assert.Empty(await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights")));
    }

    [Fact]
    public void A_monitor_on_an_unknown_feature_or_records_without_a_timestamp_are_clear_errors()
    {
        var unknown = Assert.Throws<StrataException>(() => new MonitorRunner("flights", Spec() with { Features = ["x", "altitude"] }, Reference(), Store.Monitoring));
        var runner = new MonitorRunner("flights", Spec(), Reference(), Store.Monitoring);
        var noTime = Assert.Throws<StrataException>(() => runner.Add(Table.From(("x", Columns.Float64(1.0)))));

        Assert.Equal(ErrorCodes.NotFound, unknown.Code);
        Assert.Contains("altitude", unknown.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.NotFound, noTime.Code);
        Assert.Contains("timestamp", noTime.Message, StringComparison.Ordinal);
    }

    internal static MonitorSpec Spec(params AlertRule[] alerts) => new()
    {
        Name = "delays-drift",
        Endpoint = "flights",
        Model = "delays",
        Features = ["x", "color"],
        Drift = new DriftOptions { MinimumSampleSize = 100 },
        Alerts = alerts,
    };

    internal static DriftProfile Reference()
    {
        var table = Rows(seed: 1, rows: 5000, shift: 0, start: null);
        var layout = DriftLayout.FromProfile(Strata.Data.Profiling.Profiler.Profile(table));
        return DriftProfileBuilder.Profile(layout, table);
    }

    internal static Table Served(int seed, long start, int rows, double shift) => Rows(seed, rows, shift, start);

    private static Table Rows(int seed, int rows, double shift, long? start)
    {
        var random = new Random(seed);
        var x = new double?[rows];
        var color = new string?[rows];
        var prediction = new double?[rows];
        var time = new long?[rows];
        for (var i = 0; i < rows; i++)
        {
            x[i] = (Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())) + shift;
            color[i] = random.NextDouble() switch { var u when u < 0.5 - (0.3 * shift) => "red", < 0.8 => "green", _ => "blue" };
            prediction[i] = random.NextDouble();
            time[i] = (start ?? 0) + (long)(random.NextDouble() * (Hour - 1));
        }

        var columns = new List<(string, Column)> { ("x", Columns.Float64(x)), ("color", Columns.String(color)), ("prediction", Columns.Float64(prediction)) };
        if (start is not null)
        {
            columns.Add(("timestamp", Columns.Timestamp(time)));
            columns.Add(("model_version", Columns.Int32([.. Enumerable.Repeat((int?)3, rows)])));
            columns.Add(("endpoint", Columns.String([.. Enumerable.Repeat("flights", rows)])));
        }

        return Table.From([.. columns]);
    }

    private sealed class RecordingTrigger : IPipelineTrigger
    {
        public ConcurrentQueue<string> Pipelines { get; } = new();

        public Task<string> TriggerAsync(string pipeline, AlertEvent alert, CancellationToken cancellationToken = default)
        {
            Pipelines.Enqueue(pipeline);
            return Task.FromResult($"run-{Pipelines.Count}");
        }
    }
}
