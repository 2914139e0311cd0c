using System.Diagnostics;
using System.Net;
using Strata.Security;
using Strata.Testing;
using Xunit.Abstractions;

namespace Strata.IntegrationTests.Server;

/// <summary>Two servers on one PostgreSQL metadata store (and one shared home for artifacts), as replicas run.</summary>
[RequiresPostgres]
public sealed class ServingReplicaTests(ITestOutputHelper output) : PostgresDatabaseTests, IDisposable
{
    private readonly TempFolder _home = new("strata-replicas");

    public void Dispose() => _home.Dispose();

    [BackendFact]
    public async Task A_replica_picks_up_an_alias_move_within_five_seconds_without_a_restart()
    {
        await using var a = await ServingServer.StartAsync(Postgres, _home.Path);
        await using var b = await ServingServer.StartAsync(Postgres, _home.Path, seed: false, "--Strata:ServingPollMilliseconds", "1000");
        foreach (var (name, token) in a.Keys)
        {
            b.Keys[name] = token;
        }

        await a.DeployAsync("replicated", new { project = "flights", model = "delay@live" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = b.Http();
        Assert.Equal(1, await WaitForVersionAsync(http, header, rows, version: 1));

        await a.Registry.SetAliasAsync(Caller.Local, "flights", "delay", "live", 2, "promote");
        var moved = Stopwatch.StartNew();
        var served = await WaitForVersionAsync(http, header, rows, version: 2);
        output.WriteLine($"replica served version 2 after {moved.ElapsedMilliseconds} ms");

        Assert.Equal(2, served);
        Assert.True(moved.Elapsed < TimeSpan.FromSeconds(5), $"the replica took {moved.Elapsed.TotalSeconds:F1} s");
    }

    [BackendFact]
    public async Task Metrics_are_scraped_while_the_metadata_store_does_not_answer()
    {
        await using var server = await ServingServer.StartAsync(Postgres, _home.Path);
        await server.DeployAsync("outage", new { project = "flights", model = "delay@live" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = server.Http();
        using (var first = await http.GetAsync("/metrics"))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode); // the key is now known to the server
        }

        var database = Database!.Name;
        await AdminAsync($"ALTER DATABASE {database} ALLOW_CONNECTIONS false");
        try
        {
            await AdminAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
            Npgsql.NpgsqlConnection.ClearAllPools();

            using var predicted = await http.PostAsync("/v1/endpoints/outage/predict", ServingTests.Body(header, rows));
            using var scraped = await http.GetAsync("/metrics");

            Assert.Equal(HttpStatusCode.OK, predicted.StatusCode); // served from the loaded model, as before
            Assert.Equal(HttpStatusCode.OK, scraped.StatusCode); // it was a 503: the scrape checked the key in the store
            Assert.Contains("strata_serving_requests_total{endpoint=\"outage\"", await scraped.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            await AdminAsync($"ALTER DATABASE {database} ALLOW_CONNECTIONS true");
        }
    }

    private static async Task AdminAsync(string sql)
    {
        await using var admin = new Npgsql.NpgsqlConnection(RequiresPostgresAttribute.ConnectionString);
        await admin.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, admin);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Predicts on the replica until it answers with the version (or 10 s pass); returns the last version seen.</summary>
    private static async Task<int> WaitForVersionAsync(HttpClient http, string[] header, List<double[]> rows, int version)
    {
        var last = 0;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            using var response = await http.PostAsync("/v1/endpoints/replicated/predict", ServingTests.Body(header, rows));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                last = (await ServingServer.JsonAsync(response)).GetProperty("version").GetInt32();
                if (last == version)
                {
                    return last;
                }
            }

            await Task.Delay(50);
        }

        return last;
    }
}
