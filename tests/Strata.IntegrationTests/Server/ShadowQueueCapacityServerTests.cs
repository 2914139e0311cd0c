using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server;
using Strata.Serving;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The shadow queue's capacity as the server takes it: <c>Strata:ShadowQueueCapacity</c> reaches each endpoint's queue
/// (a slow shadow drops what does not fit, counted), and a value that is not a capacity stops the start naming the setting.
/// </summary>
public sealed partial class ShadowQueueCapacityServerTests
{
    [Fact]
    public async Task A_small_capacity_reaches_the_shadow_queue_and_a_slow_shadow_drops_the_copies_beyond_it()
    {
        // The shadow waits until the test ends: its worker holds at most one copy and the queue one more.
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await ServingServer.StartWithAsync(
            b => b.Services.AddSingleton(new ServingOptions { BeforeShadow = ct => held.Task.WaitAsync(ct) }), "--Strata:ShadowQueueCapacity", "1");
        try
        {
            await server.DeployAsync("shadow-small", new { project = "flights", model = "delay/1", shadow = "delay/2" });
            var (header, rows) = ServingServer.Sample(1);
            using var http = server.Http();

            for (var i = 0; i < 4; i++)
            {
                using var response = await http.PostAsync("/v1/endpoints/shadow-small/predict", ServingTests.Body(header, rows));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            // Counted before each answer was sent; with the default capacity (1024) none would be dropped.
            using var root = server.Http("root");
            var metrics = await root.GetStringAsync("/metrics");
            var dropped = DroppedLine().Match(metrics);
            Assert.True(dropped.Success, "no strata_serving_shadow_dropped_total series for shadow-small");
            Assert.InRange(double.Parse(dropped.Groups[1].Value, CultureInfo.InvariantCulture), 2, 4);
        }
        finally
        {
            held.TrySetResult();
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("lots")]
    [InlineData("1.5")]
    [InlineData("1048577")]
    public void A_capacity_that_is_not_one_stops_the_start_naming_the_setting_and_the_value(string value)
    {
        using var home = new TempFolder("strata-server");

        var e = Assert.Throws<StrataException>(() => StrataServer.Build(["--Strata:Home", home.Path, "--Strata:ShadowQueueCapacity", value], b => b.WebHost.UseTestServer()));

        Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code);
        Assert.Equal(
            $"setting Strata:ShadowQueueCapacity is '{value}', not a whole number from 1 to 1048576: how many copies of requests may wait for one endpoint's shadow model",
            e.Message);
    }

    [Fact]
    public async Task Strata_serve_refuses_a_capacity_that_is_not_one_with_an_error_naming_it()
    {
        // A process with a time limit: a server that took the value would serve until killed, and the wait would fail.
        using var folder = new TempFolder("strata-serve-shadow");
        var result = await Strata.IntegrationTests.Cli.Cli.RunProcessAsync(
            folder.Path, ["serve", "--home", folder.File("home"), "--urls", "http://127.0.0.1:0", "--Strata:ShadowQueueCapacity", "0"], new Dictionary<string, string>(), TimeSpan.FromSeconds(120));

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("error: setting Strata:ShadowQueueCapacity is '0', not a whole number from 1 to 1048576", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_capacity_in_the_environment_that_is_not_one_stops_the_quickstart_before_its_first_stage()
    {
        using var folder = new TempFolder("strata-quickstart-shadow");
        var home = folder.File("home");
        var result = await Strata.IntegrationTests.Cli.Cli.RunProcessAsync(
            folder.Path, ["quickstart", "--small", "--home", home], new Dictionary<string, string> { ["Strata__ShadowQueueCapacity"] = "-5" }, TimeSpan.FromSeconds(120));

        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith("error: setting Strata:ShadowQueueCapacity is '-5', not a whole number from 1 to 1048576", result.Error.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("[1/5]", result.Out, StringComparison.Ordinal);
    }

    [GeneratedRegex("""^strata_serving_shadow_dropped_total\{endpoint="shadow-small"\} (\S+)$""", RegexOptions.Multiline)]
    private static partial Regex DroppedLine();
}
