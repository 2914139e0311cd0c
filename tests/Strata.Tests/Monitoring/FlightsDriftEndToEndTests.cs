using System.Text;
using Microsoft.Data.Sqlite;
using Strata.Data;
using Strata.Monitoring;
using Strata.Monitoring.Reports;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Monitoring;

/// <summary>
/// Issue 7's closing scenario on the bundled flights sample: a model version's reference is January; March traffic is
/// served in weekly windows, with delays shifted by +30 minutes from March 15; data-set drift in two consecutive windows
/// fires the webhook and a retraining trigger whose new version becomes challenger and waits for approval as champion;
/// the report shows the drift.
/// </summary>
public sealed class FlightsDriftEndToEndTests : IDisposable
{
    private const long Day = 86_400_000_000L;
    private readonly TempFolder _folder = new("flights-drift");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact]
    public async Task Shifted_delays_raise_the_alert_fire_the_webhook_and_leave_a_challenger_awaiting_approval()
    {
        await using var home = await StrataHome.OpenAsync(_folder.Path);
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        await registry.CreateProjectAsync(Caller.Local, "flights", null);
        await registry.CreateModelAsync(Caller.Local, "flights", "delays", null, null);
        await registry.SetProtectedAliasesAsync(Caller.Local, "flights", "delays", ["champion"]);
        var v1 = await registry.UploadVersionAsync(Caller.Local, "flights", "delays", new VersionRegistration(), new MemoryStream(Encoding.UTF8.GetBytes("model v1")));
        await registry.SetAliasAsync(Caller.Local, "flights", "delays", "champion", v1.Version, "first model");

        var flights = (await DataFiles.ReadAsync(SharedData.InRepository("samples", "flights", "flights-2001-sample.csv.gz"))).Table;
        var dates = flights.GetColumn<long>("date");
        var january = Rows(flights, t => t < Micros(2001, 2, 1));
        var reference = await ReferenceProfiles.BuildAsync(() => new[] { january }.ToAsyncEnumerable(), ["delay", "distance"]);
        await ReferenceProfiles.SaveAsync(registry, Caller.Local, "flights", "delays", v1.Version, reference);

        using var hook = new LoopbackWebhook();
        var trigger = new RetrainToChallenger(registry);
        using var http = new HttpClient();
        await using var alerts = new AlertDispatcher(http, home.Metadata.Audit, trigger);
        var spec = new MonitorSpec
        {
            Name = "delays-drift",
            Endpoint = "flights",
            Model = "delays",
            Window = TimeSpan.FromDays(7),
            Checks = [MonitorChecks.DataDrift],
            Alerts =
            [
                new AlertRule
                {
                    Name = "sustained-drift",
                    Check = MonitorChecks.DataDrift,
                    ConsecutiveWindows = 2,
                    Actions = [new(AlertActionKind.Webhook, hook.Url), new(AlertActionKind.Log), new(AlertActionKind.TriggerPipeline, "retrain-delays")],
                },
            ],
        };
        var stored = await ReferenceProfiles.LoadAsync(registry, Caller.Local, "flights", "delays", v1.Version);
        var runner = new MonitorRunner("flights", spec, stored, home.Metadata.Monitoring, alerts);

        var march = Served(Rows(flights, t => t >= Micros(2001, 3, 1) && t < Micros(2001, 4, 1)), Micros(2001, 3, 15), shift: 30);
        foreach (var batch in Enumerable.Range(0, (march.RowCount + 4095) / 4096).Select(i => march.Slice(i * 4096, Math.Min(4096, march.RowCount - (i * 4096)))))
        {
            runner.Add(batch);
        }

        var results = await runner.EvaluateAsync(Micros(2001, 4, 30), Actor.Local);
        await alerts.FlushAsync();

        var statuses = results.Select(r => (Start: r.WindowStart, r.Status)).ToList();
        Assert.Equal("no_drift", statuses.First(s => s.Start + (7 * Day) <= Micros(2001, 3, 15)).Status);
        Assert.All(statuses.Where(s => s.Start >= Micros(2001, 3, 15)), s => Assert.Equal("drift", s.Status));
        Assert.NotEmpty(hook.Bodies);
        Assert.Contains("sustained-drift", hook.Bodies.First(), StringComparison.Ordinal);
        var pending = await registry.ListPromotionsAsync(Caller.Local, "flights", "delays", ApprovalStatus.Pending);
        var challenger = await registry.GetAliasAsync(Caller.Local, "flights", "delays", "challenger");
        var champion = await registry.GetAliasAsync(Caller.Local, "flights", "delays", "champion");
        Assert.Equal(challenger.Version, Assert.Single(pending).Version);
        Assert.Equal(v1.Version, champion.Version);
        var html = MonitorReport.Html("flights", await home.Metadata.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights")));
        Assert.Contains(">drift<", html, StringComparison.Ordinal);
        Assert.Contains("delay", html, StringComparison.Ordinal);
    }

    private static long Micros(int year, int month, int day) => new DateTimeOffset(year, month, day, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;

    private static Table Rows(Table flights, Func<long, bool> keep)
    {
        var dates = flights.GetColumn<long>("date");
        return flights.Take([.. Enumerable.Range(0, flights.RowCount).Where(i => keep(dates[i]))]);
    }

    /// <summary>The rows as served records: `timestamp`, `model_version` 1, and delays shifted from <paramref name="from"/> on.</summary>
    private static Table Served(Table rows, long from, int shift)
    {
        var dates = rows.GetColumn<long>("date");
        var delays = rows.GetColumn<long>("delay");
        var shifted = new long?[rows.RowCount];
        for (var i = 0; i < shifted.Length; i++)
        {
            shifted[i] = delays.IsNull(i) ? null : delays[i] + (dates[i] >= from ? shift : 0);
        }

        return Table.From(
            ("timestamp", Columns.Create(DataType.Timestamp, dates.Values)),
            ("model_version", Columns.Int32([.. Enumerable.Repeat((int?)1, rows.RowCount)])),
            ("delay", Columns.Int64(shifted)),
            ("distance", rows["distance"]));
    }

    /// <summary>Stands in for the pipelines stratum: "retrains" (registers a new version), makes it challenger, asks for champion.</summary>
    private sealed class RetrainToChallenger(RegistryService registry) : IPipelineTrigger
    {
        public async Task<string> TriggerAsync(string pipeline, AlertEvent alert, CancellationToken cancellationToken = default)
        {
            var editor = Caller.Local;
            var version = await registry.UploadVersionAsync(editor, "flights", alert.Model, new VersionRegistration(), new MemoryStream(Encoding.UTF8.GetBytes($"retrained after {alert.Rule}")), cancellationToken);
            await registry.SetAliasAsync(editor, "flights", alert.Model, "challenger", version.Version, alert.Message, cancellationToken);
            await registry.RequestPromotionAsync(editor, "flights", alert.Model, "champion", version.Version, alert.Message, cancellationToken);
            return $"{pipeline}-{version.Version}";
        }
    }
}
