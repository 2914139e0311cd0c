using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Strata.Monitoring;
using Strata.Monitoring.Drift;
using Strata.Security;
using Strata.Server.Hosting;
using Strata.Server.Pipelines;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>The server runs declared monitors by itself: drifted traffic → stored results, webhook, retraining run, challenger.</summary>
public sealed class MonitoringServiceTests
{
    private const string Endpoint = "flights-live";

    /// <summary>The flights model's inputs that the monitor watches; the drifted stream shifts the delays and distances.</summary>
    private static readonly string[] Watched = ["distance", "origin_prev_mean_delay", "origin_prev_max_delay", "dep_hour"];

    [Fact]
    public async Task Drifted_traffic_fires_the_webhook_stores_results_and_retrains_a_challenger_awaiting_approval_with_no_manual_check()
    {
        using var home = new TempFolder("strata-live-monitor");
        using var hook = new LoopbackWebhook();
        var pipelines = Path.Combine(home.Path, "pipelines");
        Directory.CreateDirectory(pipelines);
        await File.WriteAllTextAsync(Path.Combine(pipelines, "retrain.yaml"), RetrainYaml);
        await File.WriteAllTextAsync(Path.Combine(pipelines, "data.csv"), TrainingCsv(1500));
        await File.WriteAllTextAsync(Path.Combine(home.Path, "strata.yaml"), $$"""
            monitors:
              - name: delays-drift
                endpoint: {{Endpoint}}
                model: delay
                window: 2s
                min_samples: 20
                features: [{{string.Join(", ", Watched)}}]
                checks: [data_drift, prediction_drift]
                alerts:
                  - { name: drift-retrain, check: data_drift, windows: 2, actions: [{ webhook: "{{hook.Url}}" }, log, { pipeline: retrain }] }
            """);
        await using var server = await ServingServer.StartAsync(home: home.Path, extra:
            ["--Strata:Pipelines:Folder", pipelines, "--Strata:Monitoring:Interval", "00:00:00.200", "--Strata:Monitoring:Grace", "00:00:00.500"]);
        await ReferenceProfiles.SaveAsync(server.Registry, Caller.Local, "flights", "delay", 1, Reference());
        await server.DeployAsync(Endpoint, new { project = "flights", model = "delay/1" });

        // Act: only traffic. Nobody runs a check; the server's monitoring service must notice.
        await SendDriftedStreamAsync(server, TimeSpan.FromSeconds(5));
        var alert = JsonDocument.Parse(await hook.Received.Task.WaitAsync(TimeSpan.FromSeconds(60))).RootElement;

        Assert.Equal("drift-retrain", alert.GetProperty("rule").GetString());
        Assert.Equal(Endpoint, alert.GetProperty("endpoint").GetString());
        var results = await server.State.Home.Metadata.Monitoring.ListResultsAsync("flights", new MonitorResultQuery(Endpoint, Monitor: "delays-drift"));
        Assert.True(results.Count(r => r.Check == MonitorChecks.DataDrift && r.Status == "drift") >= 2, string.Join("; ", results.Select(r => $"{r.Check} {r.Status} {r.Rows}")));
        Assert.Contains(results, r => r.Check == MonitorChecks.PredictionDrift);
        var challenger = await WaitForAsync(async () =>
        {
            await Task.WhenAll(server.Services.GetRequiredService<PipelineRunner>().Running);
            var aliases = await server.State.Home.Metadata.Registry.ListAliasesAsync("flights", "delay");
            return aliases.FirstOrDefault(a => a.Alias == "challenger");
        }, async () =>
        {
            var runs = await server.State.Home.Metadata.Pipelines.ListRunsAsync("flights", "retrain", 10);
            var steps = runs.Count == 0 ? [] : await server.State.Home.Metadata.Pipelines.ListStepsAsync("flights", runs[0].Id);
            return string.Join("; ", runs.Select(r => $"{r.Id} {r.State} {r.Error}")) + " | " + string.Join("; ", steps.Select(x => $"{x.Step} {x.State} {x.Error}"));
        });
        Assert.True(challenger.Version > 2, $"challenger is version {challenger.Version}, not the retrained one");
        var promotions = await server.Registry.ListPromotionsAsync(Caller.Local, "flights", "delay", ApprovalStatus.Pending);
        var pending = Assert.Single(promotions);
        Assert.Equal("champion", pending.Alias);
        Assert.Equal(challenger.Version, pending.Version);
        var audit = await server.State.Home.Metadata.Audit.ReadAsync(0, 100_000);
        Assert.Contains(audit, e => e.Action == "monitor.alert" && e.Details!.Contains("drift-retrain", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_restart_neither_loses_nor_double_counts_a_window()
    {
        using var home = new TempFolder("strata-live-monitor-restart");
        await File.WriteAllTextAsync(Path.Combine(home.Path, "strata.yaml"), $$"""
            monitors:
              - { name: restart-drift, endpoint: {{Endpoint}}, model: delay, window: 1s, min_samples: 1, features: [distance], checks: [data_drift] }
            """);
        string[] slow = ["--Strata:Monitoring:Interval", "00:10:00", "--Strata:Monitoring:Grace", "00:00:00"];
        var sent = new List<string>();
        await using (var server = await ServingServer.StartAsync(home: home.Path, extra: slow))
        {
            await ReferenceProfiles.SaveAsync(server.Registry, Caller.Local, "flights", "delay", 1, Reference());
            await server.DeployAsync(Endpoint, new { project = "flights", model = "delay/1" });
            sent.AddRange(await SendDriftedStreamAsync(server, TimeSpan.FromSeconds(2)));
            await server.Services.GetRequiredService<MonitoringService>().TickAsync(TimeSpan.Zero, CancellationToken.None);
            sent.AddRange(await SendDriftedStreamAsync(server, TimeSpan.FromSeconds(2))); // these windows are still open at the stop
        }

        await using var again = await ServingServer.StartAsync(home: home.Path, seed: false, extra: slow);
        await Task.Delay(1100); // the last window closes
        await again.Services.GetRequiredService<MonitoringService>().TickAsync(TimeSpan.Zero, CancellationToken.None);
        await again.Services.GetRequiredService<MonitoringService>().TickAsync(TimeSpan.Zero, CancellationToken.None);

        var results = await again.State.Home.Metadata.Monitoring.ListResultsAsync("flights", new MonitorResultQuery(Endpoint, Monitor: "restart-drift"));
        Assert.Equal(sent.Count * 40L, results.Sum(r => r.Rows));
        Assert.Equal(results.Count, results.Select(r => r.WindowStart).Distinct().Count());
    }

    [Fact]
    public async Task A_monitor_that_fell_behind_the_retention_is_told_what_it_missed_in_the_log_the_metrics_and_its_results()
    {
        using var home = new TempFolder("strata-live-monitor-missed");
        await File.WriteAllTextAsync(Path.Combine(home.Path, "strata.yaml"), $$"""
            monitors:
              - { name: missed-drift, endpoint: {{Endpoint}}, model: delay, window: 1s, min_samples: 1, features: [distance], checks: [data_drift] }
            """);
        var logs = new ServerLoggingTests.CapturedLogs();
        await using var server = await ServingServer.StartWithAsync(
            b => b.Logging.AddProvider(logs), home.Path, true, "--Strata:Monitoring:Interval", "00:10:00", "--Strata:Monitoring:Grace", "00:00:00");
        await ReferenceProfiles.SaveAsync(server.Registry, Caller.Local, "flights", "delay", 1, Reference());
        await server.DeployAsync(Endpoint, new { project = "flights", model = "delay/1" });
        var monitors = server.Services.GetRequiredService<MonitoringService>();
        await SendDriftedStreamAsync(server, TimeSpan.FromSeconds(2));
        await Task.Delay(1100);
        await monitors.TickAsync(TimeSpan.Zero, CancellationToken.None);
        var before = await server.State.Home.Metadata.Monitoring.ListResultsAsync("flights", new MonitorResultQuery(Endpoint, Monitor: "missed-drift"));

        // The monitor falls behind: what is logged next is deleted by the retention (as a small cap would) before it reads it.
        await SendDriftedStreamAsync(server, TimeSpan.FromSeconds(2));
        await server.Serving.FlushPredictionLogAsync();
        var folder = server.Serving.PredictionLogFolder!;
        var deleted = new PredictionLogCleaner(folder, new PredictionLogRetention { MaxBytes = 1 }, new MetricRegistry(), TimeProvider.System, TimeSpan.FromMinutes(1), warn: null)
            .Enforce();
        await SendDriftedStreamAsync(server, TimeSpan.FromSeconds(2));
        await Task.Delay(1100);
        await monitors.TickAsync(TimeSpan.Zero, CancellationToken.None);

        Assert.True(deleted.Deleted > 0);
        Assert.NotEmpty(before);
        Assert.All(before, r => Assert.DoesNotContain(LiveMonitor.MissedKey, r.Details, StringComparison.Ordinal));
        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("deleted by its retention before the monitor read them", StringComparison.Ordinal));
        Assert.StartsWith($"Monitor flights/{Endpoint}/missed-drift: ", warning.Message, StringComparison.Ordinal);
        using var http = server.Http("viewer");
        var metrics = await http.GetStringAsync("/metrics");
        var counted = System.Text.RegularExpressions.Regex.Match(
            metrics, "^" + System.Text.RegularExpressions.Regex.Escape($"strata_monitor_prediction_log_missed_segments_total{{project=\"flights\",endpoint=\"{Endpoint}\",monitor=\"missed-drift\"}}") + " (\\d+)$",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(counted.Success, metrics);
        Assert.InRange(int.Parse(counted.Groups[1].Value, CultureInfo.InvariantCulture), 1, deleted.Deleted);
        var results = await ServingServer.JsonAsync(await http.GetAsync($"/api/v1/projects/flights/monitors/{Endpoint}/results?monitor=missed-drift"));
        var told = results.EnumerateArray()
            .Where(r => r.GetProperty("details").ValueKind == JsonValueKind.String && r.GetProperty("details").GetString()!.Contains(LiveMonitor.MissedKey, StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(told);
        using var details = JsonDocument.Parse(told[0].GetProperty("details").GetString()!);
        Assert.Matches("^[0-9]+ segments? \\([0-9,]+ bytes\\) of predictions (was|were) deleted by retention before this monitor read (it|them)$", details.RootElement.GetProperty(LiveMonitor.MissedKey).GetProperty("message").GetString());
    }

    /// <summary>The training spread of the watched inputs and the model's scores: the first 2,000 rows of the flights sample.</summary>
    internal static DriftProfile Reference()
    {
        var (header, rows) = ServingServer.Sample(2000);
        var columns = Watched.Select(name =>
        {
            var i = Array.IndexOf(header, name);
            return (name, (Column)Columns.Float64([.. rows.Select(r => double.IsNaN(r[i]) ? (double?)null : r[i])]));
        }).ToList();
        var score = Array.IndexOf(header, "xgb_pred");
        columns.Add(("prediction", Columns.Float64([.. rows.Select(r => (double?)r[score])])));
        var table = Table.From([.. columns]);
        return DriftProfileBuilder.Profile(DriftLayout.FromProfile(Strata.Data.Profiling.Profiler.Profile(table)), table);
    }

    /// <summary>Requests of 40 later rows, delays and distances shifted far beyond the training spread, for <paramref name="duration"/>.</summary>
    internal static async Task<List<string>> SendDriftedStreamAsync(ServingServer server, TimeSpan duration)
    {
        var (header, sample) = ServingServer.Sample(4000);
        var names = header[..11];
        var shift = new Dictionary<string, double> { ["distance"] = 1500, ["origin_prev_mean_delay"] = 90, ["origin_prev_max_delay"] = 400, ["dep_hour"] = 6 };
        using var http = server.Http("viewer");
        var ids = new List<string>();
        var stop = DateTime.UtcNow + duration;
        var next = 2000;
        while (DateTime.UtcNow < stop)
        {
            var rows = new List<string>();
            for (var r = 0; r < 40; r++, next = next + 1 < sample.Count ? next + 1 : 2000)
            {
                var row = (double[])sample[next][..11].Clone();
                for (var c = 0; c < names.Length; c++)
                {
                    row[c] += shift.GetValueOrDefault(names[c]);
                }

                rows.Add(ServingServer.RowJson(names, row));
            }

            using var response = await http.PostAsync($"/v1/endpoints/{Endpoint}/predict", new StringContent("{\"rows\":[" + string.Join(',', rows) + "]}", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            ids.Add((await ServingServer.JsonAsync(response)).GetProperty("requestId").GetString()!);
            await Task.Delay(50);
        }

        return ids;
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, Func<Task<string>> explain)
        where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            if (await probe() is { } found)
            {
                return found;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("timed out waiting: " + await explain());
            }

            await Task.Delay(200);
        }
    }

    /// <summary>The flights sample as training data for the retraining pipeline: the watched inputs, a time and the label.</summary>
    internal static string TrainingCsv(int count)
    {
        var (header, rows) = ServingServer.Sample(count);
        var sb = new StringBuilder("ts," + string.Join(',', Watched) + ",late\n");
        var start = new DateTime(2001, 6, 1, 0, 0, 0, DateTimeKind.Utc);
        var score = Array.IndexOf(header, "xgb_pred");
        for (var r = 0; r < rows.Count; r++)
        {
            sb.Append(start.AddMinutes(r).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            foreach (var name in Watched)
            {
                var v = rows[r][Array.IndexOf(header, name)];
                sb.Append(',').Append(double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture));
            }

            sb.Append(',').Append(rows[r][score] > 0.5 ? "true" : "false").Append('\n');
        }

        return sb.ToString();
    }

    internal const string RetrainYaml = """
        pipeline: retrain
        steps:
          - name: ingest
            type: ingest
            parameters: { path: data.csv }
          - name: split
            type: split
            inputs: { data: ingest.table }
            parameters: { method: time, column: ts, test: 0.2, valid: 0.2 }
          - name: train
            type: train
            inputs: { train: split.train, valid: split.valid }
            parameters:
              label: late
              features: [distance, origin_prev_mean_delay, origin_prev_max_delay, dep_hour]
              seed: 5
              settings: { num_boost_round: 20, max_depth: 3 }
          - name: evaluate
            type: evaluate
            inputs: { model: train.model, data: split.test }
            parameters: { label: late, model_name: delay }
          - name: bless
            type: bless
            inputs: { evaluation: evaluate.evaluation, model: train.model, data: split.test }
            parameters: { thresholds: ["accuracy >= 0.5"] }
          - name: register
            type: register
            inputs: { model: train.model, blessing: bless.blessing, evaluation: evaluate.evaluation }
            parameters: { model_name: delay }
          - name: promote
            type: promote
            inputs: { version: register.version }
        """;
}
