using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// What the server's own log says about requests: not a line per routine request, not an error for a refusal under
/// load or for a client that leaves while its answer is on its way (and the metrics do not count that as a 500).
/// </summary>
public sealed class ServerLoggingTests
{
    private const string PredictRoute = "route=\"/v1/endpoints/{name}/predict\"";

    [Fact]
    public async Task Refusals_under_load_and_the_framework_s_routine_lines_stay_out_of_the_log()
    {
        var logs = new CapturedLogs();
        await using var server = await ServingServer.StartWithAsync(b => b.Logging.AddProvider(logs), "--Logging:LogLevel:Default", "Information");
        await server.DeployAsync("refusing", new { project = "flights", model = "delay/1", limits = new { max_concurrency = 1, max_queue = 0 } });
        using var http = server.Http();
        var (header, rows) = ServingServer.Sample(1);

        using (await server.Serving.RuntimeOf("refusing").Admission.EnterAsync(CancellationToken.None))
        {
            using var refused = await http.PostAsync("/v1/endpoints/refusing/predict", ServingTests.Body(header, rows));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        using var metrics = await http.GetAsync("/metrics");
        using var status = await http.GetAsync("/v1/endpoints/refusing");
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (metrics.StatusCode, status.StatusCode));

        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
        Assert.DoesNotContain(logs.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) && e.Level < LogLevel.Warning);
    }

    [Fact]
    public async Task A_client_that_leaves_during_a_large_answer_is_not_counted_as_a_server_failure()
    {
        var logs = new CapturedLogs();
        await using var server = await ServingServer.StartWithAsync(b => b.Logging.AddProvider(logs), "--Strata:MaxRequestBodyBytes", "16000000");
        await server.DeployAsync("large", new { project = "flights", model = "delay/1", limits = new { max_rows = 100_000 } });
        var (header, sample) = ServingServer.Sample();
        var rows = Enumerable.Range(0, 20_000).Select(i => sample[i % sample.Count]).ToList();
        var body = await ServingTests.Body(header, rows).ReadAsByteArrayAsync();
        const int Attempts = 3;

        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(server.Address.Host, server.Address.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /v1/endpoints/large/predict HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {server.Keys["viewer"]}\r\n" +
                $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"));
            await stream.WriteAsync(body);
            var start = new byte[30];
            await stream.ReadExactlyAsync(start);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(start), StringComparison.Ordinal);
            client.Client.Close(0); // gone, with most of the answer unread
        }

        // Every request is recorded once it ends: as answered (the status was sent), never as a failure of the server.
        using var http = server.Http();
        var recorded = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            recorded = [.. (await http.GetStringAsync("/metrics")).Split('\n').Where(l => l.StartsWith("strata_http_requests_total{" + PredictRoute, StringComparison.Ordinal))];
            if (recorded.Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)) >= Attempts)
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.NotEmpty(recorded);
        Assert.DoesNotContain(recorded, l => l.Contains("status=\"500\"", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
    }

    /// <summary>Every entry the server logs, at any level its filters let through.</summary>
    private sealed class CapturedLogs : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Entries.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }
}
