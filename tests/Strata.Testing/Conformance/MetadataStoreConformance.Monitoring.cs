using Strata.Stores;
using Xunit;

namespace Strata.Testing.Conformance;

// Monitoring results (migration 5): stored per window, replaced on re-evaluation, queried over time; feedback labels (migration 6).
public abstract partial class MetadataStoreConformance
{
    private const long Hour = 3_600_000_000L;

    [BackendFact]
    public async Task Monitor_results_are_stored_replaced_per_window_and_queried_over_time()
    {
        var results = Enumerable.Range(0, 4)
            .Select(i => new MonitorResult("drift", "flights", "delays", 2, i * Hour, (i + 1) * Hour, "data_drift", i < 2 ? "no_drift" : "drift", i * 0.25, 100 + i, "{\"i\":" + i + "}"))
            .Append(new MonitorResult("drift", "flights", "delays", 2, 0, Hour, "quality", "ok", 0.81, 50, null))
            .Append(new MonitorResult("drift", "flights", "delays", 0, Hour, 2 * Hour, "quality.auc", "ok", 0.66, 50, null))
            .Append(new MonitorResult("drift", "flights", "delays", 0, Hour, 2 * Hour, "quality.accuracy", "ok", 0.7, 50, null))
            .Append(new MonitorResult("drift", "other", "delays", 2, 0, Hour, "data_drift", "insufficient_data", null, 3, null))
            .ToList();

        await Store.Monitoring.SaveResultsAsync("flights", results, Alice);
        await Store.Monitoring.SaveResultsAsync("flights", [results[1] with { Status = "drift", Score = 0.75 }], Alice);

        var all = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights"));
        var drift = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights", From: Hour, To: 3 * Hour, Check: "data_drift"));
        var other = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("other"));
        var quality = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights", Check: "quality"));
        var auc = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights", Check: "quality.auc"));
        Assert.Equal(7, all.Count);
        Assert.Equal([0, 0, Hour, Hour, Hour, 2 * Hour, 3 * Hour], all.Select(r => r.WindowStart));
        Assert.Equal(["quality", "quality.accuracy", "quality.auc"], quality.Select(r => r.Check));
        Assert.Equal(0.66, Assert.Single(auc).Score);
        Assert.Equal([Hour, 2 * Hour], drift.Select(r => r.WindowStart));
        Assert.Equal(("drift", 0.75), (drift[0].Status, drift[0].Score!.Value));
        Assert.Equal("{\"i\":1}", drift[0].Details);
        Assert.Null(Assert.Single(other).Score);
        Assert.Empty(await Store.Monitoring.ListResultsAsync("elsewhere", new MonitorResultQuery("flights")));
    }

    [BackendFact]
    public async Task Monitor_results_with_bad_names_or_empty_windows_are_rejected()
    {
        var good = new MonitorResult("drift", "flights", "delays", 1, 0, Hour, "data_drift", "drift", 0.5, 10, null);

        var badEndpoint = await Assert.ThrowsAsync<StrataException>(() => Store.Monitoring.SaveResultsAsync("flights", [good with { Endpoint = "../x" }], Alice));
        var emptyWindow = await Assert.ThrowsAsync<StrataException>(() => Store.Monitoring.SaveResultsAsync("flights", [good with { WindowEnd = 0 }], Alice));

        Assert.Equal(ErrorCodes.ArgumentInvalid, badEndpoint.Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, emptyWindow.Code);
        Assert.Empty(await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights")));
    }

    [BackendFact]
    public async Task Served_requests_are_indexed_once_even_when_no_prediction_in_the_batch_has_a_score()
    {
        // Text predictions have no score: a batch of only those once reached PostgreSQL as a text array for a numeric column.
        IndexedPrediction[] unscored = [new("t1", 10, 1, null, null), new("t2", 11, 1, null, null)];
        IndexedPrediction[] scored = [new("s1", 12, 2, 0.25, "[\"no\",\"yes\"]"), new("t1", 99, 2, 0.5, null)];

        await Store.MonitorState.IndexPredictionsAsync("flights", "delays", unscored, new MonitorFeedState("seg-1", 2, 0));
        await Store.MonitorState.IndexPredictionsAsync("flights", "delays", scored, new MonitorFeedState("seg-1", 4, 0));

        var found = await Store.MonitorState.FindPredictionsAsync("flights", "delays", ["t1", "t2", "s1", "missing"]);
        Assert.Equal(["s1", "t1", "t2"], found.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new IndexedPrediction("t1", 10, 1, null, null), found["t1"]);
        Assert.Equal(new IndexedPrediction("s1", 12, 2, 0.25, "[\"no\",\"yes\"]"), found["s1"]);
        Assert.Empty(await Store.MonitorState.FindPredictionsAsync("flights", "other", ["t1"]));
        Assert.Equal(new MonitorFeedState("seg-1", 4, 0), await Store.MonitorState.GetFeedStateAsync("flights", "delays", Strata.Monitoring.FeedbackLabels.IndexFeed));
    }

    [BackendFact]
    public async Task A_feed_position_keeps_its_floor_and_the_segments_read_above_it_with_the_windows_it_closed()
    {
        // A segment may close after later ones were read (a crash's leftover closed at the next start): the position
        // names the segments read, and a restart must resume from all of it, not only the last segment.
        var indexed = new MonitorFeedState("0002.jsonl", 5, 0, SegmentFloor: "0001", ReadSegments: "0002.jsonl\n0003.jsonl");
        var monitored = new MonitorFeedState("0003.jsonl", 2, Hour, SegmentFloor: "0002.jsonl", ReadSegments: "0004.jsonl");

        await Store.MonitorState.IndexPredictionsAsync("flights", "delays", [new("r1", 10, 1, null, null)], indexed);
        await Store.MonitorState.SaveWindowsAsync("flights", "delays", "drift", [], monitored, Alice);

        Assert.Equal(indexed, await Store.MonitorState.GetFeedStateAsync("flights", "delays", Strata.Monitoring.FeedbackLabels.IndexFeed));
        Assert.Equal(monitored, await Store.MonitorState.GetFeedStateAsync("flights", "delays", "drift"));
        await Store.MonitorState.SaveWindowsAsync("flights", "delays", "drift", [], monitored with { SegmentFloor = null, ReadSegments = null }, Alice);
        Assert.Equal(new MonitorFeedState("0003.jsonl", 2, Hour), await Store.MonitorState.GetFeedStateAsync("flights", "delays", "drift"));
    }

    [BackendFact]
    public async Task Feedback_labels_are_stored_per_endpoint_and_a_label_sent_again_replaces_the_first()
    {
        await Store.Monitoring.SaveLabelsAsync("flights", "delays", [new FeedbackLabel("r1", 1), new FeedbackLabel("r2", 0)], Alice);
        await Store.Monitoring.SaveLabelsAsync("flights", "delays", [new FeedbackLabel("r1", 0)], Alice);
        await Store.Monitoring.SaveLabelsAsync("flights", "other", [new FeedbackLabel("r3", 1)], Alice);

        var labels = await Store.Monitoring.ListLabelsAsync("flights", "delays");

        Assert.Equal([("r1", 0.0), ("r2", 0.0)], labels.Select(l => (l.RequestId, l.Label)).OrderBy(l => l.RequestId, StringComparer.Ordinal));
        Assert.All(labels, l => Assert.True(l.ReceivedAt > 0));
        Assert.Empty(await Store.Monitoring.ListLabelsAsync("other", "delays"));
        var tooLong = await Assert.ThrowsAsync<StrataException>(() => Store.Monitoring.SaveLabelsAsync("flights", "delays", [new FeedbackLabel(new string('x', 201), 1)], Alice));
        Assert.Equal(ErrorCodes.ArgumentInvalid, tooLong.Code);
        Assert.Contains("labels[0].request_id", tooLong.Message, StringComparison.Ordinal);
    }
}
