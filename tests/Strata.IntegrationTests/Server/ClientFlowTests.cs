using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Strata.Client;
using Strata.Security;
using Strata.Server;
using Strata.Server.Hosting;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>The server flow through <see cref="StrataClient"/> on the test host.</summary>
public sealed class ClientFlowTests(StrataServerFactory server) : IClassFixture<StrataServerFactory>
{
    [Fact]
    public Task The_full_flow_works_through_the_client_on_the_test_host() =>
        ServerFlow.RunAsync(token => new StrataClient(server.CreateClient(), token), server.Keys["root"]);
}

/// <summary>The same flow against a real Kestrel on a free loopback port, with the embedded SQLite store.</summary>
public sealed class KestrelServerTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _home = new("strata-kestrel");
    private KestrelHost? _host;

    public async Task InitializeAsync() => _host = await KestrelHost.StartAsync(_home.Path);

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    public void Dispose() => _home.Dispose();

    [Fact]
    public Task The_full_flow_works_through_the_client_on_kestrel_with_sqlite() =>
        ServerFlow.RunAsync(token => StrataClient.Create(_host!.Url, token), _host!.RootToken);

    [Theory]
    [InlineData("/api/v1/projects/../../etc/models", "project")]
    [InlineData("/api/v1/projects/%2e%2e%2f/models", "project")]
    [InlineData("/api/v1/projects/flights/models/..;/aliases", "model")]
    [InlineData("/api/v1/projects/flights/runs/r1/artifacts/a/../../../etc/passwd", "path")]
    public async Task Raw_traversal_over_a_socket_is_refused_naming_the_field(string target, string field)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_host!.Url.Host, _host.Url.Port);
        await using var stream = tcp.GetStream();
        var request = $"GET {target} HTTP/1.1\r\nHost: {_host.Url.Authority}\r\nAuthorization: Bearer {_host.RootToken}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);

        var response = await reader.ReadToEndAsync();

        Assert.StartsWith("HTTP/1.1 400", response, StringComparison.Ordinal);
        Assert.Contains("application/problem+json", response, StringComparison.Ordinal);
        Assert.Contains($"field '{field}'", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_refuses_a_non_loopback_address_until_a_key_exists()
    {
        using var home = new TempFolder("strata-bind");
        await using var app = StrataServer.Build(["--urls", "http://0.0.0.0:0", "--Strata:Home", home.Path, "--Logging:LogLevel:Default=Warning"]);

        var e = await Assert.ThrowsAsync<StrataException>(() => app.StartAsync());

        Assert.Equal(ErrorCodes.Forbidden, e.Code);
        Assert.Contains("no API key exists", e.Message, StringComparison.Ordinal);
        await using var store = await StrataHome.OpenAsync(home.Path);
        await ServerLifetime.CheckBindAsync(["http://127.0.0.1:5080", "http://localhost:5080", "http://[::1]:5080"], store.Metadata.Keys, CancellationToken.None);
        await Assert.ThrowsAsync<StrataException>(() => ServerLifetime.CheckBindAsync(["http://10.1.2.3:5080"], store.Metadata.Keys, CancellationToken.None));
        await new Registry.RegistryService(store.Metadata, store.Artifacts).CreateKeyAsync(Caller.Local, "*", "root", Role.Admin, null);
        await ServerLifetime.CheckBindAsync(["http://0.0.0.0:5080", "http://*:5080", "http://[::]:5080"], store.Metadata.Keys, CancellationToken.None);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", true)]
    [InlineData("http://127.8.9.10:80", true)]
    [InlineData("https://localhost:5001", true)]
    [InlineData("http://[::1]:5080", true)]
    [InlineData("http://0.0.0.0:5080", false)]
    [InlineData("http://*:5080", false)]
    [InlineData("http://+:5080", false)]
    [InlineData("http://[::]:5080", false)]
    [InlineData("http://example.org:5080", false)]
    [InlineData("http://192.168.1.5:5080", false)]
    public void Only_loopback_addresses_count_as_loopback(string url, bool loopback) =>
        Assert.Equal(loopback, ServerLifetime.IsLoopback(url));
}

/// <summary>The same flow on Kestrel with metadata in PostgreSQL (artifacts stay in the home folder).</summary>
[RequiresPostgres]
public sealed class PostgresServerTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _home = new("strata-kestrel-pg");
    private KestrelHost? _host;
    private PostgresTestDatabase? _database;

    public async Task InitializeAsync()
    {
        if (new RequiresPostgresAttribute().SkipReason is not null)
        {
            return;
        }

        _database = await PostgresTestDatabase.CreateAsync();
        _host = await KestrelHost.StartAsync(_home.Path, _database.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    public void Dispose() => _home.Dispose();

    [BackendFact]
    public async Task The_full_flow_works_through_the_client_on_kestrel_with_postgres()
    {
        using (var client = StrataClient.Create(_host!.Url))
        {
            Assert.Equal("postgres", (await client.GetReadyAsync()).Backend);
        }

        await ServerFlow.RunAsync(token => StrataClient.Create(_host.Url, token), _host.RootToken);
    }
}

/// <summary>The server on Kestrel at 127.0.0.1 on a port the system picks, with an admin key for every project.</summary>
internal sealed class KestrelHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KestrelHost(WebApplication app, Uri url, string rootToken)
    {
        _app = app;
        Url = url;
        RootToken = rootToken;
    }

    public Uri Url { get; }

    public string RootToken { get; }

    public static async Task<KestrelHost> StartAsync(string home, string? postgres = null)
    {
        string[] args = ["--urls", "http://127.0.0.1:0", "--Strata:Home", home, "--Logging:LogLevel:Default=Warning"];
        var app = StrataServer.Build(postgres is null ? args : [.. args, "--Strata:Postgres", postgres]);
        await app.StartAsync();
        var root = await app.Services.GetRequiredService<ServerState>().Registry.CreateKeyAsync(Caller.Local, "*", "root", Role.Admin, "tests");
        return new KestrelHost(app, new Uri(app.Urls.First()), root.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
