using System.Text;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
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

    [Theory]
    [InlineData(new string[0], 30)]
    [InlineData(new[] { "--shutdownTimeoutSeconds", "45" }, 45)]
    [InlineData(new[] { "--shutdownTimeoutSeconds=0" }, 0)]
    [InlineData(new[] { "--HostOptions:ShutdownTimeout", "00:01:30" }, 90)]
    [InlineData(new[] { "--shutdownTimeoutSeconds", "90", "--HostOptions:ShutdownTimeout", "00:01:30" }, 90)]
    public async Task The_shutdown_timeout_is_the_configured_one_else_30_s(string[] settings, int seconds)
    {
        // The server set 30 s in code, after the host had read the operator's shutdownTimeoutSeconds, so it always won.
        using var home = new TempFolder("strata-server");

        await using var app = StrataServer.Build(["--Strata:Home", home.Path, .. settings], b => b.WebHost.UseTestServer());

        Assert.Equal(TimeSpan.FromSeconds(seconds), app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
    }

    [Theory]
    [InlineData("shutdownTimeoutSeconds", "abc")]
    [InlineData("shutdownTimeoutSeconds", "30s")]
    [InlineData("shutdownTimeoutSeconds", "-5")]
    [InlineData("shutdownTimeoutSeconds", "1.5")]
    [InlineData("shutdownTimeoutSeconds", "86401")]
    [InlineData("HostOptions:ShutdownTimeout", "soon")]
    [InlineData("HostOptions:ShutdownTimeout", "-00:00:01")]
    public void A_shutdown_timeout_that_is_not_one_stops_the_start_naming_the_setting(string setting, string value)
    {
        // The host ignored a shutdownTimeoutSeconds it could not parse without a word, and kept 30 s.
        using var home = new TempFolder("strata-server");

        var e = Assert.Throws<StrataException>(() => StrataServer.Build(["--Strata:Home", home.Path, $"--{setting}", value], b => b.WebHost.UseTestServer()));

        Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code);
        Assert.Contains($"setting {setting} is '{value}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_shutdown_timeouts_that_disagree_are_refused()
    {
        using var home = new TempFolder("strata-server");

        var e = Assert.Throws<StrataException>(() => StrataServer.Build(
            ["--Strata:Home", home.Path, "--shutdownTimeoutSeconds", "45", "--HostOptions:ShutdownTimeout", "00:01:00"], b => b.WebHost.UseTestServer()));

        Assert.Contains("set twice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_in_flight_at_stop_is_answered_within_the_configured_shutdown_timeout()
    {
        await using var server = await ServingServer.StartAsync(extra: ["--shutdownTimeoutSeconds", "60"]);
        using var request = await HeldRequest.StartAsync(server.Address, "/api/v1/projects", server.Keys["root"], Encoding.UTF8.GetBytes("""{"name":"late"}"""));

        var stopping = server.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var answer = await request.FinishAsync();
        await stopping.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.StartsWith("HTTP/1.1 201", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_in_flight_at_stop_is_cut_once_a_configured_shorter_shutdown_timeout_has_passed()
    {
        // With 30 s in code whatever was configured, the host waited for the request and answered it after 10 s.
        await using var server = await ServingServer.StartAsync(extra: ["--shutdownTimeoutSeconds", "2"]);
        using var request = await HeldRequest.StartAsync(server.Address, "/api/v1/projects", server.Keys["root"], Encoding.UTF8.GetBytes("""{"name":"late"}"""));

        var stopping = server.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(10));
        var stoppedMeanwhile = stopping.IsCompleted;
        var answer = await request.FinishAsync();
        await stopping.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("", answer);
        Assert.True(stoppedMeanwhile, "the host was still stopping 10 s after it was told to, with a 2 s shutdown timeout");
    }
}
