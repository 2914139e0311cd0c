using Strata.Benchmarks.Features;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer online-latency [READS]`: the distribution of in-process online reads (50 features of one entity, and of 100
    /// entities) over 100,000 stored entities, each read timed on its own (issue target: p99 ≤ 5 µs for one entity).
    /// </summary>
    private static void RegisterOnlineLatency() => PeerMeasurements.Register("online-latency", args =>
    {
        var reads = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000;
        using var fixture = new OnlineStoreFixture(100_000);
        var single = OnlineStoreLatency.MeasureSingle(fixture, reads);
        var batch = OnlineStoreLatency.MeasureBatch(fixture, Math.Max(1, reads / 100));
        return Task.FromResult(new Dictionary<string, object>
        {
            ["operation"] = "online-latency",
            ["entities"] = 100_000,
            ["features"] = 50,
            ["reads"] = reads,
            ["single_p50_us"] = single.P50,
            ["single_p99_us"] = single.P99,
            ["single_p999_us"] = single.P999,
            ["batch100_p50_us"] = batch.P50,
            ["batch100_p99_us"] = batch.P99,
        });
    });
}
