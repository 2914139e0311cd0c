using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Hosting;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The server evaluates quality from feedback labels by itself: a window's quality once its end plus the label delay has
/// passed, labels after that counted as late, alert rules on quality metrics firing from the server, across restarts.
/// </summary>
public sealed class LiveQualityTests
{
    internal const string Endpoint = "flights-quality";

    /// <summary>Midnight of a day, so hourly windows start at whole hours of the manual clock.</summary>
    internal static readonly DateTimeOffset T0 = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    internal static readonly string[] Slow = ["--Strata:Monitoring:Enabled", "false", "--Strata:Monitoring:Grace", "00:00:00"];

    [Fact]
    public async Task Quality_is_evaluated_after_the_label_delay_fires_its_alert_and_counts_later_labels_as_late()
    {
        using var home = new TempFolder("strata-live-quality");
        using var hook = new LoopbackWebhook();
        await File.WriteAllTextAsync(Path.Combine(home.Path, "strata.yaml"), MonitorYaml("quality", hook.Url, "log"));
        var clock = new ManualClock(T0, TimeSpan.Zero);
        await using var server = await ServingServer.StartWithClockAsync(clock, null, home.Path, seed: true, Slow);
        await server.DeployAsync(Endpoint, new { project = "flights", model = "delay/1" });
        var monitors = server.Services.GetRequiredService<MonitoringService>();

        clock.Advance(TimeSpan.FromMinutes(10));
        var a = await PredictAsync(server, 60, first: 0); // window A: [T0, T0+1h)
        clock.Advance(TimeSpan.FromMinutes(60));
        var b = await PredictAsync(server, 5, first: 100); // window B: [T0+1h, T0+2h)
        clock.Advance(TimeSpan.FromMinutes(10));
        await SendLabelsAsync(server, [.. a.Take(50), .. b]);
        await monitors.TickAsync(TimeSpan.Zero, CancellationToken.None); // T0+80m: A closed, its labels may still come
        var beforeDelay = await QualityAsync(server);
        clock.Advance(TimeSpan.FromMinutes(70));
        await SendLabelsAsync(server, a[50..55]); // within the delay
        clock.Advance(TimeSpan.FromMinutes(31));
        await monitors.TickAsync(TimeSpan.Zero, CancellationToken.None); // T0+3h+1m: A's delay is over, B's is not
        var alert = JsonDocument.Parse(await hook.Received.Task.WaitAsync(TimeSpan.FromSeconds(30))).RootElement;
        var afterDelay = await QualityAsync(server);
        await SendLabelsAsync(server, a[55..]); // late: A was evaluated
        clock.Advance(TimeSpan.FromHours(1));
        await monitors.TickAsync(TimeSpan.Zero, CancellationToken.None); // T0+4h+1m: B is due
        await monitors.TickAsync(TimeSpan.Zero, CancellationToken.None);
        await WaitForDeliveriesAsync(server);

        Assert.Empty(beforeDelay);
        var auc = Assert.Single(afterDelay, r => r.Check == "quality.auc");
        Assert.Equal(("ok", 55L, T0.ToUnixTimeMilliseconds() * 1000), (auc.Status, auc.Rows, auc.WindowStart));
        Assert.True(auc.Score < 0.7, $"auc {auc.Score}");
        Assert.Equal(["quality.adwin", "quality.page_hinkley"], afterDelay.Where(r => r.Check is "quality.adwin" or "quality.page_hinkley").Select(r => r.Check));
        Assert.Equal(("low-auc", "quality.auc", Endpoint), (alert.GetProperty("rule").GetString(), alert.GetProperty("check").GetString(), alert.GetProperty("endpoint").GetString()));
        Assert.Equal(32, alert.GetProperty("id").GetString()!.Length);
        var final = await QualityAsync(server);
        Assert.Equal(55L, Assert.Single(final, r => r.Check == "quality.auc" && r.WindowStart == auc.WindowStart).Rows);
        var windowB = final.Where(r => r.WindowStart == auc.WindowEnd).ToList();
        Assert.NotEmpty(windowB);
        Assert.All(windowB, r => Assert.Equal(("insufficient_data", (double?)null, 5L), (r.Status, r.Score, r.Rows)));
        var state = await server.State.Home.Metadata.MonitorState.GetFeedStateAsync("flights", Endpoint, "quality");
        Assert.Equal(5, state!.LateLabels);
        Assert.Single(hook.Bodies);
        var audit = await server.State.Home.Metadata.Audit.ReadAsync(0, 100_000);
        Assert.Single(audit, e => e.Action == "monitor.alert" && e.Details!.Contains("low-auc", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_restart_neither_loses_nor_double_counts_a_quality_window_a_late_label_or_an_alert()
    {
        using var home = new TempFolder("strata-live-quality-restart");
        using var hook = new LoopbackWebhook();
        await File.WriteAllTextAsync(Path.Combine(home.Path, "strata.yaml"), MonitorYaml("quality", hook.Url, "log"));
        var clock = new ManualClock(T0, TimeSpan.Zero);
        Dictionary<string, string> keys;
        await using (var server = await ServingServer.StartWithClockAsync(clock, null, home.Path, seed: true, Slow))
        {
            keys = new Dictionary<string, string>(server.Keys);
            await server.DeployAsync(Endpoint, new { project = "flights", model = "delay/1" });
            clock.Advance(TimeSpan.FromMinutes(10));
            var a = await PredictAsync(server, 30, first: 0);
            clock.Advance(TimeSpan.FromMinutes(60));
            var b = await PredictAsync(server, 30, first: 200);
            clock.Advance(TimeSpan.FromMinutes(10));
            await SendLabelsAsync(server, a[..26]);
            await SendLabelsAsync(server, b);
            clock.Advance(TimeSpan.FromMinutes(111)); // T0+3h+1m
            await server.Services.GetRequiredService<MonitoringService>().TickAsync(TimeSpan.Zero, CancellationToken.None);
            await WaitForDeliveriesAsync(server);
            await SendLabelsAsync(server, a[26..]); // late, and the server stops before it ticks again (and before B is due)
        }

        await using var again = await ServingServer.StartWithClockAsync(clock, null, home.Path, seed: false, Slow);
        foreach (var (name, token) in keys)
        {
            again.Keys[name] = token;
        }

        clock.Advance(TimeSpan.FromHours(1)); // T0+4h+1m
        var monitors = again.Services.GetRequiredService<MonitoringService>();
        await monitors.TickAsync(TimeSpan.Zero, CancellationToken.None);
        await monitors.TickAsync(TimeSpan.Zero, CancellationToken.None);
        await WaitForDeliveriesAsync(again);

        var auc = (await QualityAsync(again)).Where(r => r.Check == "quality.auc").ToList();
        Assert.Equal([26L, 30L], auc.Select(r => r.Rows));
        Assert.Equal(auc[0].WindowEnd, auc[1].WindowStart);
        var state = await again.State.Home.Metadata.MonitorState.GetFeedStateAsync("flights", Endpoint, "quality");
        Assert.Equal(4, state!.LateLabels);
        // A fired before the restart (delivered once); B continues the same low-AUC run, which fires once, not per window.
        var body = JsonDocument.Parse(Assert.Single(hook.Bodies)).RootElement;
        Assert.Equal(auc[0].WindowStart, body.GetProperty("window_start").GetInt64());
    }

    /// <summary>A quality monitor of <see cref="Endpoint"/>: hourly windows, labels given 2 hours, an alert when AUC drops below 0.7.</summary>
    internal static string MonitorYaml(string name, string webhook, string extraActions) => $$"""
        monitors:
          - name: {{name}}
            endpoint: {{Endpoint}}
            model: delay
            window: 1h
            label_delay: 2h
            min_samples: 20
            checks: [quality]
            alerts:
              - { name: low-auc, check: quality.auc, below: 0.7, actions: [{ webhook: "{{webhook}}" }, {{extraActions}}] }
        """;

    /// <summary>Predicts <paramref name="count"/> rows of the flights sample one request each; returns request id and score.</summary>
    internal static async Task<(string Id, double Score)[]> PredictAsync(ServingServer server, int count, int first)
    {
        var (header, rows) = ServingServer.Sample(first + count);
        var names = header[..11];
        using var http = server.Http("viewer");
        var result = new List<(string, double)>();
        for (var i = first; i < first + count; i++)
        {
            using var response = await http.PostAsync(
                $"/v1/endpoints/{Endpoint}/predict", new StringContent("{\"rows\":[" + ServingServer.RowJson(names, rows[i][..11]) + "]}", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var json = await ServingServer.JsonAsync(response);
            result.Add((json.GetProperty("requestId").GetString()!, json.GetProperty("probabilities")[0].GetProperty("1").GetDouble()));
        }

        return [.. result];
    }

    /// <summary>
    /// Sends labels that contradict the scores (the higher half labelled 0, the lower 1), so the window's AUC is far below
    /// 0.7 and both classes are present.
    /// </summary>
    internal static async Task SendLabelsAsync(ServingServer server, IReadOnlyList<(string Id, double Score)> predictions)
    {
        var median = predictions.Select(p => p.Score).Order().ElementAt(predictions.Count / 2);
        using var http = server.Http("root");
        var body = new { labels = predictions.Select(p => new { request_id = p.Id, label = p.Score >= median ? 0 : 1 }).ToArray() };
        using var response = await http.PostAsJsonAsync($"/v1/endpoints/{Endpoint}/feedback", body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    internal static async Task<IReadOnlyList<MonitorResult>> QualityAsync(ServingServer server) =>
        [.. (await server.State.Home.Metadata.Monitoring.ListResultsAsync("flights", new MonitorResultQuery(Endpoint))).Where(r => r.Check.StartsWith("quality.", StringComparison.Ordinal))];

    /// <summary>Waits until every alert action in the outbox is delivered (at most 60 s).</summary>
    internal static async Task WaitForDeliveriesAsync(ServingServer server)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var alerts = await server.State.Home.Metadata.MonitorState.ListAlertsAsync("flights");
            if (alerts.All(a => a.DeliveredAt is not null))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("alerts still pending: " + string.Join("; ", alerts.Where(a => a.DeliveredAt is null).Select(a => $"{a.Id} {a.Kind} attempts={a.Attempts} {a.LastError}")));
            }

            await Task.Delay(100);
        }
    }
}
