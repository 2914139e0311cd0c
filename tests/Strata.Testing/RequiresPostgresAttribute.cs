using Npgsql;

namespace Strata.Testing;

/// <summary>
/// PostgreSQL tests run against the server named by STRATA_TEST_POSTGRES (a connection string; default
/// Host=127.0.0.1;Username=postgres;Password=strata). Without a reachable server they are skipped with a message —
/// unless STRATA_REQUIRE_POSTGRES=1 (CI), where they run and fail loudly.
/// </summary>
public sealed class RequiresPostgresAttribute : BackendAttribute
{
    private static readonly Lazy<string?> Reachability = new(Probe);

    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("STRATA_TEST_POSTGRES") is { Length: > 0 } env
            ? env
            : "Host=127.0.0.1;Port=5432;Username=postgres;Password=strata;Database=postgres;Timeout=3";

    public override string? SkipReason => Environment.GetEnvironmentVariable("STRATA_REQUIRE_POSTGRES") == "1" ? null : Reachability.Value;

    private static string? Probe()
    {
        try
        {
            using var connection = new NpgsqlConnection(ConnectionString);
            connection.Open();
            return null;
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or System.Net.Sockets.SocketException or TimeoutException)
        {
            return $"no PostgreSQL server reachable ({e.Message}); set STRATA_TEST_POSTGRES to a connection string, or STRATA_REQUIRE_POSTGRES=1 to fail instead";
        }
    }
}
