using Strata.Stores;
using Xunit;

namespace Strata.Testing.Conformance;

// Monitoring results (migration 5): stored per window, replaced on re-evaluation, queried over time.
public abstract partial class MetadataStoreConformance
{
    private const long Hour = 3_600_000_000L;

    [BackendFact]
    public async Task Monitor_results_are_stored_replaced_per_window_and_queried_over_time()
    {
        var results = Enumerable.Range(0, 4)
            .Select(i => new MonitorResult("drift", "flights", "delays", 2, i * Hour, (i + 1) * Hour, "data_drift", i < 2 ? "no_drift" : "drift", i * 0.25, 100 + i, "{\"i\":" + i + "}"))
            .Append(new MonitorResult("drift", "flights", "delays", 2, 0, Hour, "quality", "ok", 0.81, 50, null))
            .Append(new MonitorResult("drift", "other", "delays", 2, 0, Hour, "data_drift", "insufficient_data", null, 3, null))
            .ToList();

        await Store.Monitoring.SaveResultsAsync("flights", results, Alice);
        await Store.Monitoring.SaveResultsAsync("flights", [results[1] with { Status = "drift", Score = 0.75 }], Alice);

        var all = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights"));
        var drift = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("flights", From: Hour, To: 3 * Hour, Check: "data_drift"));
        var other = await Store.Monitoring.ListResultsAsync("flights", new MonitorResultQuery("other"));
        Assert.Equal(5, all.Count);
        Assert.Equal([0, 0, Hour, 2 * Hour, 3 * Hour], all.Select(r => r.WindowStart));
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
}
