using System.Net;
using System.Text;
using System.Text.Json;
using Npgsql;
using Strata.Security;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// Errors of the metadata store rather than of the request, on Open Inference Protocol's routes: a lock wait the
/// database cut short and a store that does not answer are the protocol's <c>{"error": "…"}</c> with the status and
/// Retry-After they have on every other route, on the lean infer path and on the general pipeline alike. Each request
/// carries a key the server has not seen, so even the inference routes (which keep the keys they checked) ask the store.
/// </summary>
[RequiresPostgres]
public sealed class InferenceStoreErrorTests : PostgresDatabaseTests
{
    private const string LockWait = "waited for a lock that another server replica or process holds longer than the database's lock_timeout allows, and was stopped; retry shortly";

    /// <summary>The requests checked: metadata (general pipeline), infer (lean path), and infer by an escaped path (general pipeline).</summary>
    private static readonly (HttpMethod Method, string Path, string Operation)[] Requests =
    [
        (HttpMethod.Get, "/v2/models/flights", "GET /v2/models/flights"),
        (HttpMethod.Post, "/v2/models/flights/infer", "POST /v2/models/flights/infer"),
        (HttpMethod.Post, "/v2/models/fl%69ghts/infer", "POST /v2/models/flights/infer"),
    ];

    [BackendFact]
    public async Task A_lock_wait_cut_short_on_a_v2_route_is_the_protocol_error_409_with_Retry_After()
    {
        using var home = new TempFolder("strata-v2-lock");
        var bounded = new NpgsqlConnectionStringBuilder(Postgres) { Options = "-c lock_timeout=300" }.ToString();
        await using var server = await ServingServer.StartAsync(bounded, home.Path);
        await server.DeployAsync("flights", new { project = "flights", model = "delay@live" });
        var tokens = new List<string>();
        foreach (var _ in Requests)
        {
            tokens.Add((await server.Registry.CreateKeyAsync(Caller.Local, "flights", "fresh", Role.Viewer, null)).Token);
        }

        // Another session holds the keys table, as a migration or a key rotation on another replica may: the key's
        // lookup waits for it, and the connection's lock_timeout stops the wait.
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE", connection, transaction))
        {
            await command.ExecuteNonQueryAsync();
        }

        for (var i = 0; i < Requests.Length; i++)
        {
            var (method, path, operation) = Requests[i];
            using var response = await SendAsync(server, tokens[i], method, path);

            await AssertErrorAsync(response, HttpStatusCode.Conflict, $"{operation} {LockWait}", $"{method} {path}");
            Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        }
    }

    [BackendFact]
    public async Task A_v2_request_while_the_metadata_store_does_not_answer_is_the_protocol_error_503_with_Retry_After()
    {
        using var home = new TempFolder("strata-v2-outage");
        await using var server = await ServingServer.StartAsync(Postgres, home.Path);
        await server.DeployAsync("flights", new { project = "flights", model = "delay@live" });
        var tokens = new List<string>();
        foreach (var _ in Requests)
        {
            tokens.Add((await server.Registry.CreateKeyAsync(Caller.Local, "flights", "fresh", Role.Viewer, null)).Token);
        }

        var database = Database!.Name;
        await AdminAsync($"ALTER DATABASE {database} ALLOW_CONNECTIONS false");
        try
        {
            await AdminAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
            NpgsqlConnection.ClearAllPools();

            for (var i = 0; i < Requests.Length; i++)
            {
                var (method, path, _) = Requests[i];
                using var response = await SendAsync(server, tokens[i], method, path);

                await AssertErrorAsync(response, HttpStatusCode.ServiceUnavailable, "the metadata store does not answer; retry shortly", $"{method} {path}");
                Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
            }
        }
        finally
        {
            await AdminAsync($"ALTER DATABASE {database} ALLOW_CONNECTIONS true");
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(ServingServer server, string token, HttpMethod method, string path)
    {
        using var http = server.Http(key: null);
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        using var request = new HttpRequestMessage(method, path);
        if (method == HttpMethod.Post)
        {
            request.Content = new StringContent("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP64", "data": [1]}]}""", Encoding.UTF8, "application/json");
        }

        return await http.SendAsync(request);
    }

    /// <summary>The protocol's error object and nothing else, with the status and the request id header.</summary>
    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string message, string what)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{what}: {(int)response.StatusCode} {body}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/json", $"{what}: {response.Content.Headers.ContentType} {body}");
        using var error = JsonDocument.Parse(body);
        Assert.Equal(["error"], error.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(message, error.RootElement.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(response.Headers.GetValues("X-Request-Id").Single()));
    }

    private static async Task AdminAsync(string sql)
    {
        await using var admin = new NpgsqlConnection(RequiresPostgresAttribute.ConnectionString);
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand(sql, admin);
        await command.ExecuteNonQueryAsync();
    }
}
