using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Strata.Monitoring;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

public sealed class MonitorCommandTests : IDisposable
{
    private const long Hour = 3_600_000_000L;
    private readonly TempFolder _folder = new("monitor-cli");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact]
    public async Task Check_flags_shifted_flight_delays_exits_4_and_writes_a_self_contained_report()
    {
        var (reference, current) = await FlightsAsync(delayShift: 30);
        var report = _folder.File("report.html");

        var result = await Cli.RunAsync("monitor", "check", "--reference", reference, "--current", current, "--features", "delay,distance", "--out", report, "--json");

        Assert.Equal(4, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        var features = json.RootElement.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("feature").GetString()!);
        Assert.Equal("drift", features["delay"].GetProperty("status").GetString());
        Assert.Equal("Wasserstein", features["delay"].GetProperty("method").GetString());
        Assert.Equal("no_drift", features["distance"].GetProperty("status").GetString());
        Assert.Equal("drift", json.RootElement.GetProperty("status").GetString());
        var html = await File.ReadAllTextAsync(report);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("src=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("href=", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Check_on_the_same_months_traffic_finds_no_drift_and_exits_0()
    {
        var (reference, current) = await FlightsAsync(delayShift: 0, sameMonth: true);

        var result = await Cli.RunAsync("monitor", "check", "--reference", reference, "--current", current, "--features", "delay,distance,origin");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("no_drift", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_with_an_unknown_feature_or_a_missing_file_is_bad_input()
    {
        var (reference, current) = await FlightsAsync(delayShift: 0);

        var unknown = await Cli.RunAsync("monitor", "check", "--reference", reference, "--current", current, "--features", "altitude");
        var missing = await Cli.RunAsync("monitor", "check", "--reference", _folder.File("nope.csv"), "--current", current);
        var share = await Cli.RunAsync("monitor", "check", "--reference", reference, "--current", current, "--drift-share", "1.5");
        var samples = await Cli.RunAsync("monitor", "check", "--reference", reference, "--current", current, "--min-samples", "0");

        Assert.Equal(3, unknown.ExitCode);
        Assert.Contains("altitude", unknown.Error, StringComparison.Ordinal);
        Assert.Equal(3, missing.ExitCode);
        Assert.Equal(3, share.ExitCode);
        Assert.Contains("--drift-share: 1.5 must be within (0, 1]", share.Error, StringComparison.Ordinal);
        Assert.Equal(3, samples.ExitCode);
        Assert.Contains("--min-samples: 0 must be at least 1", samples.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_and_report_read_the_results_stored_per_window()
    {
        var home = _folder.Path;
        await using (var store = await SqliteMetadataStore.OpenAsync(Path.Combine(home, "strata.db")))
        {
            await store.Monitoring.SaveResultsAsync("flights", [
                new MonitorResult("drift", "delays", "delays", 1, 0, Hour, MonitorChecks.DataDrift, "no_drift", 0.0, 500, null),
                new MonitorResult("drift", "delays", "delays", 1, Hour, 2 * Hour, MonitorChecks.DataDrift, "drift", 0.75, 500, null),
                new MonitorResult("drift", "delays", "delays", 0, Hour, 2 * Hour, "quality.auc", "ok", 0.66, 200, null),
            ], Actor.Local);
        }

        var status = await Cli.RunAsync("monitor", "status", "delays", "-p", "flights", "--home", home, "--json");
        var report = await Cli.RunAsync("monitor", "report", "delays", "-p", "flights", "--home", home, "--from", "1970-01-01T00:00:00Z", "--out", Path.Combine(home, "r.html"));
        var json = await Cli.RunAsync("monitor", "report", "delays", "-p", "flights", "--home", home, "--from", Hour.ToString(CultureInfo.InvariantCulture), "--json");

        Assert.Equal(0, status.ExitCode);
        using var statusJson = JsonDocument.Parse(status.Out);
        Assert.Equal(["drift", "ok"], statusJson.RootElement.EnumerateArray().Select(r => r.GetProperty("status").GetString()));
        Assert.Equal(0, report.ExitCode);
        var html = await File.ReadAllTextAsync(Path.Combine(home, "r.html"), Encoding.UTF8);
        Assert.Contains("Quality over time", html, StringComparison.Ordinal);
        Assert.Contains("Data drift over time", html, StringComparison.Ordinal);
        using var reportJson = JsonDocument.Parse(json.Out);
        Assert.Equal(2, reportJson.RootElement.GetArrayLength());
    }

    private async Task<(string Reference, string Current)> FlightsAsync(int delayShift, bool sameMonth = false)
    {
        var lines = await ReadLinesAsync(Cli.Sample);
        var header = lines[0];
        var january = lines.Skip(1).Where(l => l.StartsWith("2001-01", StringComparison.Ordinal)).ToList();
        var later = sameMonth ? january.Where((_, i) => i % 2 == 1).ToList() : [.. lines.Skip(1).Where(l => l.StartsWith("2001-03", StringComparison.Ordinal))];
        var reference = sameMonth ? january.Where((_, i) => i % 2 == 0).ToList() : january;
        var current = later.Select(l =>
        {
            var cells = l.Split(',');
            cells[1] = (int.Parse(cells[1], CultureInfo.InvariantCulture) + delayShift).ToString(CultureInfo.InvariantCulture);
            return string.Join(',', cells);
        });
        var r = _folder.File("reference.csv");
        var c = _folder.File("current.csv");
        await File.WriteAllLinesAsync(r, [header, .. reference]);
        await File.WriteAllLinesAsync(c, [header, .. current]);
        return (r, c);
    }

    private static async Task<List<string>> ReadLinesAsync(string gz)
    {
        await using var file = File.OpenRead(gz);
        await using var unzip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress);
        using var reader = new StreamReader(unzip);
        var lines = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }
}
