using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Strata.IntegrationTests.Server;
using Strata.Security;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Reliability;

/// <summary>
/// A prediction-log segment left open by a crash: a writer sharing the folder leaves it alone while its writer lives and
/// closes it once that writer is SIGKILLed; it reaches feedback after the restart, closed at start however recent and
/// read although the feedback index had already read a later segment.
/// </summary>
public sealed class PredictionLogCrashTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_writer_sharing_the_folder_closes_a_killed_writers_segment_and_never_a_live_ones()
    {
        using var folder = new TempFolder("strata-plog-kill");
        await using var replica = new PredictionLog(
            new PredictionLogOptions { Folder = folder.Path, MaxSegmentAge = TimeSpan.FromMilliseconds(20) }, new MetricRegistry());
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { CrashWriterProcess.Writer, "predictions", folder.Path, "0", ServingServer.FlightsModel })
        {
            info.ArgumentList.Add(arg);
        }

        using var child = Process.Start(info)!;
        var errors = child.StandardError.ReadToEndAsync();
        try
        {
            var line = await child.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(line == "OPEN", $"the writer said '{line}': {(child.HasExited ? await errors : "")}");
            await Task.Delay(500); // 25 looks for leftovers by the replica

            Assert.Single(Directory.GetFiles(folder.Path, "*" + PredictionLog.OpenExtension)); // its lock is held
            Assert.False(child.HasExited);
        }
        finally
        {
            child.Kill(); // SIGKILL: the segment stays open, its lock goes with the process
            await child.WaitForExitAsync();
        }

        for (var i = 0; i < 500 && Directory.GetFiles(folder.Path, "*" + PredictionLog.OpenExtension).Length > 0; i++)
        {
            await Task.Delay(10);
        }

        Assert.Empty(Directory.GetFiles(folder.Path, "*" + PredictionLog.OpenExtension));
        var ids = new List<string>();
        await foreach (var record in PredictionLogReader.ReadAsync(folder.Path))
        {
            ids.Add(record.RequestId);
        }

        Assert.True(ids.Count > 0);
        Assert.Equal(Enumerable.Range(0, ids.Count).Select(i => $"kill-0-{i}"), ids); // every line written, in order, but a torn last one
    }

    [Fact]
    public async Task Feedback_finds_a_request_of_a_segment_left_open_by_a_crash_after_a_later_segment_was_indexed()
    {
        using var home = new TempFolder("strata-plog-crash");
        Dictionary<string, string> keys;
        string folder;
        await using (var server = await ServingServer.StartAsync(home: home.Path))
        {
            server.Keys["editor"] = (await server.Registry.CreateKeyAsync(Caller.Local, "flights", "editor-bot", Role.Editor, null)).Token;
            keys = new Dictionary<string, string>(server.Keys);
            await server.DeployAsync("flights", new { project = "flights", model = "delay/1" });
            var served = await PredictAsync(server);
            using var http = server.Http("editor");
            using var first = await FeedbackAsync(http, served);
            Assert.Equal(HttpStatusCode.OK, first.StatusCode); // the index has read the segment holding it
            folder = server.Serving.PredictionLogFolder!;
        }

        // What a process killed mid-segment leaves: an open segment, named before the one indexed, whose last line is torn.
        var closed = Directory.GetFiles(folder, "*" + PredictionLog.SegmentExtension).Order(StringComparer.Ordinal).First();
        var line = File.ReadLines(closed).First();
        var time = long.Parse(Path.GetFileName(closed)[..20], CultureInfo.InvariantCulture) - 1_000_000;
        var lost = string.Create(CultureInfo.InvariantCulture, $"{time:D20}-{1:D7}-{2:D6}{PredictionLog.OpenExtension}");
        await File.WriteAllTextAsync(
            Path.Combine(folder, lost), string.Concat(Enumerable.Range(1, 3).Select(i => Crashed(line, i) + "\n")) + line[..(line.Length / 2)]);

        await using var again = await ServingServer.StartAsync(home: home.Path, seed: false);
        foreach (var (name, token) in keys)
        {
            again.Keys[name] = token;
        }

        using var client = again.Http("editor");
        foreach (var id in new[] { "crashed-1", "crashed-3" })
        {
            using var response = await FeedbackAsync(client, id);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        Assert.False(File.Exists(Path.Combine(folder, lost)));
    }

    /// <summary>The line with request id crashed-<paramref name="i"/> instead of its own.</summary>
    private static string Crashed(string line, int i)
    {
        const string Key = "\"request_id\":\"";
        var start = line.IndexOf(Key, StringComparison.Ordinal) + Key.Length;
        var end = line.IndexOf('"', start);
        return string.Concat(line.AsSpan(0, start), $"crashed-{i}", line.AsSpan(end));
    }

    private static async Task<string> PredictAsync(ServingServer server)
    {
        var (header, sample) = ServingServer.Sample(1);
        var body = "{\"rows\":[" + ServingServer.RowJson(header[..11], sample[0]) + "]}";
        using var http = server.Http("viewer");
        using var response = await http.PostAsync("/v1/endpoints/flights/predict", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await ServingServer.JsonAsync(response)).GetProperty("requestId").GetString()!;
    }

    private static Task<HttpResponseMessage> FeedbackAsync(HttpClient http, string id) =>
        http.PostAsync("/v1/endpoints/flights/feedback", new StringContent($$"""{"labels":[{"request_id":"{{id}}","label":1}]}""", Encoding.UTF8, "application/json"));
}
