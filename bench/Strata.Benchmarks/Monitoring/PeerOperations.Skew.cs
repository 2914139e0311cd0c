using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Monitoring.Skew;
using Strata.Serving;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Benchmarks;

// `peer skew [ROWS] [ENTITIES]`: what one window of a skew check costs: ROWS served records (one row each: an entity key
// and 4 features of a plain feature view, the last one served +1) compared with the embedded offline store's
// point-in-time values for ENTITIES entities. Building the records and writing the offline rows are not timed.
internal static partial class PeerOperations
{
    private const string SkewDefinitions = """
        entities:
          - name: entity
            join_keys:
              - { name: entity_id, type: int64 }
        sources:
          - name: stats
            kind: push
            timestamp_field: ts
            schema:
              - { name: entity_id, type: int64 }
              - { name: ts, type: timestamp }
              - { name: f0, type: float64 }
              - { name: f1, type: float64 }
              - { name: f2, type: float64 }
              - { name: f3, type: float64 }
        feature_views:
          - name: stats
            entities: [entity]
            source: stats
            ttl: 2d
            features:
              - { name: f0, type: float64 }
              - { name: f1, type: float64 }
              - { name: f2, type: float64 }
              - { name: f3, type: float64 }
        """;

    private static void RegisterSkew() => PeerMeasurements.Register("skew", async args =>
    {
        var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50_000;
        var entities = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000;
        var folder = Path.Combine(Path.GetTempPath(), $"strata-skew-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            await using var metadata = await SqliteMetadataStore.OpenAsync(Path.Combine(folder, "strata.db"));
            await metadata.Projects.CreateAsync("bench", null, Actor.Local);
            await new FeatureRegistry(metadata).ApplyAsync("bench", FeatureRepositoryYaml.Parse([("bench.yaml", SkewDefinitions)]), force: false, Actor.Local);
            await using var stores = new FeatureStores(metadata, new EmbeddedFeatureBackend(folder));
            var store = await stores.GetAsync("bench");
            var t0 = Timestamp.FromDateTime(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
            var ids = Enumerable.Range(0, entities).Select(i => (long?)i).ToArray();
            double? Value(long? id, int f) => (id!.Value * 0.5) + f;
            await store.PushAsync("stats", Table.From(
                ("entity_id", Columns.Int64(ids)), ("ts", Columns.Timestamp([.. ids.Select(_ => (long?)t0)])),
                ("f0", Columns.Float64([.. ids.Select(i => Value(i, 0))])), ("f1", Columns.Float64([.. ids.Select(i => Value(i, 1))])),
                ("f2", Columns.Float64([.. ids.Select(i => Value(i, 2))])), ("f3", Columns.Float64([.. ids.Select(i => Value(i, 3))]))), PushTarget.Offline);
            var records = Enumerable.Range(0, rows).Select(r =>
            {
                long id = r % entities;
                var inputs = new Dictionary<string, JsonElement>(StringComparer.Ordinal) { ["entity_id"] = JsonSerializer.SerializeToElement(id) };
                for (var f = 0; f < 4; f++)
                {
                    inputs[$"f{f}"] = JsonSerializer.SerializeToElement(Value(id, f)!.Value + (f == 3 ? 1 : 0));
                }

                return new PredictionRecord { Time = t0 + 3_600_000_000L + r, Endpoint = "bench", Rows = [new PredictionRow(inputs, null, null, 1.0)] };
            }).ToList();
            FeatureReference[] features = [new("stats", "f0"), new("stats", "f1"), new("stats", "f2"), new("stats", "f3")];

            var watch = Stopwatch.StartNew();
            var result = await TrainingServingSkew.CheckAsync(store, features, records, new SkewOptions { MaxRows = rows });
            watch.Stop();

            return new Dictionary<string, object>
            {
                ["engine"] = "strata-skew-embedded-offline-store",
                ["rows"] = rows,
                ["entities"] = entities,
                ["features"] = features.Length,
                ["check_s"] = PeerMeasurements.Seconds(watch),
                ["rows_per_s"] = Math.Round(rows / watch.Elapsed.TotalSeconds),
                ["skewed"] = result.Features.Where(f => f.Status == SkewStatus.Skewed).Select(f => f.Feature).ToArray(),
            };
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    });
}
