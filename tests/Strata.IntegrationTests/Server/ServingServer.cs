using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Strata.Learning;
using Strata.Registry;
using Strata.Security;
using Strata.Server;
using Strata.Server.Hosting;
using Strata.Serving;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The real server on Kestrel at a free 127.0.0.1 port, over a fresh home (or PostgreSQL metadata), polling the store
/// every 100 ms. Seeds project "flights" with keys (viewer, deployer, other-viewer of project "other", root) and the
/// imported flights XGBoost model as versions 1 and 2 of model "delay" with alias "live" on version 1.
/// </summary>
public sealed class ServingServer : IAsyncDisposable
{
    public const long MaxBody = 256 * 1024;

    private readonly TempFolder? _ownHome;
    private WebApplication? _app;

    private ServingServer(string home, TempFolder? ownHome)
    {
        Home = home;
        _ownHome = ownHome;
    }

    public string Home { get; }

    public Uri Address { get; private set; } = null!;

    public Dictionary<string, string> Keys { get; } = new(StringComparer.Ordinal);

    internal ServerState State => _app!.Services.GetRequiredService<ServerState>();

    internal IServiceProvider Services => _app!.Services;

    internal RegistryService Registry => State.Registry;

    internal ServingRuntime Serving => State.Serving;

    /// <summary>The flights model (the repository's copy of the peers' XGBoost model).</summary>
    public static string FlightsModel => SharedData.InRepository("tests", "fixtures", "xgboost", "flights_xgb.json");

    /// <summary>Starts a server; with <paramref name="postgres"/> its metadata is there (and <paramref name="home"/> may be shared).</summary>
    public static Task<ServingServer> StartAsync(string? postgres = null, string? home = null, bool seed = true, params string[] extra) =>
        StartAsync(configure: null, postgres, home, seed, extra);

    /// <summary>Starts a server living in <paramref name="clock"/>'s time (prediction times, the monitors' now) when it is given.</summary>
    public static Task<ServingServer> StartWithClockAsync(TimeProvider? clock, string? postgres, string? home, bool seed, params string[] extra) =>
        StartAsync(clock is null ? null : builder => builder.Services.AddSingleton(clock), postgres, home, seed, extra);

    /// <summary>Starts a seeded server on a fresh home after <paramref name="configure"/> adjusts its builder (outputs, test hooks).</summary>
    public static Task<ServingServer> StartWithAsync(Action<WebApplicationBuilder> configure, params string[] extra) =>
        StartAsync(configure, postgres: null, home: null, seed: true, extra);

    /// <summary>Starts a server on <paramref name="home"/> after <paramref name="configure"/> adjusts its builder.</summary>
    public static Task<ServingServer> StartWithAsync(Action<WebApplicationBuilder> configure, string home, bool seed, params string[] extra) =>
        StartAsync(configure, postgres: null, home, seed, extra);

    private static async Task<ServingServer> StartAsync(Action<WebApplicationBuilder>? configure, string? postgres, string? home, bool seed, string[] extra)
    {
        var own = home is null ? new TempFolder("strata-serving") : null;
        var server = new ServingServer(home ?? own!.Path, own);
        List<string> args = ["--urls", "http://127.0.0.1:0", "--Strata:Home", server.Home, "--Strata:ServingPollMilliseconds", "100",
            "--Strata:MaxRequestBodyBytes", MaxBody.ToString(CultureInfo.InvariantCulture), "--Strata:Config", Path.Combine(server.Home, "strata.yaml"), "--Logging:LogLevel:Default", "Warning", .. extra];
        if (postgres is not null)
        {
            args.AddRange(["--Strata:Postgres", postgres]);
        }

        if (!File.Exists(Path.Combine(server.Home, "strata.yaml")))
        {
            await File.WriteAllTextAsync(Path.Combine(server.Home, "strata.yaml"), "# no endpoints declared here\n");
        }

        server._app = StrataServer.Build([.. args], configure);
        await server._app.StartAsync();
        var address = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address);
        if (seed)
        {
            await server.SeedAsync();
        }

