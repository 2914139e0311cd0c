using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Strata.Postgres;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// Pushes over HTTP into a windowed view while another replica over the same PostgreSQL database holds it (its merge of
/// a push, or a materialization rebuilding the view): the caller is told so in time, as a conflict to retry.
/// </summary>
[RequiresPostgres]
public sealed class FeaturePushReplicaTests : PostgresDatabaseTests
{
    [BackendFact]
    public async Task A_push_into_a_view_another_replica_holds_is_answered_409_with_Retry_After_in_time_and_writes_nothing()
    {
        // The push's merge waited for the view's lock without a bound: the request hung until the client gave up, and
        // nothing told it why. This server's connections bound lock waits at half a second (lock_timeout).
        using var home = new TempFolder("strata-push-replica");
        var postgres = Database!.ConnectionString;
        var bounded = new NpgsqlConnectionStringBuilder(postgres) { Options = "-c lock_timeout=500" }.ToString();
        await using var server = await ServingServer.StartAsync(bounded, home.Path);
        await UserWindowsSeed.ApplyAsync(server.State.Home.Metadata, "flights", UserWindowsSeed.Count);
        using var http = server.Http("root");
        var now = DateTimeOffset.UtcNow;
        using (var first = await PushAsync(http, "/push?project=flights", now.AddMinutes(-2)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        // The other replica's merge of the view, held open as a materialization holds it while it rebuilds the windows.
        await using var replica = await PostgresOnlineStore.OpenAsync(postgres, "flights");
        await using (await replica.BeginMergeAsync(["user_windows"]))
        {
            foreach (var route in new[] { "/push?project=flights", "/api/v1/projects/flights/features/push" })
            {
                using var refused = await PushAsync(http, route, now.AddMinutes(-1));
                var text = await refused.Content.ReadAsStringAsync();

                Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
                Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
                Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
                var problem = JsonDocument.Parse(text).RootElement;
                Assert.Equal("conflict", problem.GetProperty("code").GetString());
                var detail = problem.GetProperty("detail").GetString()!;
                Assert.StartsWith("feature view 'user_windows' is locked by a merge in another server replica or process", detail, StringComparison.Ordinal);
                Assert.EndsWith("nothing was written; retry shortly", detail, StringComparison.Ordinal);
            }
        }

        using (var retried = await PushAsync(http, "/push?project=flights", now.AddMinutes(-1)))
        {
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        }

        // The first push and the retried one, online and offline: the refused ones left nothing.
        Assert.Equal(2, await CountAsync(http));
        var store = await server.State.Features.GetAsync("flights");
        long offline = 0;
        await foreach (var batch in store.Offline.ReadAsync(store.Repository.OfflineLayout("user_windows"), Timestamp.FromDateTime(now.AddHours(-1).UtcDateTime), Timestamp.FromDateTime(now.UtcDateTime), 1000))
        {
            offline += batch.RowCount;
        }

        Assert.Equal(2, offline);
    }

    /// <summary>Pushes one event of user "u" to both stores, answered within ten seconds (the old hang fails here).</summary>
    private static Task<HttpResponseMessage> PushAsync(HttpClient http, string route, DateTimeOffset at) =>
        http.PostAsJsonAsync(route, new
        {
            push_source_name = "ev",
            to = "online_and_offline",
            df = new Dictionary<string, object[]>
            {
                ["user"] = ["u"],
                ["ts"] = [at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)],
                ["amount"] = [1.0],
            },
        }).WaitAsync(TimeSpan.FromSeconds(10));

    private static async Task<long> CountAsync(HttpClient http)
    {
        using var response = await http.PostAsJsonAsync("/get-online-features?project=flights", new
        {
            features = new[] { "user_windows:cnt_1h" },
            entities = new Dictionary<string, string[]> { ["user"] = ["u"] },
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("results")[1].GetProperty("values")[0].GetInt64();
    }
}
