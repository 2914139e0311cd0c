using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
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

    [Fact]
    public async Task A_metadata_store_that_does_not_answer_is_a_503_to_retry_and_a_warning_not_a_500_with_a_stack_trace()
    {
        var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var handler = new Strata.Server.Http.ProblemExceptionHandler(
            services.GetRequiredService<Microsoft.AspNetCore.Http.IProblemDetailsService>(),
            Microsoft.Extensions.Options.Options.Create(new Microsoft.AspNetCore.Http.Json.JsonOptions()),
            factory.CreateLogger<Strata.Server.Http.ProblemExceptionHandler>());
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = services };
        context.Response.Body = new MemoryStream();

        // What Npgsql throws when PostgreSQL refuses the connection: a DbException that says it is transient.
        Assert.True(await handler.TryHandleAsync(context, new StoreDown(), CancellationToken.None));

        Assert.Equal(503, context.Response.StatusCode);
        Assert.Equal("1", context.Response.Headers.RetryAfter.ToString());
        context.Response.Body.Position = 0;
        var problem = System.Text.Json.JsonDocument.Parse(context.Response.Body).RootElement;
        Assert.Equal("unavailable", problem.GetProperty("code").GetString());
        Assert.Equal("the metadata store does not answer; retry shortly", problem.GetProperty("detail").GetString());
        var entry = Assert.Single(logs.Entries);
        Assert.Equal(LogLevel.Warning, entry.Level);
    }

    private sealed class StoreDown : System.Data.Common.DbException
    {
        public StoreDown()
            : base("Failed to connect to 127.0.0.1:5432")
        {
        }

        public override bool IsTransient => true;
    }

    /// <summary>Every entry the server logs, at any level its filters let through (other server tests' too).</summary>
    internal sealed class CapturedLogs : ILoggerProvider
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
