using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// Windowed aggregates over HTTP on a restarted server: events pushed with the default `to: online` keep counting after
/// the restart (they went back to the last event alone, cnt_1h 3 → 1), and an online read answers the window ending at
/// the read (an event 3 hours old counted in a 1 hour window, as of the entity's newest event).
/// </summary>
public abstract class OnlineWindowRestartTests : IAsyncLifetime
{
    /// <summary>The PostgreSQL connection string (metadata, offline and online stores), or null for the embedded home.</summary>
    protected string? Postgres { get; set; }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [BackendFact]
    public async Task A_restart_keeps_the_window_and_reads_answer_it_as_of_now()
    {
        using var home = new TempFolder("strata-window-restart");
        var now = DateTimeOffset.UtcNow;
        Dictionary<string, string> keys;
        await using (var server = await ServingServer.StartAsync(Postgres, home.Path))
        {
            keys = new Dictionary<string, string>(server.Keys);
            await UserWindowsSeed.ApplyAsync(server.State.Home.Metadata, "flights", UserWindowsSeed.Count, UserWindowsSeed.Sum, UserWindowsSeed.Mean);
            using var http = server.Http("root");
            await PushAsync(http, ("c", now.AddMinutes(-10), 1), ("c", now.AddMinutes(-9), 1));
            Assert.Equal(2, (await ReadAsync(http, "c"))["cnt_1h"].Value.GetInt64());
            await PushAsync(http, ("c", now.AddMinutes(-8), 1));
            Assert.Equal(3, (await ReadAsync(http, "c"))["cnt_1h"].Value.GetInt64());
        }

        await using var restarted = await ServingServer.StartAsync(Postgres, home.Path, seed: false);
        foreach (var (name, token) in keys)
        {
            restarted.Keys[name] = token;
        }

        using var client = restarted.Http("root");
        await PushAsync(client, ("c", now.AddMinutes(-7), 4));
        await PushAsync(client, ("b", now.AddHours(-3), 5));
        var c = await ReadAsync(client, "c");
        var b = await ReadAsync(client, "b");

        Assert.Equal((4L, 7.0, 1.75), (c["cnt_1h"].Value.GetInt64(), c["sum_1h"].Value.GetDouble(), c["mean_1h"].Value.GetDouble()));
        Assert.Equal((0L, 0.0), (b["cnt_1h"].Value.GetInt64(), b["sum_1h"].Value.GetDouble()));
        Assert.Equal(JsonValueKind.Null, b["mean_1h"].Value.ValueKind);
        Assert.Equal(["PRESENT", "PRESENT", "NULL_VALUE"], new[] { "cnt_1h", "sum_1h", "mean_1h" }.Select(f => b[f].Status));
    }

    private static async Task PushAsync(HttpClient http, params (string User, DateTimeOffset At, double Amount)[] rows)
    {
        var body = new
        {
            push_source_name = "ev",
            df = new Dictionary<string, object[]>
            {
                ["user"] = [.. rows.Select(r => r.User)],
                ["ts"] = [.. rows.Select(r => r.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture))],
                ["amount"] = [.. rows.Select(r => (object)r.Amount)],
            },
        };
        using var response = await http.PostAsJsonAsync("/push?project=flights", body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>One user's window features from /get-online-features: value and status by feature name.</summary>
    private static async Task<Dictionary<string, (JsonElement Value, string Status)>> ReadAsync(HttpClient http, string user)
    {
        using var response = await http.PostAsJsonAsync("/get-online-features?project=flights", new
        {
            features = new[] { "user_windows:cnt_1h", "user_windows:sum_1h", "user_windows:mean_1h" },
            entities = new Dictionary<string, string[]> { ["user"] = [user] },
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        var body = JsonDocument.Parse(text).RootElement;
        var names = body.GetProperty("metadata").GetProperty("feature_names").EnumerateArray().Select(n => n.GetString()!).ToArray();
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        return names.Select((name, i) => (name, i)).Skip(1).ToDictionary(
            n => n.name,
            n => (results[n.i].GetProperty("values")[0].Clone(), results[n.i].GetProperty("statuses")[0].GetString()!));
    }
}

/// <summary>The embedded home: SQLite metadata, Arrow offline store, log-and-snapshot online store.</summary>
public sealed class EmbeddedOnlineWindowRestartTests : OnlineWindowRestartTests;

/// <summary>Everything on PostgreSQL.</summary>
[RequiresPostgres]
public sealed class PostgresOnlineWindowRestartTests : OnlineWindowRestartTests
{
    private PostgresTestDatabase? _database;

    public override async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateUnlessSkippedAsync();
        Postgres = _database?.ConnectionString;
    }

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
