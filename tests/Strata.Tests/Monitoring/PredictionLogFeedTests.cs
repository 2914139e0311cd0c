using Microsoft.Data.Sqlite;
using Strata.Monitoring;
using Strata.Monitoring.Drift;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;
using Strata.Tests.Serving;

namespace Strata.Tests.Monitoring;

/// <summary>The prediction-log adapter: predictions served by the runtime reach a monitor as served-record batches.</summary>
public sealed class PredictionLogFeedTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _folder = new("strata-log-feed");
    private StrataHome _home = null!;
    private string[] _inputs = [];

    private string LogFolder => Path.Combine(_folder.Path, "predictions");

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        _inputs = await FlightsModelSeed.SeedAsync(_home, versions: 1);
    }

    public async Task DisposeAsync()
    {
        await _home.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Served_predictions_reach_the_monitor_as_window_results_and_a_second_read_takes_only_new_records()
    {
        await using var runtime = await StartAsync();
        for (var i = 0; i < 30; i++)
        {
            await runtime.PredictAsync(Request("watched", $"w{i}"));
        }

        for (var i = 0; i < 3; i++)
        {
            await runtime.PredictAsync(Request("other", $"o{i}"));
        }

        await runtime.FlushPredictionLogAsync();
        var reference = Reference();
        var feed = new PredictionLogFeed(LogFolder, "watched", layout: reference.Layout);
        var runner = new MonitorRunner("flights", Spec(), reference, _home.Metadata.Monitoring);

        var first = await feed.FeedAsync(runner);
        var results = await runner.EvaluateAsync(long.MaxValue / 2, Actor.Local);

        Assert.Equal(30, first);
        Assert.Equal(30, results.Sum(r => r.Rows));
        Assert.All(results, r => Assert.Equal(1, r.ModelVersion));
        // Every served distance is 258 while the reference spreads over 100–3,000: drift, unless a window (split at an
        // hour boundary) holds fewer rows than the minimum.
        Assert.All(results, r => Assert.True(r.Status is "drift" or "insufficient_data", r.Status));
        Assert.Contains(results, r => r.Status == "drift");
        Assert.NotNull(feed.Position.Segment);

        for (var i = 30; i < 35; i++)
        {
            await runtime.PredictAsync(Request("watched", $"w{i}"));
        }

        await runtime.FlushPredictionLogAsync();
        var batches = new List<Table>();
        await foreach (var batch in feed.ReadAsync())
        {
            batches.Add(batch);
        }

        var table = Assert.Single(batches);
        Assert.Equal(5, table.RowCount);
        var ids = table.GetStringColumn(PredictionLogFeed.RequestIdColumn);
        Assert.Equal(["w30", "w31", "w32", "w33", "w34"], Enumerable.Range(0, table.RowCount).Select(i => ids[i]));
        Assert.Equal(258, ((Column<double>)table["distance"])[0]);
        Assert.Equal(0, await feed.FeedAsync(runner));
    }

    [Fact]
    public async Task Labels_join_the_logged_predictions_by_request_id()
    {
        await using var runtime = await StartAsync();
        var output = await runtime.PredictAsync(Request("watched", "labeled-1"));
        await runtime.PredictAsync(Request("watched", "unlabeled"));
        await runtime.FlushPredictionLogAsync();
        var feed = new PredictionLogFeed(LogFolder, "watched");

        var (pairs, found) = await feed.JoinLabelsAsync(new Dictionary<string, double> { ["labeled-1"] = 1, ["missing"] = 0 });

        var pair = Assert.Single(pairs);
        Assert.Equal(output.Probabilities![1], pair.Prediction);
        Assert.Equal(1, pair.Label);
        Assert.Equal("labeled-1", Assert.Single(found));
    }

    private static MonitorSpec Spec() => new()
    {
        Name = "watched-drift",
        Endpoint = "watched",
        Model = "delay",
        Features = ["distance"],
        Checks = [MonitorChecks.DataDrift],
        Drift = new DriftOptions { MinimumSampleSize = 10 },
    };

    private static DriftProfile Reference()
    {
        var table = Table.From(("distance", Columns.Float64([.. Enumerable.Range(0, 500).Select(i => (double?)(100 + (i * 5.8)))])));
        var layout = DriftLayout.FromProfile(Strata.Data.Profiling.Profiler.Profile(table));
        return DriftProfileBuilder.Profile(layout, table);
    }

    private async Task<ServingRuntime> StartAsync()
    {
        var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, new MetricRegistry(), new ServingOptions { PredictionLogFolder = LogFolder });
        await runtime.StartAsync(
            [new Deployment { Name = "watched", Project = "flights", Model = "delay/1" }, new Deployment { Name = "other", Project = "flights", Model = "delay/1" }],
            new Actor("test"));
        return runtime;
    }

    private PredictionRequest Request(string endpoint, string id) => FlightsModelSeed.Request(_inputs, endpoint, id);
}
