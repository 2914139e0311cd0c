using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;
using Strata.Postgres;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// <c>peer registry-scale sqlite|postgres [runs] [connection]</c>: loads RUNS runs × 10 metrics × 10 params (default
    /// 1,000,000; one experiment holds 100,000 of them), then measures through the store API: a filtered, sorted top-100
    /// search (p50/p95 over 200 queries), paging through the 100,000-run experiment, and batch logging throughput. The
    /// bulk load writes rows directly (it is set-up, not a measured path, and skips the audit log).
    /// </summary>
    private static void RegisterRegistryScale() => PeerMeasurements.Register("registry-scale", async args =>
    {
        var backend = args[0];
        var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        var folder = Path.Combine(Path.GetTempPath(), $"strata-registry-scale-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        string? pgDatabase = null;
        var admin = args.Length > 2 ? args[2] : "Host=127.0.0.1;Username=postgres;Password=strata;Database=postgres";
        try
        {
            IMetadataStore store;
            Func<Task<DbConnection>> connect;
            if (backend == "postgres")
            {
                pgDatabase = $"strata_scale_{Guid.NewGuid():N}";
                await using (var c = new NpgsqlConnection(admin))
                {
                    await c.OpenAsync().ConfigureAwait(false);
                    await using var create = new NpgsqlCommand($"CREATE DATABASE {pgDatabase}", c);
                    await create.ExecuteNonQueryAsync().ConfigureAwait(false);
                }

                var cs = new NpgsqlConnectionStringBuilder(admin) { Database = pgDatabase, CommandTimeout = 0 }.ToString();
                store = await PostgresMetadataStore.OpenAsync(cs).ConfigureAwait(false);
                connect = async () =>
                {
                    var c = new NpgsqlConnection(cs);
                    await c.OpenAsync().ConfigureAwait(false);
                    return c;
                };
            }
            else
            {
                var path = Path.Combine(folder, "strata.db");
                store = await SqliteMetadataStore.OpenAsync(path).ConfigureAwait(false);
                connect = async () =>
                {
                    var c = new SqliteConnection($"Data Source={path}");
                    await c.OpenAsync().ConfigureAwait(false);
                    return c;
                };
            }

            await using (store.ConfigureAwait(false))
            {
                var actor = new Actor("bench");
                await store.Projects.CreateAsync("scale", null, actor).ConfigureAwait(false);
                var big = await store.Tracking.CreateExperimentAsync("scale", "big", null, actor).ConfigureAwait(false);
                var rest = await store.Tracking.CreateExperimentAsync("scale", "rest", null, actor).ConfigureAwait(false);
                var load = Stopwatch.StartNew();
                await BulkLoadAsync(connect, backend, runs, big.Id, rest.Id).ConfigureAwait(false);
                var loadSeconds = load.Elapsed.TotalSeconds;

                // Search: filtered, sorted top-100 with varying thresholds and depths.
                var random = new Random(7);
                var times = new List<double>();
                for (var i = 0; i < 220; i++)
                {
                    var threshold = (0.5 + (random.NextDouble() * 0.45)).ToString("0.###", CultureInfo.InvariantCulture);
                    var depth = random.Next(3, 11);
                    var watch = Stopwatch.StartNew();
                    var page = await store.Tracking.SearchRunsAsync("scale", new RunQuery
                    {
                        Filter = $"metrics.auc > {threshold} and params.depth = '{depth}'",
                        OrderBy = "metrics.auc desc",
                        MaxResults = 100,
                    }).ConfigureAwait(false);
                    if (i >= 20)
                    {
                        times.Add(watch.Elapsed.TotalMilliseconds);
                    }

                    if (page.Runs.Count == 0)
                    {
                        throw new InvalidOperationException("the search found nothing; the data is wrong");
                    }
                }

                times.Sort();

                // Paging through the 100,000-run experiment.
                var paging = Stopwatch.StartNew();
                var fetched = 0;
                string? token = null;
                do
                {
                    var page = await store.Tracking.SearchRunsAsync("scale", new RunQuery { ExperimentIds = [big.Id], MaxResults = 1000, PageToken = token }).ConfigureAwait(false);
                    fetched += page.Runs.Count;
                    token = page.NextPageToken;
                }
                while (token is not null);

                var pagingSeconds = paging.Elapsed.TotalSeconds;

                // Batch logging: 50 batches of 1,000 points into one run.
                var run = await store.Tracking.CreateRunAsync("scale", big.Id, new RunSpec(), actor).ConfigureAwait(false);
                var logging = Stopwatch.StartNew();
                for (var b = 0; b < 50; b++)
                {
                    var points = Enumerable.Range(0, 1000).Select(s => new MetricPoint($"m{s % 10}", s * 0.001, (b * 1000) + s, 0)).ToList();
                    await store.Tracking.LogBatchAsync("scale", run.Id, points, null, null, actor).ConfigureAwait(false);
                }

                var pointsPerSecond = 50_000 / logging.Elapsed.TotalSeconds;
                return new Dictionary<string, object>
                {
                    ["operation"] = "registry-scale",
                    ["backend"] = backend,
                    ["runs"] = runs,
                    ["load_s"] = Math.Round(loadSeconds, 1),
                    ["search_p50_ms"] = Math.Round(times[times.Count / 2], 2),
                    ["search_p95_ms"] = Math.Round(times[(int)(times.Count * 0.95)], 2),
                    ["paging_runs"] = fetched,
                    ["paging_s"] = Math.Round(pagingSeconds, 2),
                    ["log_points_per_s"] = Math.Round(pointsPerSecond),
                };
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
            if (pgDatabase is not null)
            {
                NpgsqlConnection.ClearAllPools();
                await using var c = new NpgsqlConnection(admin);
                await c.OpenAsync().ConfigureAwait(false);
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {pgDatabase} WITH (FORCE)", c);
                await drop.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
        }
    });

    /// <summary>Inserts runs with 10 params and 10 latest metrics each (and one metric point per metric), in big transactions.</summary>
    private static async Task BulkLoadAsync(Func<Task<DbConnection>> connect, string backend, int runs, long big, long rest)
    {
        var random = new Random(42);
        await using var connection = await connect().ConfigureAwait(false);
        const int Batch = 20_000;
        for (var start = 0; start < runs; start += Batch)
        {
            await using var transaction = await connection.BeginTransactionAsync().ConfigureAwait(false);
            var end = Math.Min(runs, start + Batch);
            var runRows = new List<object[]>();
            var paramRows = new List<object[]>();
            var metricRows = new List<object[]>();
            for (var i = start; i < end; i++)
            {
                var id = i.ToString("x32", CultureInfo.InvariantCulture);
                var experiment = i < 100_000 ? big : rest;
                runRows.Add([id, "scale", experiment, $"run-{i}", "finished", 1_700_000_000_000_000L + i, 1_700_000_000_000_000L + i + 1, "bench"]);
                for (var k = 0; k < 10; k++)
                {
                    var value = k == 0 ? random.Next(3, 11).ToString(CultureInfo.InvariantCulture) : random.Next(1000).ToString(CultureInfo.InvariantCulture);
                    paramRows.Add([id, k == 0 ? "depth" : $"p{k}", value]);
                    var metric = k == 0 ? random.NextDouble() : random.NextDouble() * 10;
                    metricRows.Add([id, "scale", k == 0 ? "auc" : $"m{k}", metric, 0L, 1_700_000_000_000_000L + i]);
                }
            }

            if (backend == "postgres")
            {
                var pg = (NpgsqlConnection)connection;
                await CopyAsync(pg, "COPY runs (id, project, experiment_id, name, status, start_time, end_time, created_by) FROM STDIN (FORMAT BINARY)", runRows).ConfigureAwait(false);
                await CopyAsync(pg, "COPY run_params (run_id, key, value) FROM STDIN (FORMAT BINARY)", paramRows).ConfigureAwait(false);
                await CopyAsync(pg, "COPY latest_metrics (run_id, project, key, value, step, time) FROM STDIN (FORMAT BINARY)", metricRows).ConfigureAwait(false);
                await CopyAsync(pg, "COPY metric_points (run_id, key, value, step, time) FROM STDIN (FORMAT BINARY)", metricRows.Select(r => new[] { r[0], r[2], r[3], r[4], r[5] }).ToList()).ConfigureAwait(false);
            }
            else
            {
                await InsertAsync(connection, transaction, "INSERT INTO runs (id, project, experiment_id, name, status, start_time, end_time, created_by) VALUES ($0, $1, $2, $3, $4, $5, $6, $7)", runRows).ConfigureAwait(false);
                await InsertAsync(connection, transaction, "INSERT INTO run_params (run_id, key, value) VALUES ($0, $1, $2)", paramRows).ConfigureAwait(false);
                await InsertAsync(connection, transaction, "INSERT INTO latest_metrics (run_id, project, key, value, step, time) VALUES ($0, $1, $2, $3, $4, $5)", metricRows).ConfigureAwait(false);
                await InsertAsync(connection, transaction, "INSERT INTO metric_points (run_id, key, value, step, time) VALUES ($0, $2, $3, $4, $5)", metricRows).ConfigureAwait(false);
            }

            await transaction.CommitAsync().ConfigureAwait(false);
        }

        await using var analyze = connection.CreateCommand();
        analyze.CommandText = "ANALYZE";
        await analyze.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    /// <summary>Multi-row VALUES inserts of 200 rows through one prepared statement per shape.</summary>
    private static async Task InsertAsync(DbConnection connection, DbTransaction transaction, string sql, List<object[]> rows)
    {
        const int RowsPerStatement = 200;
        var head = sql[..sql.IndexOf("VALUES", StringComparison.Ordinal)];
        var tuple = sql[(sql.IndexOf("VALUES", StringComparison.Ordinal) + 6)..].Trim();
        var columns = System.Text.RegularExpressions.Regex.Matches(tuple, @"\$(\d+)").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
        DbCommand? command = null;
        var prepared = 0;
        try
        {
            for (var start = 0; start < rows.Count; start += RowsPerStatement)
            {
                var count = Math.Min(RowsPerStatement, rows.Count - start);
                if (command is null || prepared != count)
                {
                    if (command is not null)
                    {
                        await command.DisposeAsync().ConfigureAwait(false);
                    }

                    command = connection.CreateCommand();
                    command.Transaction = transaction;
                    command.CommandText = head + "VALUES " + string.Join(", ", Enumerable.Range(0, count).Select(r => "(" + string.Join(", ", columns.Select(c => $"$r{r}c{c}")) + ")"));
                    foreach (var r in Enumerable.Range(0, count))
                    {
                        foreach (var c in columns)
                        {
                            var parameter = command.CreateParameter();
                            parameter.ParameterName = $"$r{r}c{c}";
                            command.Parameters.Add(parameter);
                        }
                    }

                    prepared = count;
                }

                var i = 0;
                for (var r = 0; r < count; r++)
                {
                    foreach (var c in columns)
                    {
                        command.Parameters[i++].Value = rows[start + r][c];
                    }
                }

                await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            if (command is not null)
            {
                await command.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task CopyAsync(NpgsqlConnection connection, string copy, List<object[]> rows)
    {
        await using var writer = await connection.BeginBinaryImportAsync(copy).ConfigureAwait(false);
        foreach (var row in rows)
        {
            await writer.StartRowAsync().ConfigureAwait(false);
            foreach (var value in row)
            {
                await writer.WriteAsync(value).ConfigureAwait(false);
            }
        }

        await writer.CompleteAsync().ConfigureAwait(false);
    }
}
