using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Monitoring;
using Strata.Monitoring.Drift;
using Strata.Security;
using Strata.Server.Pipelines;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>One loopback server with a pipelines folder, an editor key and a deployed endpoint, shared by the monitoring tests.</summary>
public sealed class MonitoringServerFixture : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _home = new("strata-monitoring-server");

    public ServingServer Server { get; private set; } = null!;

    public string PipelinesFolder => Path.Combine(_home.Path, "pipeline-specs");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(PipelinesFolder);
        Server = await ServingServer.StartAsync(home: _home.Path, extra: ["--Strata:Pipelines:Folder", PipelinesFolder]);
        Server.Keys["editor"] = (await Server.Registry.CreateKeyAsync(Caller.Local, "flights", "editor-bot", Role.Editor, null)).Token;
        await Server.DeployAsync("watched", new { project = "flights", model = "delay/1" });
        await ReferenceProfiles.SaveAsync(Server.Registry, Caller.Local, "flights", "delay", 1, MonitoringServiceTests.Reference());
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public void Dispose() => _home.Dispose();
}

/// <summary>Monitoring on the server: feedback joined to the prediction log, stored results over HTTP, alerts starting pipeline runs.</summary>
public sealed class MonitoringServerTests(MonitoringServerFixture fixture) : IClassFixture<MonitoringServerFixture>
{
    private ServingServer Server => fixture.Server;

