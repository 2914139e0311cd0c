using System.Globalization;
using System.Text.Json;
using Strata.Data;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

/// <summary>`strata features ingest/training-set/push/materialize/online` end to end on the flights sample, with the errors a user meets first.</summary>
public sealed class FeatureDataCommandTests : IDisposable
{
    private static readonly string[] HourlyFeatures = ["dep_count", "mean_delay", "frac_late15", "max_delay", "mean_distance"];
    private static readonly string[] WindowFeatures = ["flights_1h", "mean_delay_1h", "mean_delay_1d", "max_delay_1d"];

    private readonly TempFolder _folder = new("cli-feature-data");

    private string Home => _folder.File("home");

    private static string FlightsRepo => SharedData.InRepository("samples", "flights", "features");

    public void Dispose() => _folder.Dispose();

    private Task<Cli.Result> RunAsync(params string[] args) => Cli.RunAsync([.. args, "--home", Home]);

    private async Task ApplyAndIngestAsync()
    {
        Assert.Equal(0, (await RunAsync("projects", "create", "flights")).ExitCode);
        var apply = await RunAsync("features", "apply", "--repo", FlightsRepo, "-p", "flights");
        Assert.True(apply.ExitCode == 0, apply.Error);
        var ingest = await RunAsync("features", "ingest", "--repo", FlightsRepo, "-p", "flights", "--json");
        Assert.True(ingest.ExitCode == 0, ingest.Error);
        using var json = JsonDocument.Parse(ingest.Out);
        Assert.Equal(28_691, json.RootElement.EnumerateArray().Single(e => e.GetProperty("source").GetString() == "origin_hourly_stats").GetProperty("rows").GetInt64());
    }

    [Fact]
    public async Task Apply_ingest_training_set_push_materialize_and_online_on_the_flights_sample()
    {
        await ApplyAndIngestAsync();

        // A point-in-time training set over the whole sample: one row per flight, in order, with the service's features.
        var output = _folder.File("training.arrow");
        var training = await RunAsync("features", "training-set", "-p", "flights", "-e", Cli.Sample, "--timestamp-column", "date", "-s", "flight_delay_v1", "-o", output, "--json");
        Assert.True(training.ExitCode == 0, training.Error);
        using (var summary = JsonDocument.Parse(training.Out))
        {
            Assert.Equal(150_000, summary.RootElement.GetProperty("rows").GetInt32());
        }

        var table = (await DataFiles.ReadAsync(output)).Table;
        var flights = (await DataFiles.ReadAsync(Cli.Sample)).Table;
        Assert.Equal(150_000, table.RowCount);
        Assert.Equal([.. flights.Schema.Names, .. HourlyFeatures, .. WindowFeatures, "delay_ratio"], table.Schema.Names);
        Assert.Equal(flights["delay"].GetValue(12_345), table["delay"].GetValue(12_345)); // labels carried in order
        Assert.Equal(flights["origin"].GetValue(99_999), table["origin"].GetValue(99_999));
        var matched = table.RowCount - table["mean_delay"].NullCount;
        Assert.True(matched > 10_000, $"only {matched} rows got hourly features");

        // Flight events of the last minutes, pushed online and offline.
        var now = DateTime.UtcNow;
        var events = _folder.WriteText("events.csv", "origin,date,delay,distance\n"
            + string.Join("", new[] { (10, 12), (20, 30), (5, -3) }.Select(e => $"SFO,{now.AddMinutes(-e.Item1):yyyy-MM-dd HH:mm:ss},{e.Item2},500\n")));
        var push = await RunAsync("features", "push", "-p", "flights", "--source", "flight_events", "-f", events, "--json");
        Assert.True(push.ExitCode == 0, push.Error);

        var materialize = await RunAsync("features", "materialize", "-p", "flights", "--start", "2001-01-01T00:00:00Z", "--end", "2002-01-01T00:00:00Z", "--views", "origin_hourly", "--json");
        Assert.True(materialize.ExitCode == 0, materialize.Error);
        using (var done = JsonDocument.Parse(materialize.Out))
        {
            Assert.True(done.RootElement[0].GetProperty("rows").GetInt64() > 0);
        }

        var online = await RunAsync("features", "online", "-p", "flights", "-s", "flight_delay_v1", "--entity", "origin=SFO,distance=500", "--entity", "origin=LAX,distance=300", "--entity", "origin=ZZZ,distance=1", "--json");
        Assert.True(online.ExitCode == 0, online.Error);
        using var values = JsonDocument.Parse(online.Out);
        var sfo = values.RootElement[0].EnumerateArray().ToDictionary(v => v.GetProperty("feature").GetString()!, v => v);
        var lax = values.RootElement[1].EnumerateArray().ToDictionary(v => v.GetProperty("feature").GetString()!, v => v);
        var zzz = values.RootElement[2].EnumerateArray().ToDictionary(v => v.GetProperty("feature").GetString()!, v => v);
        Assert.Equal([.. HourlyFeatures, .. WindowFeatures, "delay_ratio"], sfo.Keys);
        Assert.All(HourlyFeatures, f => Assert.Equal("NotFound", sfo[f].GetProperty("status").GetString())); // SFO is not in the hourly data
        Assert.All(HourlyFeatures, f => Assert.Equal("OutsideMaxAge", lax[f].GetProperty("status").GetString())); // 2001 data, 3 h TTL
        Assert.All(WindowFeatures, f => Assert.Equal("NotFound", lax[f].GetProperty("status").GetString())); // nothing pushed for LAX
        Assert.All(WindowFeatures, f => Assert.Equal("Present", sfo[f].GetProperty("status").GetString()));
        Assert.Equal(3, sfo["flights_1h"].GetProperty("value").GetInt64());
        Assert.Equal(13.0, sfo["mean_delay_1h"].GetProperty("value").GetDouble());
        Assert.Equal(30, sfo["max_delay_1d"].GetProperty("value").GetDouble());
        Assert.Equal("Present", sfo["delay_ratio"].GetProperty("status").GetString());
        Assert.Equal(13.0 / 14.0, sfo["delay_ratio"].GetProperty("value").GetDouble());
        Assert.All(HourlyFeatures.Concat(WindowFeatures), f => Assert.Equal("NotFound", zzz[f].GetProperty("status").GetString()));
    }

