using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Monitoring;
using Strata.Server.Hosting;
using Strata.Server.Pipelines;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// Alerts survive a crash between storing the results that fire them and delivering them: they are in the metadata
/// store's outbox, and the next start delivers each exactly once, the pipeline action starting one run per alert.
/// </summary>
public abstract class AlertOutboxServerTests : IAsyncLifetime
{
    /// <summary>The PostgreSQL connection string of the metadata store, or null for SQLite in the home.</summary>
    protected string? Postgres { get; set; }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [BackendFact]
    public async Task Alerts_stored_with_their_results_are_delivered_once_after_a_crash_before_delivery()
    {
        using var home = new TempFolder("strata-alert-outbox");
        using var hook = new LoopbackWebhook();
        var pipelines = Path.Combine(home.Path, "pipelines");
        Directory.CreateDirectory(pipelines);
        await File.WriteAllTextAsync(Path.Combine(pipelines, "retrain.yaml"), MonitoringServiceTests.RetrainYaml);
        await File.WriteAllTextAsync(Path.Combine(pipelines, "data.csv"), MonitoringServiceTests.TrainingCsv(600));
        await File.WriteAllTextAsync(Path.Combine(home.Path, "strata.yaml"), LiveQualityTests.MonitorYaml("quality", hook.Url, "log, { pipeline: retrain }"));
        var clock = new ManualClock(LiveQualityTests.T0, TimeSpan.Zero);
        string[] settings = [.. LiveQualityTests.Slow, "--Strata:Pipelines:Folder", pipelines];
        Dictionary<string, string> keys;
        IReadOnlyList<Strata.Stores.OutboxAlert> pending;

        // Act 1: the results and their alert are committed, then the server goes away before delivering anything.
        await using (var crashed = await ServingServer.StartWithClockAsync(clock, Postgres, home.Path, seed: true, [.. settings, "--Strata:Monitoring:DeliverAlerts", "false"]))
        {
            keys = new Dictionary<string, string>(crashed.Keys);
            await crashed.DeployAsync(LiveQualityTests.Endpoint, new { project = "flights", model = "delay/1" });
            clock.Advance(TimeSpan.FromMinutes(10));
            await LiveQualityTests.SendLabelsAsync(crashed, await LiveQualityTests.PredictAsync(crashed, 40, first: 0));
            clock.Advance(TimeSpan.FromMinutes(171)); // T0+3h+1m: the first window's labels had their 2 hours
            await crashed.Services.GetRequiredService<MonitoringService>().TickAsync(TimeSpan.Zero, CancellationToken.None);
            pending = await crashed.State.Home.Metadata.MonitorState.ListAlertsAsync("flights");
            Assert.Empty(await crashed.State.Home.Metadata.Pipelines.ListRunsAsync("flights", "retrain", 10));
        }

        // Act 2: the next start delivers what was pending.
        await using var restarted = await ServingServer.StartWithClockAsync(clock, Postgres, home.Path, seed: false, settings);
        foreach (var (name, token) in keys)
        {
            restarted.Keys[name] = token;
        }

        await LiveQualityTests.WaitForDeliveriesAsync(restarted);
        var metadata = restarted.State.Home.Metadata;
        var runs = await metadata.Pipelines.ListRunsAsync("flights", "retrain", 10);
        var alert = JsonSerializer.Deserialize(pending[0].Event, AlertJson.Default.AlertEvent)!;
        var redelivered = await restarted.Services.GetRequiredService<IPipelineTrigger>().TriggerAsync("retrain", alert with { Id = pending[0].AlertId });
        await Task.WhenAll(restarted.Services.GetRequiredService<PipelineRunner>().Running);

        Assert.Equal(["log", "pipeline", "webhook"], pending.Select(a => a.Kind).Order(StringComparer.Ordinal));
        Assert.All(pending, a => Assert.Null(a.DeliveredAt));
        var body = JsonDocument.Parse(Assert.Single(hook.Bodies)).RootElement;
        Assert.Equal(pending[0].AlertId, body.GetProperty("id").GetString());
        var run = Assert.Single(runs);
        Assert.Equal(PipelineRunTrigger.RunId(pending[0].AlertId, "retrain"), run.Id);
        Assert.Equal(run.Id, redelivered);
        Assert.Single(await metadata.Pipelines.ListRunsAsync("flights", "retrain", 10));
        Assert.Single(await metadata.Audit.ReadAsync(0, 100_000), e => e.Action == "monitor.alert");
    }
}

/// <summary>The outbox with the embedded SQLite metadata store.</summary>
public sealed class SqliteAlertOutboxServerTests : AlertOutboxServerTests;

/// <summary>The outbox with the PostgreSQL metadata store.</summary>
[RequiresPostgres]
public sealed class PostgresAlertOutboxServerTests : AlertOutboxServerTests
{
    private PostgresTestDatabase? _database;

    public override async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateUnlessSkippedAsync();
        Postgres = _database?.ConnectionString;
    }

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