        return server;
    }

    /// <summary>The flights model as a package stream.</summary>
    public static async Task<MemoryStream> FlightsPackageAsync()
    {
        var model = XGBoostImporter.Load(FlightsModel);
        var stream = new MemoryStream();
        await ModelPackage.SaveAsync(model, stream);
        stream.Position = 0;
        return stream;
    }

    /// <summary>Registers the flights model as the next version of a model.</summary>
    public async Task<int> RegisterFlightsAsync(string model = "delay")
    {
        using var package = await FlightsPackageAsync();
        var version = await Registry.UploadVersionAsync(Caller.Local, "flights", model, new VersionRegistration { Learner = "xgboost" }, package);
        return version.Version;
    }

    /// <summary>
    /// Registers, as version 1 of a new model in project flights, a small model another learner trains on random values
    /// of the flights model's inputs: a challenger that is another kind of model than the champion.
    /// </summary>
    public async Task RegisterOtherModelAsync(string name, ILearner learner, LearningTask task)
    {
        var random = new Random(7);
        var columns = Sample(1).Header.Take(11)
            .Select(input => (input, (Column)Columns.Float64([.. Enumerable.Range(0, 60).Select(_ => (double?)random.NextDouble())])))
            .Append(("y", Columns.Int64([.. Enumerable.Range(0, 60).Select(i => (long?)(i % 2))])));
        var model = await learner.FitAsync(TrainingData.FromTable(Table.From([.. columns]), new TrainingSpec { Label = "y", Task = task }));
        await Registry.CreateModelAsync(Caller.Local, "flights", name, null, null);
        using var package = new MemoryStream();
        await ModelPackage.SaveAsync(model, package);
        package.Position = 0;
        await Registry.UploadVersionAsync(Caller.Local, "flights", name, new VersionRegistration(), package);
    }

    public async Task SeedAsync()
    {
        await Registry.CreateProjectAsync(Caller.Local, "flights", null);
        await Registry.CreateProjectAsync(Caller.Local, "other", null);
        Keys["viewer"] = (await Registry.CreateKeyAsync(Caller.Local, "flights", "viewer-bot", Role.Viewer, null)).Token;
        Keys["deployer"] = (await Registry.CreateKeyAsync(Caller.Local, "flights", "deployer-bot", Role.Deployer, null)).Token;
        Keys["other-viewer"] = (await Registry.CreateKeyAsync(Caller.Local, "other", "other-viewer", Role.Viewer, null)).Token;
        Keys["root"] = (await Registry.CreateKeyAsync(Caller.Local, "*", "root", Role.Admin, null)).Token;
        await Registry.CreateModelAsync(Caller.Local, "flights", "delay", null, null);
        await RegisterFlightsAsync();
        await RegisterFlightsAsync();
        await Registry.SetAliasAsync(Caller.Local, "flights", "delay", "live", 1, null);
    }

    /// <summary>Declares an endpoint through the API (as the root key).</summary>
    public async Task DeployAsync(string name, object deployment)
    {
        using var http = Http("root");
        using var response = await http.PutAsJsonAsync($"/v1/endpoints/{name}", deployment);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"deploying {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    public HttpClient Http(string? key = "viewer")
    {
        var http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Keys[key]);
        }

        return http;
    }

    /// <summary>One row of the flights sample as a JSON object of named fields.</summary>
    public static string RowJson(IReadOnlyList<string> names, double[] row)
    {
        var sb = new StringBuilder("{");
        for (var i = 0; i < names.Count; i++)
        {
            sb.Append(i > 0 ? "," : "").Append('"').Append(names[i]).Append("\":").Append(double.IsNaN(row[i]) ? "null" : row[i].ToString("R", CultureInfo.InvariantCulture));
        }

        return sb.Append('}').ToString();
    }

    /// <summary>The flights sample: header and rows (the model's inputs first, then xgb_margin and xgb_pred).</summary>
    public static (string[] Header, List<double[]> Rows) Sample(int max = int.MaxValue)
    {
        using var file = File.OpenRead(SharedData.InRepository("tests", "fixtures", "xgboost", "flights_sample.csv.gz"));
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        var header = reader.ReadLine()!.Split(',');
        var rows = new List<double[]>();
        while (rows.Count < max && reader.ReadLine() is { Length: > 0 } line)
        {
            rows.Add([.. line.Split(',').Select(c => c.Length == 0 ? double.NaN : double.Parse(c, CultureInfo.InvariantCulture))]);
        }

        return (header, rows);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _ownHome?.Dispose();
    }
}
