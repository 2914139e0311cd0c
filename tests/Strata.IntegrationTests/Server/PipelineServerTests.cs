using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Pipelines;

namespace Strata.IntegrationTests.Server;

public sealed class PipelineServerTests(StrataServerFactory server) : IClassFixture<StrataServerFactory>
{
    private const string Spec = """
        pipeline: nightly
        steps:
          - name: ingest
            type: ingest
            parameters: { path: data.csv }
          - name: profile
            type: profile
            inputs: { data: ingest.table }
        """;

    private void WritePipeline()
    {
        File.WriteAllText(Path.Combine(server.PipelinesFolder, "nightly.yaml"), Spec);
        File.WriteAllText(Path.Combine(server.PipelinesFolder, "data.csv"), "a,b\n1,x\n2,y\n");
    }

    [Fact]
    public async Task An_editor_starts_a_run_by_pipeline_name_and_it_runs_to_the_end_in_the_background()
    {
        WritePipeline();
        using var http = server.Http("editor");

        var response = await http.PostAsJsonAsync("/api/v1/projects/flights/pipelines/runs", new { pipeline = "nightly" });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var run = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = run.GetProperty("id").GetString()!;
        Assert.Equal($"/api/v1/projects/flights/pipelines/runs/{id}", response.Headers.Location!.OriginalString);
        await Task.WhenAll(server.Services.GetRequiredService<PipelineRunner>().Running);
        var detail = await http.GetFromJsonAsync<JsonElement>($"/api/v1/projects/flights/pipelines/runs/{id}");
        Assert.Equal("succeeded", detail.GetProperty("run").GetProperty("state").ToString());
        Assert.Equal(2, detail.GetProperty("steps").GetArrayLength());
        var runs = await http.GetFromJsonAsync<JsonElement>("/api/v1/projects/flights/pipelines/runs?pipeline=nightly");
        Assert.Contains(runs.EnumerateArray(), r => r.GetProperty("id").GetString() == id);
    }

    [Theory]
    [InlineData("viewer", """{"pipeline":"nightly"}""", HttpStatusCode.Forbidden)]
    [InlineData("editor", """{"pipeline":"../etc/passwd"}""", HttpStatusCode.BadRequest)]
    [InlineData("editor", """{"pipeline":"missing"}""", HttpStatusCode.NotFound)]
    [InlineData("editor", """{}""", HttpStatusCode.BadRequest)]
    [InlineData("editor", """{"pipeline": 5""", HttpStatusCode.BadRequest)]
    public async Task Bad_requests_to_start_a_run_are_client_errors_as_problems(string key, string body, HttpStatusCode expected)
    {
        WritePipeline();
        using var http = server.Http(key);

        var response = await http.PostAsync("/api/v1/projects/flights/pipelines/runs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_scheduler_starts_a_due_pipeline_once_per_due_minute_and_not_for_minutes_missed_before_start()
    {
        WritePipeline();
        var options = Microsoft.Extensions.Options.Options.Create(new PipelineServerOptions
        {
            Folder = server.PipelinesFolder,
            Schedules = [new PipelineScheduleOptions { Pipeline = "nightly", Project = "flights", Cron = "30 2 * * *" }],
        });
        var runner = server.Services.GetRequiredService<PipelineRunner>();
        var scheduler = new PipelineScheduler(runner, options, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<PipelineScheduler>.Instance);
        var day = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

        var atStart = await scheduler.TickAsync(day.AddHours(3), default);
        var before = await scheduler.TickAsync(day.AddDays(1).AddHours(2).AddMinutes(29), default);
        var due = await scheduler.TickAsync(day.AddDays(1).AddHours(2).AddMinutes(30), default);
        var again = await scheduler.TickAsync(day.AddDays(1).AddHours(2).AddMinutes(31), default);
        await Task.WhenAll(runner.Running);

        Assert.Empty(atStart);
        Assert.Empty(before);
        Assert.Equal("nightly", Assert.Single(due).Pipeline);
        Assert.Empty(again);
    }
}
