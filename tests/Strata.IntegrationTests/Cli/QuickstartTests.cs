using System.Globalization;
using System.Text.Json;
using Strata.Data;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

/// <summary>
/// `strata quickstart --small --json` end to end, in-process with its real loopback server: every stage's real outcome
/// (the anomaly, the join, AUC against the baseline, predictions from both APIs, the alert, the challenger waiting for
/// approval, the report with its drift plot).
/// </summary>
[Collection(Sequential.Name)]
public sealed class QuickstartTests : IDisposable
{
    private readonly TempFolder _folder = new("quickstart");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact]
    public async Task Quickstart_small_runs_every_stage_of_the_lifecycle_on_the_flights_sample()
    {
        var home = _folder.File("home");

        var result = await Cli.RunAsync("quickstart", "--small", "--json", "--home", home);

        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Error}\n{result.Out}");
        using var document = JsonDocument.Parse(result.Out);
        var root = document.RootElement;
        var stages = root.GetProperty("stages").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("figures"));
        Assert.Equal(["data", "features", "training", "serving", "monitoring"], stages.Keys);

        // 1. The later months break the schema inferred from the first ones: airports never seen in January to April.
        var data = stages["data"];
        Assert.Equal(50_000, data.GetProperty("rows").GetInt32());
        var anomalies = data.GetProperty("anomalies").EnumerateArray().ToList();
        Assert.Contains(anomalies, a => a.GetProperty("column").GetString() == "origin" && a.GetProperty("kind").GetString() == "unknown_category");

        // 2. The training set has one row per January-April flight of the sample (every 3rd row), most with window features.
        var features = stages["features"];
        var expectedRows = await TrainingFlightsAsync(stride: 3);
        Assert.Equal(expectedRows, features.GetProperty("training_rows").GetInt32());
        var withWindows = features.GetProperty("rows_with_window_features").GetInt64();
        Assert.InRange(withWindows, expectedRows / 2, expectedRows);
        Assert.InRange(features.GetProperty("rows_with_hourly_features").GetInt64(), 1, expectedRows - 1);
        Assert.True(features.GetProperty("materialized_rows").GetInt64() > 0);

        // 3. The tuned model beats the logistic-regression baseline on the same test rows, per origin slices, and is champion.
        var training = stages["training"];
        Assert.True(training.GetProperty("auc").GetDouble() > training.GetProperty("baseline_auc").GetDouble(), training.ToString());
        Assert.True(training.GetProperty("blessed").GetBoolean());
        Assert.True(training.GetProperty("slices").GetInt32() > 10);
        Assert.Equal(1, training.GetProperty("version").GetInt32());

        // 4. Predictions by entity key through both APIs, enriched from the online store.
        var serving = stages["serving"];
        Assert.Equal(1000, serving.GetProperty("native_requests").GetInt32());
        Assert.Equal(200, serving.GetProperty("v2_requests").GetInt32());
        Assert.Equal(1, serving.GetProperty("model_version").GetInt32());
        Assert.InRange(serving.GetProperty("example_probability_late").GetDouble(), 0.0001, 0.9999);
        Assert.Contains(serving.GetProperty("v2_outputs").EnumerateArray(), o => o.GetString() == "probability");
        Assert.True(serving.GetProperty("native_p99_ms").GetDouble() >= serving.GetProperty("native_p50_ms").GetDouble());

        // 5. Only the shifted part of the stream drifts; the alert fires (webhook and audit), retraining leaves a challenger.
        var monitoring = stages["monitoring"];
        var shiftFrom = DateTimeOffset.Parse(monitoring.GetProperty("shift_from").GetString()!, CultureInfo.InvariantCulture);
        var firstDrift = DateTimeOffset.Parse(monitoring.GetProperty("first_drift_window").GetString()!, CultureInfo.InvariantCulture);
        Assert.True(firstDrift >= shiftFrom, $"drift in {firstDrift:u}, before the shift at {shiftFrom:u}");
        Assert.True(monitoring.GetProperty("drifted_windows").GetInt32() >= 3);
        Assert.True(monitoring.GetProperty("labels_joined").GetInt32() > 1000);
        Assert.True(monitoring.GetProperty("webhook_deliveries").GetInt32() >= 1);
        Assert.Equal(1, monitoring.GetProperty("alerts_audited").GetInt32()); // one drift episode, one alert (the server's own monitor tick is off)
        Assert.Contains("sustained-drift", monitoring.GetProperty("alert").GetString(), StringComparison.Ordinal);
        Assert.Equal("succeeded", monitoring.GetProperty("retrain_state").GetString());
        Assert.Equal(1, monitoring.GetProperty("champion_version").GetInt32());
        Assert.Equal(2, monitoring.GetProperty("challenger_version").GetInt32());
        Assert.Contains(monitoring.GetProperty("pending_approval").EnumerateArray(), p => p.GetString() == "champion <- v2");

        var report = root.GetProperty("report").GetString()!;
        var html = await File.ReadAllTextAsync(report);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.Contains(">drift<", html, StringComparison.Ordinal);
        Assert.Contains("mean_delay_1d", html, StringComparison.Ordinal);
        Assert.StartsWith("http://127.0.0.1:", root.GetProperty("server").GetProperty("url").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Quickstart_refuses_a_home_that_is_not_empty()
    {
        var home = _folder.File("used");
        Directory.CreateDirectory(home);
        await File.WriteAllTextAsync(Path.Combine(home, "keep.txt"), "mine");

        var result = await Cli.RunAsync("quickstart", "--small", "--home", home);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("is not empty", result.Error, StringComparison.Ordinal);
        Assert.Equal(["keep.txt"], Directory.EnumerateFileSystemEntries(home).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("DOTNET_SHUTDOWNTIMEOUTSECONDS", "30s", "setting shutdownTimeoutSeconds is '30s', not a whole number of seconds from 0 to 86400")]
    [InlineData("shutdownTimeoutSeconds", "-1", "setting shutdownTimeoutSeconds is '-1', not a whole number of seconds from 0 to 86400")]
    [InlineData("HostOptions__ShutdownTimeout", "soon", "setting HostOptions:ShutdownTimeout is 'soon', not a time span from 00:00:00 to 1.00:00:00 (such as 00:01:30)")]
    public async Task A_shutdown_timeout_that_is_not_one_stops_the_quickstart_before_its_first_stage(string variable, string value, string message)
    {
        // Only stage 4's server refused it as it started, after the data, features and training stages had run.
        var home = _folder.File("shutdown");
        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = await Cli.RunProcessAsync(_folder.Path, ["quickstart", "--small", "--home", home], new Dictionary<string, string> { [variable] = value }, TimeSpan.FromSeconds(120));

        Assert.Equal(3, result.ExitCode);
        Assert.Equal($"error: {message}: how long requests in flight may take to finish once the server is told to stop", result.Error.Trim());
        Assert.DoesNotContain("[1/5]", result.Out, StringComparison.Ordinal);
        Assert.False(Directory.Exists(home) && Directory.EnumerateFileSystemEntries(home).Any(), "the home was filled");
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(15), $"it took {started.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Ctrl_c_lets_a_request_in_flight_to_the_quickstarts_server_finish_then_closes_the_prediction_log()
    {
        // The CLI ended the process 2 s after Ctrl-C (System.CommandLine's default), cutting the request and the server's stop.
        var home = _folder.File("signalled");
        using var process = Cli.Start(_folder.Path, ["quickstart", "--small", "--json", "--keep-serving", "--home", home]);
        try
        {
            // With --json, the document is printed before the server is left up, and ends with a line "}".
            var document = new System.Text.StringBuilder();
            using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
            {
                while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
                {
                    document.AppendLine(line);
                    if (line == "}")
                    {
                        break;
                    }
                }
            }

            var error = process.StandardError.ReadToEndAsync();
            using var json = JsonDocument.Parse(document.ToString());
            var server = json.RootElement.GetProperty("server");
            using var request = await Server.HeldRequest.StartAsync(
                new Uri(server.GetProperty("url").GetString()!), "/v1/endpoints/flights/predict", server.GetProperty("api_key").GetString()!,
                """{"rows":[{"origin":"ORD","distance":733}]}"""u8.ToArray());

            // A process started in the background by a non-interactive shell (a CI script's `cmd &`) inherits SIGINT
            // ignored, and so does every process it starts: then SIGTERM, which the CLI handles alike, stands in for it.
            var interrupted = !Cli.SignalIgnored(process.Id, 2);
            using (var interrupt = System.Diagnostics.Process.Start("kill", [interrupted ? "-INT" : "-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await interrupt.WaitForExitAsync();
            }

            await Task.Delay(TimeSpan.FromSeconds(5)); // past the CLI's old 2 s, well within the server's 30 s
            var answer = await request.FinishAsync();

            Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(exit.Token);
            Assert.Equal(130, process.ExitCode); // a command stopped by either signal ends as cancelled
            Assert.EndsWith(interrupted ? "stopped (Ctrl-C)" : "stopped (SIGTERM)", (await error).TrimEnd(), StringComparison.Ordinal);
            Server.HeldRequest.AssertLogged(home, answer);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }
    }

    /// <summary>January-April flights among every <paramref name="stride"/>-th row of the sample, counted independently of the quickstart.</summary>
    private static async Task<int> TrainingFlightsAsync(int stride)
    {
        var flights = (await DataFiles.ReadAsync(Cli.Sample)).Table;
        var dates = flights.GetColumn<long>("date");
        var may = new DateTimeOffset(2001, 5, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;
        return Enumerable.Range(0, flights.RowCount).Count(i => i % stride == 0 && dates[i] < may);
    }
}
