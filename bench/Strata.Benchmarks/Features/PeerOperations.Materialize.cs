using System.Diagnostics;
using System.Globalization;
using System.Text;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Storage;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer materialize [ENTITIES EVENTS_PER_ENTITY BATCH_ROWS]`: ingests ENTITIES × EVENTS_PER_ENTITY rows (default
    /// 1,000,000 × 10) of 10 float32 features into the embedded offline store, BATCH_ROWS at a time (never the whole
    /// history in memory), then materializes all of it into the embedded online store through
    /// <see cref="FeatureStore.MaterializeAsync"/>. Reports rows, seconds, the process's peak RSS after ingest and at the
    /// end (target: below 1 GB), and the managed heap at the end.
    /// </summary>
    private static void RegisterMaterialize() => PeerMeasurements.Register("materialize", async args =>
    {
        var entities = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var eventsPerEntity = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        var batchRows = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 500_000;
        const int Features = 10;
        var folder = Path.Combine(Path.GetTempPath(), $"strata-bench-materialize-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var yaml = new StringBuilder("""
                entities:
                  - name: entity
                    join_keys: [{ name: entity_id, type: int64 }]
                sources:
                  - name: stats_source
                    kind: file
                    path: stats.csv
                    format: csv
                    timestamp_field: event_ts
                    schema:
                      - { name: entity_id, type: int64 }
                      - { name: event_ts, type: timestamp }

                """);
            for (var f = 0; f < Features; f++)
            {
                yaml.Append(CultureInfo.InvariantCulture, $"      - {{ name: f{f}, type: float32 }}\n");
            }

            yaml.Append("feature_views:\n  - name: stats\n    entities: [entity]\n    source: stats_source\n    features:\n");
            for (var f = 0; f < Features; f++)
            {
                yaml.Append(CultureInfo.InvariantCulture, $"      - {{ name: f{f}, type: float32 }}\n");
            }

            var repository = FeatureRepositoryYaml.Parse([("bench.yaml", yaml.ToString())]);
            await using var metadata = await SqliteMetadataStore.OpenAsync(Path.Combine(folder, "strata.db")).ConfigureAwait(false);
            var backend = new EmbeddedFeatureBackend(folder);
            await using var offline = await backend.OpenOfflineAsync("bench").ConfigureAwait(false);
            await using var online = await backend.OpenOnlineAsync("bench", [repository.OnlineLayout("stats")]).ConfigureAwait(false);
            var store = new FeatureStore("bench", repository, 1, offline, online, metadata.Features);

            // Event time e of every entity, batch by batch: rows are generated per batch and dropped after the append.
            var t0 = Timestamp.FromDateTime(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
            var total = (long)entities * eventsPerEntity;
            var random = new Random(7);
            var ingest = Stopwatch.StartNew();
            for (long start = 0; start < total; start += batchRows)
            {
                var n = (int)Math.Min(batchRows, total - start);
                var ids = new long[n];
                var ts = new long[n];
                var values = new float[Features][];
                for (var f = 0; f < Features; f++)
                {
                    values[f] = new float[n];
                }

                for (var i = 0; i < n; i++)
                {
                    var row = start + i;
                    ids[i] = row % entities;
                    ts[i] = t0 + (row / entities * 3_600_000_000L) + random.Next(0, 1_000_000);
                    for (var f = 0; f < Features; f++)
                    {
                        values[f][i] = random.NextSingle();
                    }
                }

                var columns = new List<(string, Column)> { ("entity_id", Columns.Create<long>(DataType.Int64, ids)), ("event_ts", Columns.Create<long>(DataType.Timestamp, ts)) };
                columns.AddRange(Enumerable.Range(0, Features).Select(f => ($"f{f}", (Column)Columns.Create<float>(DataType.Float32, values[f]))));
                await store.IngestAsync("stats_source", Table.From([.. columns])).ConfigureAwait(false);
            }

            ingest.Stop();
            using var process = Process.GetCurrentProcess();
            process.Refresh();
            var peakAfterIngest = process.PeakWorkingSet64;
            var rssAfterIngest = process.WorkingSet64;

            var materialize = Stopwatch.StartNew();
            var done = await store.MaterializeAsync(t0, t0 + (eventsPerEntity * 3_600_000_000L) + 1).ConfigureAwait(false);
            materialize.Stop();
            var count = await online.CountAsync("stats").ConfigureAwait(false);
            process.Refresh();
            return new Dictionary<string, object>
            {
                ["operation"] = "materialize",
                ["entities"] = entities,
                ["rows"] = total,
                ["features"] = Features,
                ["batch_rows"] = batchRows,
                ["ingest_s"] = PeerMeasurements.Seconds(ingest),
                ["materialize_s"] = PeerMeasurements.Seconds(materialize),
                ["materialized_rows"] = done.Sum(d => d.Rows),
                ["online_entities"] = count,
                ["rows_per_s"] = Math.Round(total / materialize.Elapsed.TotalSeconds),
                ["peak_rss_after_ingest_mb"] = Math.Round(peakAfterIngest / (1024.0 * 1024.0), 1),
                ["rss_after_ingest_mb"] = Math.Round(rssAfterIngest / (1024.0 * 1024.0), 1),
                ["rss_end_mb"] = Math.Round(process.WorkingSet64 / (1024.0 * 1024.0), 1),
                ["managed_heap_end_mb"] = Math.Round(GC.GetTotalMemory(forceFullCollection: false) / (1024.0 * 1024.0), 1),
            };
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    });
}
