using Strata.Monitoring;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Monitoring;

public sealed class AlertOutboxTests() : SqliteStoreTests("alert-outbox")
{
    private const long Hour = 3_600_000_000L;

    [Theory]
    [InlineData(0, 0)] // no retention: deleted once delivered
    [InlineData(30, 1)] // the default 30 days: kept to be listed
    public async Task Delivered_actions_leave_the_outbox_once_past_their_retention(int days, int left)
    {
        var result = new MonitorResult("drift", "delays", "delay", 1, 0, Hour, "data_drift", "drift", 0.8, 100, null);
        await Store.MonitorState.SaveWindowsAsync(
            "flights", "delays", "drift", [result], new MonitorFeedState("seg-1", 7, Hour), [new OutboxAlert("a1/0", "a1", "flights", "log", null, "{\"rule\":\"r\"}")], new Actor("test"));
        using var http = new HttpClient();
        using var outbox = new AlertOutbox(Store.MonitorState, new AlertDispatcher(http, Store.Audit, null, new AlertOptions { OutboxRetention = TimeSpan.FromDays(days) }));

        var delivered = await outbox.DeliverDueAsync();

        Assert.Equal(1, delivered);
        Assert.Equal(left, (await Store.MonitorState.ListAlertsAsync("flights")).Count);
    }
}
