using System.Diagnostics;
using System.Net;
using Strata.Security;
using Strata.Testing;
using Xunit.Abstractions;

namespace Strata.IntegrationTests.Server;

/// <summary>Two servers on one PostgreSQL metadata store (and one shared home for artifacts), as replicas run.</summary>
[RequiresPostgres]
public sealed class ServingReplicaTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _home = new("strata-replicas");
    private string? _postgres;
    private Func<Task>? _drop;

    public async Task InitializeAsync()
    {
        if (new RequiresPostgresAttribute().SkipReason is null)
        {
            (_postgres, _drop) = await RequiresPostgresAttribute.CreateDatabaseAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (_drop is not null)
        {
            await _drop();
        }
    }

    public void Dispose() => _home.Dispose();

    [BackendFact]
    public async Task A_replica_picks_up_an_alias_move_within_five_seconds_without_a_restart()
    {
        await using var a = await ServingServer.StartAsync(_postgres, _home.Path);
        await using var b = await ServingServer.StartAsync(_postgres, _home.Path, seed: false, "--Strata:ServingPollMilliseconds", "1000");
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
