using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Strata.Features;
using Strata.Features.OnlineStore;
using Strata.Postgres;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer online-latency-postgres [READS] [ENTITIES]`: the same reads as `online-latency` (50 features of one entity,
    /// and of 100 entities) through <see cref="PostgresOnlineStore"/>, each timed on its own, end to end (pooled
    /// connection, one query). The server is STRATA_BENCH_POSTGRES (a connection string; default the local test server);
    /// a scratch database is created and dropped.
    /// </summary>
    private static void RegisterOnlineLatencyPostgres() => PeerMeasurements.Register("online-latency-postgres", async args =>
    {
        var reads = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5_000;
        var entities = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
        var admin = Environment.GetEnvironmentVariable("STRATA_BENCH_POSTGRES") is { Length: > 0 } env
            ? env
            : "Host=127.0.0.1;Port=5432;Username=postgres;Password=strata;Database=postgres";
        var database = $"strata_bench_{Guid.NewGuid():N}";
        await ExecutePostgresAdminAsync(admin, $"CREATE DATABASE {database}");
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = database }.ToString();
            await using var store = await PostgresOnlineStore.OpenAsync(connectionString, "bench");
            var features = Enumerable.Range(0, 50)
                .Select(i => new Field($"f{i}", i < 40 ? DataType.Float64 : i < 45 ? DataType.Int64 : DataType.String))
                .ToArray();
            var names = features.Select(f => f.Name).ToArray();
            await store.ApplyViewsAsync([new FeatureViewLayout("wide", [new Field("id", DataType.Int64)], "ts", features, ttl: TimeSpan.FromDays(1))]);
            var now = Timestamp.FromDateTime(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
            var random = new Random(7);
            var load = Stopwatch.StartNew();
            for (var start = 0; start < entities; start += 10_000)
            {
                var n = Math.Min(10_000, entities - start);
                var columns = new List<(string, Column)>
                {
                    ("id", Columns.Int64([.. Enumerable.Range(start, n).Select(i => (long?)i)])),
                    ("ts", Columns.Timestamp([.. Enumerable.Range(0, n).Select(_ => (long?)now)])),
                };
                foreach (var f in features)
                {
                    columns.Add((f.Name, f.Type switch
                    {
                        DataType.Float64 => Columns.Float64([.. Enumerable.Range(0, n).Select(_ => (double?)random.NextDouble())]),
                        DataType.Int64 => Columns.Int64([.. Enumerable.Range(0, n).Select(_ => (long?)random.Next())]),
                        _ => Columns.String([.. Enumerable.Range(0, n).Select(_ => (string?)$"v{random.Next(100)}")]),
                    }));
                }

                await store.WriteAsync("wide", Table.From([.. columns]));
            }

            load.Stop();

            // One key in 20 is absent, as in `online-latency`.
            var keys = Enumerable.Range(0, 1 << 16).Select(_ => EntityKeyPart.FromInt64(random.Next(entities + (entities / 20)))).ToArray();
            var one = new FeatureValue[50];
            var batch = new FeatureValue[100 * 50];
            for (var i = 0; i < 500; i++)
            {
                await store.ReadAsync("wide", names, keys.AsMemory(i & 0xFFFF, 1), now, one);
            }

            var single = new long[reads];
            for (var i = 0; i < reads; i++)
            {
                var started = Stopwatch.GetTimestamp();
                await store.ReadAsync("wide", names, keys.AsMemory(i & 0xFFFF, 1), now, one);
                single[i] = Stopwatch.GetTimestamp() - started;
            }

            var batches = new long[Math.Max(1, reads / 10)];
            for (var i = 0; i < batches.Length; i++)
            {
                var at = (i * 100) & (0xFFFF - 127);
                var started = Stopwatch.GetTimestamp();
                await store.ReadAsync("wide", names, keys.AsMemory(at, 100), now, batch);
                batches[i] = Stopwatch.GetTimestamp() - started;
            }

            var s = LatencyPercentiles(single);
            var b = LatencyPercentiles(batches);
            return new Dictionary<string, object>
            {
                ["operation"] = "online-latency-postgres",
                ["entities"] = entities,
                ["features"] = 50,
                ["load_seconds"] = Math.Round(load.Elapsed.TotalSeconds, 2),
                ["reads"] = reads,
                ["single_p50_us"] = s.P50,
                ["single_p99_us"] = s.P99,
                ["batches"] = batches.Length,
                ["batch100_p50_us"] = b.P50,
                ["batch100_p99_us"] = b.P99,
            };
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecutePostgresAdminAsync(admin, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
        }
    });

    private static async Task ExecutePostgresAdminAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static (double P50, double P99) LatencyPercentiles(long[] ticks)
    {
        Array.Sort(ticks);
        double Micros(long t) => Math.Round(t * 1e6 / Stopwatch.Frequency, 1);
        return (Micros(ticks[ticks.Length / 2]), Micros(ticks[(int)(ticks.Length * 0.99)]));
    }
}
