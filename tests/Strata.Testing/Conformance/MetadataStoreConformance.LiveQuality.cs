using Strata.Stores;
using Xunit;

namespace Strata.Testing.Conformance;

// Labelled requests for the server's quality check and the alert outbox (migration 8).
public abstract partial class MetadataStoreConformance
{
    [BackendFact]
    public async Task Labelled_requests_are_read_by_serving_time_up_to_a_label_sequence_and_later_labels_are_counted()
    {
        IndexedPrediction[] served =
        [
            new("r1", 10, 1, 0.9, "no\nyes"), new("r2", 20, 2, 0.2, "no\nyes"), new("r3", 1000, 1, 4.0, null), new("unlabelled", 30, 1, 0.5, "no\nyes"),
        ];
        await Store.MonitorState.IndexPredictionsAsync("flights", "delays", served, new MonitorFeedState("seg-1", 4, 0));
        Assert.Equal(0, await Store.MonitorState.GetLabelSequenceAsync("flights", "delays"));

        await Store.Monitoring.SaveLabelsAsync("flights", "delays", [new FeedbackLabel("r2", 0), new FeedbackLabel("r1", 1)], Alice);
        var first = await Store.MonitorState.GetLabelSequenceAsync("flights", "delays");
        await Store.Monitoring.SaveLabelsAsync("flights", "delays", [new FeedbackLabel("r3", 2.5)], Alice);
        var second = await Store.MonitorState.GetLabelSequenceAsync("flights", "delays");
        var early = await Store.MonitorState.ListLabeledAsync("flights", "delays", 0, 100, second, 10);
        var seenFirst = await Store.MonitorState.ListLabeledAsync("flights", "delays", 0, 2000, first, 10);
        var lateForEarly = await Store.MonitorState.CountLabeledAsync("flights", "delays", servedBefore: 100, first, second);
        var lateForAll = await Store.MonitorState.CountLabeledAsync("flights", "delays", servedBefore: 2000, first, second);
        await Store.Monitoring.SaveLabelsAsync("flights", "delays", [new FeedbackLabel("r1", 0)], Alice);
        var third = await Store.MonitorState.GetLabelSequenceAsync("flights", "delays");
        var relabelled = await Store.MonitorState.CountLabeledAsync("flights", "delays", servedBefore: 100, second, third);

        Assert.True(first > 0 && second > first && third > second, $"sequences {first}, {second}, {third}");
        Assert.Equal([new LabeledRequest(10, 1, 0.9, true, 1, first), new LabeledRequest(20, 2, 0.2, true, 0, first)], early);
        Assert.Equal([10L, 20L], seenFirst.Select(r => r.Time));
        Assert.Equal((0L, 1L), (lateForEarly, lateForAll));
        Assert.Equal(1, relabelled);
        Assert.Equal(new LabeledRequest(1000, 1, 4.0, false, 2.5, second), Assert.Single(await Store.MonitorState.ListLabeledAsync("flights", "delays", 100, 2000, third, 10)));
        Assert.Empty(await Store.MonitorState.ListLabeledAsync("flights", "other", 0, 2000, third, 10));
        Assert.Single(await Store.MonitorState.ListLabeledAsync("flights", "delays", 0, 2000, third, 1));
    }

    [BackendFact]
    public async Task Alerts_are_written_with_their_results_once_claimed_once_retried_and_marked_delivered()
    {
        var result = new MonitorResult("drift", "delays", "delay", 1, 0, Hour, "data_drift", "drift", 0.8, 100, null);
        OutboxAlert[] actions = [new("a1/0", "a1", "flights", "webhook", "http://127.0.0.1:1/hook", "{\"rule\":\"r\"}"), new("a1/1", "a1", "flights", "log", null, "{\"rule\":\"r\"}")];
        var state = new MonitorFeedState("seg-1", 7, Hour, QualityUntil: Hour, LabelSequence: 3, LateLabels: 2);

        await Store.MonitorState.SaveWindowsAsync("flights", "delays", "drift", [result], state, actions, Alice);
        await Store.MonitorState.SaveWindowsAsync("flights", "delays", "drift", [result], state, [actions[0] with { Event = "{\"again\":true}" }], Alice);
        var stored = await Store.MonitorState.ListAlertsAsync("flights");
        var claimed = await Store.MonitorState.ClaimAlertsAsync(TimeSpan.FromHours(1), 10);
        var leased = await Store.MonitorState.ClaimAlertsAsync(TimeSpan.FromHours(1), 10);
        await Store.MonitorState.CompleteAlertAsync("a1/0", delivered: true, TimeSpan.Zero, null);
        await Store.MonitorState.CompleteAlertAsync("a1/1", delivered: false, TimeSpan.Zero, "audit log unavailable");
        var retried = await Store.MonitorState.ClaimAlertsAsync(TimeSpan.FromHours(1), 10);
        var after = (await Store.MonitorState.ListAlertsAsync("flights")).ToDictionary(a => a.Id);

        Assert.Equal(state, await Store.MonitorState.GetFeedStateAsync("flights", "delays", "drift"));
        Assert.Equal(["a1/0", "a1/1"], stored.Select(a => a.Id).Order(StringComparer.Ordinal));
        Assert.All(stored, a => Assert.Equal(("{\"rule\":\"r\"}", 0, (long?)null), (a.Event, a.Attempts, a.DeliveredAt)));
        Assert.Equal([1, 1], claimed.Select(a => a.Attempts));
        Assert.Empty(leased);
        var again = Assert.Single(retried);
        Assert.Equal(("a1/1", 2, "audit log unavailable"), (again.Id, again.Attempts, again.LastError));
        Assert.NotNull(after["a1/0"].DeliveredAt);
        Assert.Null(after["a1/1"].DeliveredAt);
        Assert.Empty(await Store.MonitorState.ListAlertsAsync("other"));
    }

    [BackendFact]
    public async Task Delivered_alerts_older_than_the_retention_are_pruned_and_undelivered_ones_stay()
    {
        var result = new MonitorResult("drift", "delays", "delay", 1, 0, Hour, "data_drift", "drift", 0.8, 100, null);
        OutboxAlert[] actions = [new("a1/0", "a1", "flights", "log", null, "{}"), new("a1/1", "a1", "flights", "log", null, "{}"), new("a2/0", "a2", "flights", "log", null, "{}")];
        await Store.MonitorState.SaveWindowsAsync("flights", "delays", "drift", [result], new MonitorFeedState("seg-1", 7, Hour), actions, Alice);
        await Store.MonitorState.CompleteAlertAsync("a1/0", delivered: true, TimeSpan.Zero, null);
        Clock.Advance(TimeSpan.FromDays(2));
        await Store.MonitorState.CompleteAlertAsync("a2/0", delivered: true, TimeSpan.Zero, null);
        Clock.Advance(TimeSpan.FromHours(1));

        var pruned = await Store.MonitorState.PruneDeliveredAlertsAsync(TimeSpan.FromDays(1));
        var again = await Store.MonitorState.PruneDeliveredAlertsAsync(TimeSpan.FromDays(1));

        Assert.Equal((1, 0), (pruned, again));
        Assert.Equal(["a1/1", "a2/0"], (await Store.MonitorState.ListAlertsAsync("flights")).Select(a => a.Id).Order(StringComparer.Ordinal));
    }
}