    [Fact]
    public async Task A_training_set_without_the_timestamp_column_is_bad_input_naming_it()
    {
        await ApplyAndIngestAsync();
        var entities = _folder.WriteText("entities.csv", "origin,distance,label\nSFO,500,1\nLAX,300,0\n");

        var result = await RunAsync("features", "training-set", "-p", "flights", "-e", entities, "--timestamp-column", "date", "-s", "flight_delay_v1", "-o", _folder.File("t.arrow"));

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("'date'", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(_folder.File("t.arrow")));
    }

    [Fact]
    public async Task A_push_with_a_wrong_column_fails_and_writes_nothing()
    {
        await ApplyAndIngestAsync();
        var time = DateTime.UtcNow.AddMinutes(-5).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var events = _folder.WriteText("bad.csv", $"origin,date,delay,miles\nSFO,{time},10,500\n");

        var push = await RunAsync("features", "push", "-p", "flights", "--source", "flight_events", "-f", events);

        Assert.NotEqual(0, push.ExitCode);
        Assert.Contains("distance", push.Error, StringComparison.Ordinal);
        var online = await RunAsync("features", "online", "-p", "flights", "--features", "origin_delay_windows:flights_1h", "--entity", "origin=SFO", "--json");
        Assert.True(online.ExitCode == 0, online.Error);
        using var values = JsonDocument.Parse(online.Out);
        Assert.Equal("NotFound", values.RootElement[0][0].GetProperty("status").GetString());
        var materialize = await RunAsync("features", "materialize-incremental", "-p", "flights", "--end", DateTime.UtcNow.AddDays(1).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), "--views", "origin_delay_windows", "--json");
        Assert.True(materialize.ExitCode == 0, materialize.Error);
        using var done = JsonDocument.Parse(materialize.Out);
        Assert.Equal(0, done.RootElement[0].GetProperty("rows").GetInt64()); // no events reached the offline store either
    }
}
