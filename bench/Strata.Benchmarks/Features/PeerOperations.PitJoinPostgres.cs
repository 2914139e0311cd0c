using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;
using Strata.Benchmarks.Features;
using Strata.Features;
using Strata.Features.OfflineStore;
using Strata.Postgres;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer pit-join-postgres [ENTITY_ROWS FEATURE_ROWS ENTITIES CONNECTION_STRING]`: the PostgreSQL offline store's
    /// pushed-down point-in-time join (entity upload, join, read back) against PostgreSQL's own
    /// <c>LEFT JOIN LATERAL (… ORDER BY feature_ts DESC LIMIT 1)</c> as CREATE TABLE AS (what
    /// ../shared/peers/pit_join_postgres.py times) on the same server, table and session settings, plus the embedded
    /// store's GetHistoricalFeatures on the same data. Shape of pit_join_postgres.py: 100,000 entities over 30 days,
    /// 10 float32 features, TTL 24 h. Uses (and drops) a database named strata_bench_offline.
    /// </summary>
    private static void RegisterPitJoinPostgres() => PeerMeasurements.Register("pit-join-postgres", async args =>
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        var entityRows = args.Length > 0 ? int.Parse(args[0], culture) : 1_000_000;
        var featureRows = args.Length > 1 ? int.Parse(args[1], culture) : 10_000_000;
        var entityCount = args.Length > 2 ? int.Parse(args[2], culture) : 100_000;
        var admin = args.Length > 3 ? args[3] : "Host=127.0.0.1;Port=5432;Username=postgres;Password=strata;Database=postgres";
        var entities = PitJoinData.Entities(entityRows, entityCount, seed: 1);
        var features = PitJoinData.Features(featureRows, entityCount, 10, seed: 2);
        var names = Enumerable.Range(0, 10).Select(f => $"f{f}").ToArray();
        var view = new FeatureViewLayout(
            "stats", [new Field("entity_id", DataType.Int64)], "feature_ts", names.Select(n => new Field(n, DataType.Float32)).ToArray(), ttl: TimeSpan.FromHours(24));
        var request = new HistoricalFeatureRequest(view, names);

        const string database = "strata_bench_offline";
        await SqlAsync(admin, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
        await SqlAsync(admin, $"CREATE DATABASE {database}");
        var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = database, CommandTimeout = 0 }.ToString();
        var result = new Dictionary<string, object> { ["entity_rows"] = entityRows, ["feature_rows"] = featureRows, ["entities"] = entityCount, ["ttl_h"] = 24 };
        try
        {
            await using var store = await PostgresOfflineStore.OpenAsync(connectionString, "bench");
            var watch = Stopwatch.StartNew();
            const int chunk = 1_000_000;
            for (var start = 0; start < featureRows; start += chunk)
            {
                await store.AppendAsync(view, features.Slice(start, Math.Min(chunk, featureRows - start)).WithSchema(view.Schema));
            }

            result["pg_append_s"] = PeerMeasurements.Seconds(watch);
            await SqlAsync(connectionString, "VACUUM ANALYZE strata_offline.\"bench__stats\"");

            watch.Restart();
            var pushed = await store.GetHistoricalFeaturesAsync(entities, "event_ts", [request]);
            result["pg_pushdown_s"] = PeerMeasurements.Seconds(watch);
            result["pg_matched"] = Math.Round(1.0 - ((double)pushed["f0"].NullCount / Math.Max(1, entityRows)), 4);

            // PostgreSQL's own LATERAL join on the same table: entities in a table of their own, CREATE TABLE AS.
            await using (var connection = new NpgsqlConnection(connectionString))
            {
                await connection.OpenAsync();
                await using (var create = new NpgsqlCommand("CREATE UNLOGGED TABLE ent (row_id integer, entity_id bigint, event_ts timestamp)", connection))
                {
                    await create.ExecuteNonQueryAsync();
                }

                await using (var importer = await connection.BeginBinaryImportAsync("COPY ent FROM STDIN (FORMAT BINARY)"))
                {
                    var ids = entities.GetColumn<long>("entity_id");
                    var ts = entities.GetColumn<long>("event_ts");
                    for (var i = 0; i < entityRows; i++)
                    {
                        await importer.StartRowAsync();
                        await importer.WriteAsync(i, NpgsqlDbType.Integer);
                        await importer.WriteAsync(ids[i], NpgsqlDbType.Bigint);
                        await importer.WriteAsync(DateTime.SpecifyKind(Timestamp.ToDateTime(ts[i]), DateTimeKind.Unspecified), NpgsqlDbType.Timestamp);
                    }

                    await importer.CompleteAsync();
                }

                await using (var analyze = new NpgsqlCommand("VACUUM ANALYZE ent; SET work_mem = '256MB'; SET jit = off", connection))
                {
                    await analyze.ExecuteNonQueryAsync();
                }

                var lateral = $"""
                    CREATE UNLOGGED TABLE result AS SELECT e.row_id, e.entity_id, e.event_ts, f.feature_ts, {string.Join(", ", names.Select(n => "f." + n))}
                    FROM ent e LEFT JOIN LATERAL (SELECT * FROM strata_offline."bench__stats" feat WHERE feat.entity_id = e.entity_id
                        AND feat.feature_ts <= e.event_ts AND feat.feature_ts >= e.event_ts - interval '24 hours'
                        ORDER BY feat.feature_ts DESC LIMIT 1) f ON true
                    """;
                watch.Restart();
                await using (var join = new NpgsqlCommand(lateral, connection))
                {
                    await join.ExecuteNonQueryAsync();
                }

                result["pg_lateral_ctas_s"] = PeerMeasurements.Seconds(watch);
            }

            result["pushdown_speedup_vs_lateral"] = Math.Round((double)result["pg_lateral_ctas_s"] / (double)result["pg_pushdown_s"], 2);

            // The embedded store on the same rows, and whether both stores agree value for value.
            var folder = Path.Combine(Path.GetTempPath(), $"strata-bench-offline-{Guid.NewGuid():N}");
            try
            {
                await using var embedded = await EmbeddedOfflineStore.OpenAsync(folder);
                watch.Restart();
                await embedded.AppendAsync(view, features.WithSchema(view.Schema));
                result["embedded_append_s"] = PeerMeasurements.Seconds(watch);
                watch.Restart();
                var local = await embedded.GetHistoricalFeaturesAsync(entities, "event_ts", [request]);
                result["embedded_join_s"] = PeerMeasurements.Seconds(watch);
                var differences = 0;
                for (var f = 0; f < names.Length; f++)
                {
                    var a = local.GetColumn<float>(names[f]);
                    var b = pushed.GetColumn<float>(names[f]);
                    for (var i = 0; i < entityRows; i++)
                    {
                        if (a.IsNull(i) != b.IsNull(i) || !a[i].Equals(b[i]))
                        {
                            differences++;
                        }
                    }
                }

                result["embedded_vs_pg_differences"] = differences;
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await SqlAsync(admin, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
        }

        return result;
    });

    private static async Task SqlAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }
}
