using System.Diagnostics;
using Strata.Benchmarks.Features;
using Strata.Features;
using Strata.Features.OfflineStore;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer pit-join-store [ENTITY_ROWS FEATURE_ROWS ENTITIES]`: the same data as `peer pit-join`, but through the
    /// embedded offline store as a training set is built: the 10,000,000 feature rows are appended (timed apart), the
    /// store is closed and reopened, then GetHistoricalFeaturesAsync reads the day segments it needs and joins — the time
    /// to compare with pandas' merge_asof, which starts from data already in memory.
    /// </summary>
    private static void RegisterPitJoinStore() => PeerMeasurements.Register("pit-join-store", async args =>
    {
        var entityRows = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000;
        var featureRows = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10_000_000;
        var entityCount = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        var folder = Path.Combine(Path.GetTempPath(), $"strata-pit-store-{Guid.NewGuid():N}");
        try
        {
            var entities = PitJoinData.Entities(entityRows, entityCount, seed: 1);
            var features = PitJoinData.Features(featureRows, entityCount, 10, seed: 2);
            var names = Enumerable.Range(0, 10).Select(f => $"f{f}").ToArray();
            var view = new FeatureViewLayout(
                "stats",
                [features.Schema["entity_id"]],
                "feature_ts",
                names.Select(n => features.Schema[n].WithNullable(true)).ToArray(),
                ttl: TimeSpan.FromHours(24));
            var append = Stopwatch.StartNew();
            await using (var store = await EmbeddedOfflineStore.OpenAsync(folder))
            {
                await store.AppendAsync(view, features.Select(view.Schema.Names).WithSchema(view.Schema));
            }

            append.Stop();
            features = null!; // the join below must read what the store holds
            GC.Collect();

            var join = Stopwatch.StartNew();
            Table result;
            await using (var store = await EmbeddedOfflineStore.OpenAsync(folder))
            {
                result = await store.GetHistoricalFeaturesAsync(entities, "event_ts", [new HistoricalFeatureRequest(view, names)]);
            }

            join.Stop();
            return new Dictionary<string, object>
            {
                ["engine"] = "strata-embedded-offline-store",
                ["entity_rows"] = entityRows,
                ["feature_rows"] = featureRows,
                ["entities"] = entityCount,
                ["ttl_h"] = 24,
                ["append_s"] = PeerMeasurements.Seconds(append),
                ["join_s"] = PeerMeasurements.Seconds(join),
                ["entity_rows_per_s"] = Math.Round(entityRows / join.Elapsed.TotalSeconds),
                ["matched"] = Math.Round(1.0 - ((double)result["f0"].NullCount / Math.Max(1, entityRows)), 4),
            };
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    });
}
