using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Strata.Server;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>How <see cref="StrataServer.Build(string[])"/> sets up the host itself, apart from any route.</summary>
public sealed class ServerHostTests
{
    [Fact]
    public async Task Settings_files_are_read_but_not_watched_unless_asked()
    {
        using var home = new TempFolder("strata-server");

        var watched = new List<bool>();
        foreach (var extra in new[] { Array.Empty<string>(), ["--hostBuilder:reloadConfigOnChange=true"] })
        {
            await using var app = StrataServer.Build(["--Strata:Home", home.Path, .. extra], b => b.WebHost.UseTestServer());
            var files = ((IConfigurationRoot)app.Configuration).Providers.OfType<FileConfigurationProvider>().ToList();
            Assert.Contains(files, f => f.Source.Path == "appsettings.json");
            watched.Add(files.Any(f => f.Source.ReloadOnChange));
        }

        Assert.Equal([false, true], watched);
    }
}