    [Fact]
    public async Task Feedback_for_served_requests_is_stored_and_joins_the_prediction_log_for_the_quality_check()
    {
        var ids = await PredictAsync(rows: 1, times: 2);
        using var http = Server.Http("editor");

        using var response = await PostAsync(http, "watched", $$"""{"labels":[{"request_id":"{{ids[0]}}","label":1},{"request_id":"{{ids[1]}}","label":false}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, (await ServingServer.JsonAsync(response)).GetProperty("stored").GetInt32());
        var stored = await Server.State.Home.Metadata.Monitoring.ListLabelsAsync("flights", "watched");
        Assert.Equal(1.0, stored.Single(l => l.RequestId == ids[0]).Label);
        Assert.Equal(0.0, stored.Single(l => l.RequestId == ids[1]).Label);
        var spec = new MonitorSpec
        {
            Name = "watched-quality",
            Endpoint = "watched",
            Model = "delay",
            Features = ["distance"],
            Checks = [MonitorChecks.Quality],
            Drift = new DriftOptions { MinimumSampleSize = 1 },
        };
        var runner = new MonitorRunner("flights", spec, Reference(), Server.State.Home.Metadata.Monitoring);
        var added = await new PredictionLogFeed(Server.Serving.PredictionLogFolder!, "watched").FeedLabelsAsync(runner, Server.State.Home.Metadata.Monitoring, "flights");
        var quality = await runner.EvaluateAsync(long.MaxValue / 2, Actor.Local);
        Assert.True(added >= 2, $"{added} labeled predictions joined");
        Assert.NotEmpty(quality);
        Assert.All(quality, r => Assert.StartsWith(MonitorChecks.Quality, r.Check, StringComparison.Ordinal));
        Assert.All(quality, r => Assert.Equal("ok", r.Status));
    }

    [Fact]
    public async Task Feedback_naming_an_unknown_request_id_is_404_naming_it_and_stores_nothing_of_the_batch()
    {
        var ids = await PredictAsync(rows: 1, times: 1);
        using var http = Server.Http("editor");

        using var response = await PostAsync(http, "watched", $$"""{"labels":[{"request_id":"{{ids[0]}}","label":1},{"request_id":"no-such-request","label":0}]}""");

        var problem = await ProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("no-such-request", problem, StringComparison.Ordinal);
        Assert.Contains("labels[1].request_id", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(await Server.State.Home.Metadata.Monitoring.ListLabelsAsync("flights", "watched"), l => l.RequestId == ids[0]);
    }

    [Theory]
    [InlineData("watched", """{"labels":[{"request_id":"r","label":{"yes":1}}]}""", HttpStatusCode.BadRequest, "labels[0].label")]
    [InlineData("watched", """{"labels":[{"label":1}]}""", HttpStatusCode.BadRequest, "labels[0].request_id")]
    [InlineData("watched", """{"labels":[]}""", HttpStatusCode.BadRequest, "labels")]
    [InlineData("watched", """{"labels":[{"request_id":"r","lable":1}]}""", HttpStatusCode.BadRequest, "unknown field 'labels[0].lable' (known: request_id, label)")]
    [InlineData("watched", """{"labels":[{"request_id":"r","label":1,"label":0}]}""", HttpStatusCode.BadRequest, "field 'labels[0].label' appears more than once")]
    [InlineData("watched", """{"labels":[{"request_id":"r","label":1}],"delay":5}""", HttpStatusCode.BadRequest, "unknown field 'delay' (known: labels)")]
    [InlineData("watched", """{"labels":[{"request_id":"r","label":1}""", HttpStatusCode.BadRequest, "JSON")]
    [InlineData("nowhere", """{"labels":[{"request_id":"r","label":1}]}""", HttpStatusCode.NotFound, "nowhere")]
    public async Task Bad_feedback_is_a_client_error_naming_what_is_wrong(string endpoint, string body, HttpStatusCode status, string named)
    {
        using var http = Server.Http("editor");

        using var response = await PostAsync(http, endpoint, body);

        Assert.Contains(named, await ProblemAsync(response, status), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Feedback_needs_an_editor_of_the_endpoints_project()
    {
        var ids = await PredictAsync(rows: 1, times: 1);
        using var http = Server.Http("viewer");

        using var response = await PostAsync(http, "watched", $$"""{"labels":[{"request_id":"{{ids[0]}}","label":1}]}""");

        await ProblemAsync(response, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Stored_monitor_results_are_returned_as_json_for_a_time_range()
    {
        const long Hour = 3_600_000_000L;
        var results = Enumerable.Range(0, 3)
            .Select(i => new MonitorResult("api-drift", "results-only", "delay", 1, i * Hour, (i + 1) * Hour, MonitorChecks.DataDrift, "no_drift", 0.1 * i, 100, null))
            .Append(new MonitorResult("api-drift", "results-only", "delay", 0, 0, Hour, "quality.auc", "ok", 0.66, 100, null))
            .Append(new MonitorResult("api-drift", "results-only", "delay", 0, 0, Hour, "quality.log_loss", "ok", 0.59, 100, null))
            .ToList();
        await Server.State.Home.Metadata.Monitoring.SaveResultsAsync("flights", results, Actor.Local);
        using var http = Server.Http("viewer");

        var json = await http.GetFromJsonAsync<JsonElement>($"/api/v1/projects/flights/monitors/results-only/results?from={Hour}&to=1970-01-01T03:00:00Z");
        using var bad = await http.GetAsync("/api/v1/projects/flights/monitors/results-only/results?from=yesterday");
        using var reversed = await http.GetAsync($"/api/v1/projects/flights/monitors/results-only/results?from={2 * Hour}&to={Hour}");
        var quality = await http.GetFromJsonAsync<JsonElement>("/api/v1/projects/flights/monitors/results-only/results?check=quality");
        var auc = await http.GetFromJsonAsync<JsonElement>("/api/v1/projects/flights/monitors/results-only/results?check=quality.auc&monitor=api-drift");
        using var unknownCheck = await http.GetAsync("/api/v1/projects/flights/monitors/results-only/results?check=qualty");
        using var unknownMetric = await http.GetAsync("/api/v1/projects/flights/monitors/results-only/results?check=quality.f1");
        using var badMonitor = await http.GetAsync("/api/v1/projects/flights/monitors/results-only/results?monitor=api%20drift");
        using var badLimit = await http.GetAsync("/api/v1/projects/flights/monitors/results-only/results?limit=0");

        Assert.Equal([Hour, 2 * Hour], json.EnumerateArray().Select(r => r.GetProperty("windowStart").GetInt64()));
        Assert.Equal("data_drift", json[0].GetProperty("check").GetString());
        Assert.Contains("'from'", await ProblemAsync(bad, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains($"field 'from' ({2 * Hour}) is after field 'to' ({Hour})", await ProblemAsync(reversed, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Equal(["quality.auc", "quality.log_loss"], quality.EnumerateArray().Select(r => r.GetProperty("check").GetString()));
        Assert.Equal(0.66, Assert.Single(auc.EnumerateArray()).GetProperty("score").GetDouble());
        Assert.Contains("field 'check' 'qualty' is not a check; known: data_drift, prediction_drift, skew, quality", await ProblemAsync(unknownCheck, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains("quality.<metric> with metric one of auc, accuracy", await ProblemAsync(unknownMetric, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains("'monitor'", await ProblemAsync(badMonitor, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains("field 'limit' (0) must be within [1, 100000]", await ProblemAsync(badLimit, HttpStatusCode.BadRequest), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drift_in_served_traffic_fires_the_alert_and_its_pipeline_action_starts_a_run()
    {
        await File.WriteAllTextAsync(Path.Combine(fixture.PipelinesFolder, "retrain.yaml"), """
            pipeline: retrain
            steps:
              - name: ingest
                type: ingest
                parameters: { path: data.csv }
            """);
        await File.WriteAllTextAsync(Path.Combine(fixture.PipelinesFolder, "data.csv"), "a,b\n1,x\n2,y\n");
        await Server.DeployAsync("drifting", new { project = "flights", model = "delay/1" });
        await PredictAsync(rows: 40, times: 1, endpoint: "drifting"); // every row the same flight: far from the training spread
        await Server.Serving.FlushPredictionLogAsync();
        var alerts = Server.Services.GetRequiredService<ServerAlerts>().Dispatcher;
        var spec = new MonitorSpec
        {
            Name = "drifting-drift",
            Endpoint = "drifting",
            Model = "delay",
            Features = ["distance"],
            Checks = [MonitorChecks.DataDrift],
            Drift = new DriftOptions { MinimumSampleSize = 20 },
            Alerts = [new AlertRule { Name = "retrain-on-drift", Check = MonitorChecks.DataDrift, Actions = [new(AlertActionKind.TriggerPipeline, "retrain")] }],
        };
        var reference = Reference();
        var runner = new MonitorRunner("flights", spec, reference, Server.State.Home.Metadata.Monitoring, alerts);

        await new PredictionLogFeed(Server.Serving.PredictionLogFolder!, "drifting", layout: reference.Layout).FeedAsync(runner);
        var results = await runner.EvaluateAsync(long.MaxValue / 2, Actor.Local);
        await alerts.FlushAsync();

        Assert.Equal("drift", Assert.Single(results).Status);
        var runId = Assert.Single(alerts.PipelineRuns);
        await Task.WhenAll(Server.Services.GetRequiredService<PipelineRunner>().Running);
        using var http = Server.Http("viewer");
        var detail = await http.GetFromJsonAsync<JsonElement>($"/api/v1/projects/flights/pipelines/runs/{runId}");
        Assert.Equal("retrain", detail.GetProperty("run").GetProperty("pipeline").GetString());
        Assert.Equal("succeeded", detail.GetProperty("run").GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_monitor_put_through_the_api_is_listed_run_by_the_server_and_deleted()
    {
        using var editor = Server.Http("editor");
        using var viewer = Server.Http("viewer");

        using var put = await editor.PutAsJsonAsync("/api/v1/projects/flights/monitors/watched", new { model = "delay", window = "1h", features = new[] { "distance" }, checks = new[] { "data_drift" } });
        var listed = await viewer.GetFromJsonAsync<JsonElement>("/api/v1/projects/flights/monitors/watched");
        await Server.Services.GetRequiredService<Strata.Server.Hosting.MonitoringService>().TickAsync(TimeSpan.Zero, CancellationToken.None);
        var state = await Server.State.Home.Metadata.MonitorState.GetFeedStateAsync("flights", "watched", "watched");
        using var deleted = await editor.DeleteAsync("/api/v1/projects/flights/monitors/watched");
        using var again = await editor.DeleteAsync("/api/v1/projects/flights/monitors/watched");

        Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        var monitor = Assert.Single(listed.EnumerateArray());
        Assert.Equal("watched", monitor.GetProperty("name").GetString());
        Assert.Equal("distance", monitor.GetProperty("definition").GetProperty("features")[0].GetString());
        Assert.NotNull(state);
        Assert.True(state.ClosedUntil > 0);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Contains("watched", await ProblemAsync(again, HttpStatusCode.NotFound), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model":"delay","features":["distance","no_such_feature"]}""", "no_such_feature")]
    [InlineData("""{"model":"delay","window":"soon"}""", "soon")]
    [InlineData("""{"model":"delay","checks":["vibes"]}""", "vibes")]
    [InlineData("""{"model":"delay","endpoint":"elsewhere"}""", "elsewhere")]
    [InlineData("""{"model":"delay","colour":"red"}""", "colour")]
    [InlineData("""[1,2]""", "object")]
    public async Task A_bad_monitor_is_400_naming_what_is_wrong(string body, string named)
    {
        using var editor = Server.Http("editor");

        using var response = await editor.PutAsync("/api/v1/projects/flights/monitors/watched", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.Contains(named, StringComparison.Ordinal), problem);
    }

    [Fact]
    public async Task A_label_of_the_wrong_type_for_the_model_is_400_naming_the_value()
    {
        var ids = await PredictAsync(rows: 1, times: 1);
        using var http = Server.Http("editor");

        using var text = await PostAsync(http, "watched", $$"""{"labels":[{"request_id":"{{ids[0]}}","label":"maybe"}]}""");
        using var number = await PostAsync(http, "watched", $$"""{"labels":[{"request_id":"{{ids[0]}}","label":7}]}""");

        var problem = await ProblemAsync(text, HttpStatusCode.BadRequest);
        Assert.Contains("'maybe'", problem, StringComparison.Ordinal);
        Assert.Contains("labels[0].label", problem, StringComparison.Ordinal);
        Assert.Contains("7", await ProblemAsync(number, HttpStatusCode.BadRequest), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_label_file_is_stored_through_the_batch_route_and_its_requests_are_indexed()
    {
        var ids = await PredictAsync(rows: 1, times: 3);
        using var http = Server.Http("editor");
        var csv = $"request_id,label\n{ids[0]},1\n{ids[1]},0\n";
        var jsonl = $$"""{"request_id":"{{ids[2]}}","label":true}""" + "\n";

        using var first = await http.PostAsync("/v1/endpoints/watched/feedback/batch?format=csv", new StringContent(csv, Encoding.UTF8, "text/csv"));
        using var second = await http.PostAsync("/v1/endpoints/watched/feedback/batch?format=jsonl", new StringContent(jsonl, Encoding.UTF8, "application/x-ndjson"));

        Assert.Equal(2, (await ServingServer.JsonAsync(first)).GetProperty("stored").GetInt32());
        Assert.Equal(1, (await ServingServer.JsonAsync(second)).GetProperty("stored").GetInt32());
        var labels = await Server.State.Home.Metadata.Monitoring.ListLabelsAsync("flights", "watched");
        Assert.Equal(1.0, labels.Single(l => l.RequestId == ids[2]).Label);
        var indexed = await Server.State.Home.Metadata.MonitorState.FindPredictionsAsync("flights", "watched", ids);
        Assert.Equal(ids.Order(), indexed.Keys.Order());
    }

    [Theory]
    [InlineData("request_id,label\nREAL,1\nno-such-request,1\n", 1, HttpStatusCode.NotFound, "line 3")]
    [InlineData("request_id,label\nREAL,1\na,b,c\n", 41, HttpStatusCode.BadRequest, "labels:43")]
    [InlineData("id,truth\nREAL,1\n", 1, HttpStatusCode.BadRequest, "labels:1")]
    [InlineData("request_id,label\nREAL,\n", 1, HttpStatusCode.BadRequest, "labels:2")]
    public async Task A_bad_label_file_names_its_line_and_stores_nothing(string csv, int firstLine, HttpStatusCode status, string named)
    {
        var ids = await PredictAsync(rows: 1, times: 1);
        using var http = Server.Http("editor");

        using var response = await http.PostAsync(
            $"/v1/endpoints/watched/feedback/batch?format=csv&first_line={firstLine}", new StringContent(csv.Replace("REAL", ids[0], StringComparison.Ordinal), Encoding.UTF8, "text/csv"));

        var problem = await ProblemAsync(response, status);
        Assert.True(problem.Contains(named, StringComparison.Ordinal), problem);
        Assert.DoesNotContain(await Server.State.Home.Metadata.Monitoring.ListLabelsAsync("flights", "watched"), l => l.RequestId == ids[0]);
    }

    [Fact]
    public async Task Strata_monitor_labels_sends_a_label_file_and_status_reads_results_from_the_server()
    {
        var ids = await PredictAsync(rows: 1, times: 2);
        using var folder = new TempFolder("strata-labels-cli");
        var good = folder.File("labels.csv");
        var bad = folder.File("bad.csv");
        await File.WriteAllTextAsync(good, $"request_id,label\n{ids[0]},1\n{ids[1]},0\n");
        await File.WriteAllTextAsync(bad, $"request_id,label\n{ids[0]},1\nnot-served,1\n");
        await Server.State.Home.Metadata.Monitoring.SaveResultsAsync(
            "flights", [new MonitorResult("cli-drift", "cli-only", "delay", 1, 0, 3_600_000_000L, MonitorChecks.DataDrift, "drift", 0.75, 100, null)], Actor.Local);
        string[] remote = ["--server", Server.Address.ToString(), "--api-key", Server.Keys["editor"]];

        var sent = await Cli.Cli.RunAsync(["monitor", "labels", "watched", good, "--json", .. remote]);
        var refused = await Cli.Cli.RunAsync(["monitor", "labels", "watched", bad, .. remote]);
        var status = await Cli.Cli.RunAsync(["monitor", "status", "cli-only", "-p", "flights", "--json", .. remote]);

        Assert.True(sent.ExitCode == 0, sent.Error);
        Assert.Equal(2, JsonDocument.Parse(sent.Out).RootElement.GetProperty("stored").GetInt32());
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("line 3", refused.Error + refused.Out, StringComparison.Ordinal);
        Assert.True(status.ExitCode == 0, status.Error);
        var row = Assert.Single(JsonDocument.Parse(status.Out).RootElement.EnumerateArray());
        Assert.Equal("drift", row.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Models_register_with_reference_data_stores_the_reference_profile_with_the_version()
    {
        using var folder = new TempFolder("strata-register-reference");
        var (header, rows) = ServingServer.Sample(500);
        var csv = new StringBuilder(string.Join(',', header[..11]) + ",prediction\n");
        foreach (var row in rows)
        {
            csv.Append(string.Join(',', row[..11].Select(v => double.IsNaN(v) ? "" : v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))))
                .Append(',').Append(row[^1].ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }

        var data = folder.File("train.csv");
        await File.WriteAllTextAsync(data, csv.ToString());

        var result = await Cli.Cli.RunAsync(
            "models", "register", "delay-ref", "-f", ServingServer.FlightsModel, "--reference-data", data, "-p", "flights", "--json",
            "--server", Server.Address.ToString(), "--api-key", Server.Keys["editor"]);

        Assert.True(result.ExitCode == 0, result.Error);
        var reference = await ReferenceProfiles.LoadAsync(Server.Registry, Caller.Local, "flights", "delay-ref", 1);
        Assert.Equal(500, reference.RowCount);
        Assert.Contains(reference.Layout.Features, f => f.Name == "prediction");
        Assert.Contains(reference.Layout.Features, f => f.Name == "distance");
    }

    /// <summary>The training spread of distance: the flights sample.</summary>
    private static DriftProfile Reference()
    {
        var (header, rows) = ServingServer.Sample(2000);
        var distance = Array.IndexOf(header, "distance");
        var table = Table.From(("distance", Columns.Float64([.. rows.Select(r => (double?)r[distance])])));
        var layout = DriftLayout.FromProfile(Strata.Data.Profiling.Profiler.Profile(table));
        return DriftProfileBuilder.Profile(layout, table);
    }

    /// <summary>Predicts the first sample row <paramref name="rows"/> times per request; returns the request ids.</summary>
    private async Task<List<string>> PredictAsync(int rows, int times, string endpoint = "watched")
    {
        var (header, sample) = ServingServer.Sample(1);
        var row = ServingServer.RowJson(header[..11], sample[0]);
        var body = "{\"rows\":[" + string.Join(',', Enumerable.Repeat(row, rows)) + "]}";
        using var http = Server.Http("viewer");
        var ids = new List<string>();
        for (var i = 0; i < times; i++)
        {
            using var response = await http.PostAsync($"/v1/endpoints/{endpoint}/predict", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            ids.Add((await ServingServer.JsonAsync(response)).GetProperty("requestId").GetString()!);
        }

        return ids;
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, string endpoint, string body) =>
        http.PostAsync($"/v1/endpoints/{endpoint}/feedback", new StringContent(body, Encoding.UTF8, "application/json"));

    private static async Task<string> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return body;
    }
}
