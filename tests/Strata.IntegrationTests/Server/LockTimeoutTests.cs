using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Strata.Features.Definitions;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// A server whose PostgreSQL connections bound lock waits themselves (<c>lock_timeout</c> on the connection string): a
/// wait that runs out outside the stores' own bounded waits is a conflict to retry, not the metadata store being down.
/// </summary>
[RequiresPostgres]
public sealed class LockTimeoutTests : PostgresDatabaseTests
{
    private const string Definitions = """
        entities:
          - name: user
            join_keys: [{ name: user, type: string }]
        sources:
          - name: ev
            kind: push
            timestamp_field: ts
            schema:
              - { name: user, type: string }
              - { name: ts, type: timestamp }
              - { name: amount, type: float64 }
        feature_views:
          - name: user_amounts
            entities: [user]
            source: ev
            features:
              - { name: amount, type: float64 }
        """;

    [BackendFact]
    public async Task A_lock_wait_cut_short_by_lock_timeout_is_answered_409_with_Retry_After_naming_the_request()
    {
        // Npgsql counts lock_not_available (55P03) transient, so a push whose write waited out the connection's
        // lock_timeout was answered 503, "the metadata store does not answer", while the database answered at once.
        using var home = new TempFolder("strata-lock-timeout");
        var bounded = new NpgsqlConnectionStringBuilder(Postgres) { Options = "-c lock_timeout=300" }.ToString();
        await using var server = await ServingServer.StartAsync(bounded, home.Path);
        await new FeatureRegistry(server.State.Home.Metadata).ApplyAsync("flights", FeatureRepositoryYaml.Parse([("features.yaml", Definitions)]), force: false, new Actor("test"));
        using var http = server.Http("root");
        var now = DateTimeOffset.UtcNow;
        using (var first = await PushAsync(http, now.AddMinutes(-2)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        // Another session holds the view's row, as a change of the definitions on another replica does while it runs:
        // the push's write waits for its share lock on that row, and the connection's lock_timeout stops the wait.
        await using (var connection = new NpgsqlConnection(Postgres))
        {
            await connection.OpenAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var command = new NpgsqlCommand("SELECT 1 FROM strata_online.views WHERE project = 'flights' AND name = 'user_amounts' FOR UPDATE", connection, transaction))
            {
                Assert.Equal(1, await command.ExecuteScalarAsync());
            }

            using var refused = await PushAsync(http, now.AddMinutes(-1));
            var text = await refused.Content.ReadAsStringAsync();

            Assert.True(refused.StatusCode == HttpStatusCode.Conflict, $"{(int)refused.StatusCode}: {text}");
            Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.Equal("conflict", problem.GetProperty("code").GetString());
            Assert.Equal(
                "POST /push waited for a lock that another server replica or process holds longer than the database's lock_timeout allows, and was stopped; retry shortly",
                problem.GetProperty("detail").GetString());
        }

        using (var retried = await PushAsync(http, now.AddMinutes(-1)))
        {
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        }
    }

    /// <summary>Pushes one event of user "u" to the online store, answered within ten seconds.</summary>
    private static Task<HttpResponseMessage> PushAsync(HttpClient http, DateTimeOffset at) =>
        http.PostAsJsonAsync("/push?project=flights", new
        {
            push_source_name = "ev",
            to = "online",
            df = new Dictionary<string, object[]>
            {
                ["user"] = ["u"],
                ["ts"] = [at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)],
                ["amount"] = [1.0],
            },
        }).WaitAsync(TimeSpan.FromSeconds(10));
}
