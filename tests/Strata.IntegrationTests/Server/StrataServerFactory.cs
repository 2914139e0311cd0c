using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Strata.Client;
using Strata.Registry;
using Strata.Security;
using Strata.Server.Hosting;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The real server on the test host, over a fresh home folder, with small body limits (64 KiB of JSON, 1 MiB per
/// artifact) so the limits can be tested cheaply. Seeds project "flights" with a key per role, a viewer and an admin of
/// project "other", and an admin of every project.
/// </summary>
public sealed class StrataServerFactory : WebApplicationFactory<global::Strata.Server.Program>, IAsyncLifetime
{
    public const long MaxBody = 64 * 1024;
    public const long MaxArtifact = 1024 * 1024;

    private readonly TempFolder _home = new("strata-server");

    public string Home => _home.Path;

    /// <summary>The server's pipelines folder (Strata:Pipelines:Folder), created empty.</summary>
    public string PipelinesFolder => Path.Combine(_home.Path, "pipeline-specs");

    /// <summary>Tokens by name: viewer, editor, deployer, admin (of "flights"), other-viewer, other-admin, root (admin of "*").</summary>
    public Dictionary<string, string> Keys { get; } = new(StringComparer.Ordinal);

    internal RegistryService Registry => Services.GetRequiredService<ServerState>().Registry;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Strata:Home", _home.Path);
        Directory.CreateDirectory(PipelinesFolder);
        builder.UseSetting("Strata:Pipelines:Folder", PipelinesFolder);
        builder.UseSetting("Strata:MaxRequestBodyBytes", MaxBody.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Strata:MaxArtifactBytes", MaxArtifact.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseEnvironment("Production");
    }

    public async Task InitializeAsync()
    {
        _ = Server; // starts the host (and opens the stores)
        await Registry.CreateProjectAsync(Caller.Local, "flights", "test project");
        await Registry.CreateProjectAsync(Caller.Local, "other", null);
        foreach (var role in new[] { Role.Viewer, Role.Editor, Role.Deployer, Role.Admin })
        {
            var name = AccessPolicy.Name(role);
            Keys[name] = (await Registry.CreateKeyAsync(Caller.Local, "flights", $"{name}-bot", role, null)).Token;
        }

        Keys["other-viewer"] = (await Registry.CreateKeyAsync(Caller.Local, "other", "other-viewer", Role.Viewer, null)).Token;
        Keys["other-admin"] = (await Registry.CreateKeyAsync(Caller.Local, "other", "other-admin", Role.Admin, null)).Token;
        Keys["root"] = (await Registry.CreateKeyAsync(Caller.Local, "*", "root", Role.Admin, null)).Token;
    }

    /// <summary>An HttpClient sending one of the seeded keys (or none).</summary>
    public HttpClient Http(string? key = null)
    {
        var http = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Keys[key]);
        }

        return http;
    }

    /// <summary>The typed client with one of the seeded keys.</summary>
    public StrataClient Client(string? key) => new(CreateClient(), key is null ? null : Keys[key]);

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        _home.Dispose();
    }
}
