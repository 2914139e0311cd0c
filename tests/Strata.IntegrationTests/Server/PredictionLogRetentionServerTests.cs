using System.Net;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Strata.Server;
using Strata.Serving;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The prediction log's retention as the server takes it: <c>Strata:PredictionLog:RetentionBytes</c> and
/// <c>:RetentionAge</c>, checked at start-up (a value that is not one stops the start, naming the setting), and
/// enforced on the home's <c>predictions/</c> while serving, with its counters in <c>/metrics</c>.
/// </summary>
public sealed class PredictionLogRetentionServerTests
{
    [Theory]
    [InlineData(new string[0], PredictionLogRetention.DefaultMaxBytes, 0)]
    [InlineData(new[] { "--Strata:PredictionLog:RetentionBytes", "20GiB", "--Strata:PredictionLog:RetentionAge", "7d" }, 20L << 30, 7 * 86400)]
    [InlineData(new[] { "--Strata:PredictionLog:RetentionBytes=off", "--Strata:PredictionLog:RetentionAge=12:00:00" }, 0L, 12 * 3600)]
    public async Task The_retention_settings_reach_the_server_and_unset_ones_keep_the_defaults(string[] settings, long bytes, int seconds)
    {
        using var home = new TempFolder("strata-server");

        await using var app = StrataServer.Build(["--Strata:Home", home.Path, .. settings], b => b.WebHost.UseTestServer());

        var retention = app.Services.GetRequiredService<IOptions<StrataServerOptions>>().Value.PredictionLog.Retention();
        Assert.Equal(new PredictionLogRetention { MaxBytes = bytes, MaxAge = TimeSpan.FromSeconds(seconds) }, retention);
    }

    [Theory]
    [InlineData("Strata:PredictionLog:RetentionBytes", "10XB", "not a size such as 10GiB")]
    [InlineData("Strata:PredictionLog:RetentionBytes", "-5", "not a size such as 10GiB")]
    [InlineData("Strata:PredictionLog:RetentionAge", "7", "not an age such as 90m")]
    [InlineData("Strata:PredictionLog:RetentionAge", "soon", "not an age such as 90m")]
    public void A_retention_setting_that_is_not_one_stops_the_start_naming_the_setting_and_the_value(string setting, string value, string expected)
    {
        using var home = new TempFolder("strata-server");

        var e = Assert.Throws<StrataException>(() => StrataServer.Build(["--Strata:Home", home.Path, $"--{setting}", value], b => b.WebHost.UseTestServer()));

        Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code);
        Assert.StartsWith($"setting {setting} is '{value}', {expected}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Strata_serve_refuses_a_retention_that_is_not_one_with_an_error_naming_it()
    {
        using var home = new TempFolder("strata-serve-retention");

        var result = await Strata.IntegrationTests.Cli.Cli.RunAsync("serve", "--home", home.Path, "--urls", "http://127.0.0.1:0", "--Strata:PredictionLog:RetentionBytes", "lots");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("error: setting Strata:PredictionLog:RetentionBytes is 'lots', not a size such as 10GiB", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_retention_in_the_environment_that_is_not_one_stops_the_quickstart_before_its_first_stage()
    {
        using var folder = new TempFolder("strata-quickstart-retention");
        var home = folder.File("home");
        var result = await Strata.IntegrationTests.Cli.Cli.RunProcessAsync(
            folder.Path, ["quickstart", "--small", "--home", home], new Dictionary<string, string> { ["Strata__PredictionLog__RetentionAge"] = "soon" }, TimeSpan.FromSeconds(120));

        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith("error: setting Strata:PredictionLog:RetentionAge is 'soon', not an age such as 90m", result.Error.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("[1/5]", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_serving_server_keeps_its_closed_segments_within_the_cap_newest_first_and_counts_what_it_deleted()
    {
        await using var server = await ServingServer.StartAsync(extra: ["--Strata:PredictionLog:RetentionBytes", "2KiB"]);
        await server.DeployAsync("kept", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = server.Http();
        var ids = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            using var response = await http.PostAsync("/v1/endpoints/kept/predict", ServingTests.Body(header, rows));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            ids.Add(response.Headers.GetValues("X-Request-Id").Single());
            await server.Serving.FlushPredictionLogAsync(); // each prediction in a segment of its own
        }

        var folder = server.Serving.PredictionLogFolder!;
        await WaitAsync(() => PredictionLogReader.Segments(folder).Sum(p => new FileInfo(p).Length) <= 2048);

        var kept = new List<string>();
        await foreach (var record in PredictionLogReader.ReadAsync(folder))
        {
            kept.Add(record.RequestId);
        }

        Assert.NotEmpty(kept);
        Assert.Equal(ids[^kept.Count..], kept);
        using var root = server.Http("root");
        var deleted = $"strata_serving_prediction_log_retention_deleted_segments_total{{reason=\"size\"}} {ids.Count - kept.Count}\n";
        var text = await root.GetStringAsync("/metrics");
        for (var i = 0; i < 100 && !text.Contains(deleted, StringComparison.Ordinal); i++)
        {
            await Task.Delay(10); // the last deletion is counted just after the file is gone
            text = await root.GetStringAsync("/metrics");
        }

        Assert.Contains(deleted, text, StringComparison.Ordinal);
        Assert.Contains("# TYPE strata_serving_prediction_log_retention_deleted_bytes_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE strata_serving_prediction_log_bytes gauge\n", text, StringComparison.Ordinal);
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        for (var i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "waited 10 s");
    }
}
