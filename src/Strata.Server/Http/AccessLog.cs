using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Strata.Security;
using Strata.Serving;
using Strata.Stores;

namespace Strata.Server.Http;

/// <summary>
/// One answered request as the access log writes it: names and numbers only — the route's pattern, never the raw path,
/// query string or body, and the caller key's id, never its secret.
/// </summary>
internal readonly record struct AccessRecord(
    long UtcTicks,
    string RequestId,
    string Method,
    string Route,
    string? Endpoint,
    int Status,
    double LatencyMs,
    string? Model,
    int ModelVersion,
    string? KeyId);

/// <summary>Where the access log writes and how much it queues (tests point it elsewhere and hold its writer).</summary>
internal sealed class AccessLogOptions
{
    /// <summary>The output; null for the process's standard output.</summary>
    public Stream? Output { get; set; }

    /// <summary>Records waiting to be written; beyond it new ones are dropped and counted.</summary>
    public int Capacity { get; set; } = 16_384;

    /// <summary>Test hook: awaited before the writer drains the queue (a writer that falls behind).</summary>
    public Func<Task>? BeforeWrite { get; set; }
}

/// <summary>
/// The per-request access log: one line per answered request (timestamp, request id, method, route pattern, endpoint,
/// status, latency, the model and version that predicted, the caller key's id), JSON when the server logs JSON. Both
/// pipelines (the inference fast path and the general one) record each request once, after it is answered; the line is
/// written off the request path through a <see cref="QueuedWriter{T}"/>, which drops and counts when it is full.
/// Setting <c>--Strata:AccessLog</c> (<c>strata serve --access-log</c>): <c>stdout</c> (every request), <c>off</c>, or a
/// sampling rate in (0, 1] that keeps that share of successful requests (by request id, as the prediction log
/// samples); a request that failed (status 400 and up) is always logged.
/// </summary>
internal sealed class AccessLog : QueuedWriter<AccessRecord>
{
    /// <summary>The setting when none is given: every request.</summary>
    public const string DefaultSetting = "stdout";

    /// <summary>The category a JSON line names, as the server's other log lines name theirs.</summary>
    public const string Category = "Strata.Server.AccessLog";

    // NOTE: a write of at most PIPE_BUF bytes to a pipe is atomic, so whole lines never interleave with the console
    // logger's lines when both go to the same pipe.
    private const int AtomicWrite = 4096;

    private readonly Stream _output;
    private readonly bool _json;
    private readonly double _rate;
    private readonly Utf8JsonWriter _writer;
    private readonly StringBuilder _line = new(256);

    public AccessLog(IOptions<StrataServerOptions> server, IConfiguration configuration, IOptions<AccessLogOptions> options, ServerMetrics metrics)
        : base(
            new QueuedWriterOptions { Capacity = options.Value.Capacity, BeforeWrite = options.Value.BeforeWrite },
            new QueuedWriterCounters(
                metrics.Registry.CreateCounter("strata_http_access_log_written_total", "Requests written to the access log.").Unlabelled,
                metrics.Registry.CreateCounter("strata_http_access_log_dropped_total", "Requests not written to the access log because its queue was full.").Unlabelled,
                metrics.Registry.CreateCounter("strata_http_access_log_failures_total", "Access log writes that failed (a closed output).").Unlabelled))
    {
        _rate = ParseRate(server.Value.AccessLog ?? DefaultSetting);
        _json = configuration[StrataServerOptions.Section + ":LogFormat"] == "json";
        _output = options.Value.Output ?? Console.OpenStandardOutput();
        _writer = new Utf8JsonWriter(Buffer);
        Enabled = _rate > 0;
        if (Enabled)
        {
            Start();
        }
    }

    /// <summary>False when the setting is <c>off</c>: nothing is recorded and no writer runs.</summary>
    public bool Enabled { get; }

    /// <summary>The share of successful requests logged: 1 for <c>stdout</c>, 0 for <c>off</c>, else the sampling rate.</summary>
    /// <exception cref="StrataException">Anything else (argument invalid).</exception>
    public static double ParseRate(string setting) => setting switch
    {
        "stdout" => 1,
        "off" => 0,
        _ when double.TryParse(setting, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate > 0 && rate <= 1 => rate,
        _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"access log '{setting}' is not one of stdout, off, or a sampling rate above 0 and at most 1 (e.g. 0.1)"),
    };

    /// <summary>
    /// Records an answered request (never blocks): its status, or 500 when it <paramref name="failed"/> with an
    /// exception; the model that answered and the caller's key from the request's features.
    /// </summary>
    public void Record(HttpContext context, string route, string? endpoint, bool failed, long startTimestamp)
    {
        if (!Enabled)
        {
            return;
        }

        var status = failed ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
        var id = context.TraceIdentifier;
        if (status < StatusCodes.Status400BadRequest && !LogSampling.Sampled(id, _rate))
        {
            return;
        }

        var features = context.Features;
        var output = features.Get<PredictionOutput>();
        var key = features.Get<Principal>()?.KeyId ?? features.Get<CallerFeature>()?.Caller.Principal.KeyId;
        TryWrite(new AccessRecord(
            DateTime.UtcNow.Ticks, id, ServerMetrics.Method(context.Request.Method), route, endpoint, status,
            Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, output?.Model, output?.Version ?? 0, key));
    }

    /// <summary>Notes the caller of a request the inference fast path authenticated (the general pipeline has its <see cref="CallerFeature"/>).</summary>
    public static void Caller(HttpContext context, Principal principal) => context.Features.Set(principal);

    /// <summary>Notes the model and version that answered a request.</summary>
    public static void Served(HttpContext context, PredictionOutput output) => context.Features.Set(output);

    /// <summary>Writes what is queued and stops.</summary>
    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync().ConfigureAwait(false);
        await _writer.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Append(AccessRecord record)
    {
        var time = new DateTime(record.UtcTicks, DateTimeKind.Utc);
        Span<char> timestamp = stackalloc char[32];
        time.TryFormat(timestamp, out var length, "yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        timestamp = timestamp[..length];
        var latency = Math.Round(record.LatencyMs, 3);
        var line = _line.Clear();
        if (_json)
        {
            // The shape of the server's other JSON lines (Microsoft's JSON console formatter), the fields under State.
            line.Append(CultureInfo.InvariantCulture, $"{record.Method} {record.Route} {record.Status} {latency} ms");
            var json = _writer;
            json.Reset(Buffer);
            json.WriteStartObject();
            json.WriteString("Timestamp", timestamp);
            json.WriteNumber("EventId", 0);
            json.WriteString("LogLevel", "Information");
            json.WriteString("Category", Category);
            json.WriteString("Message", line.ToString());
            json.WriteStartObject("State");
            json.WriteString("RequestId", record.RequestId);
            json.WriteString("Method", record.Method);
            json.WriteString("Route", record.Route);
            WriteIfSet(json, "Endpoint", record.Endpoint);
            json.WriteNumber("Status", record.Status);
            json.WriteNumber("LatencyMs", latency);
            if (record.Model is not null)
            {
                json.WriteString("Model", record.Model);
                json.WriteNumber("ModelVersion", record.ModelVersion);
            }

            WriteIfSet(json, "KeyId", record.KeyId);
            json.WriteEndObject();
            json.WriteEndObject();
            json.Flush();
        }
        else
        {
            line.Append(timestamp).Append(CultureInfo.InvariantCulture, $" access {record.RequestId} {record.Method} {record.Route} {record.Status} {latency} ms");
            if (record.Endpoint is not null)
            {
                line.Append(" endpoint=").Append(record.Endpoint);
            }

            if (record.Model is not null)
            {
                line.Append(CultureInfo.InvariantCulture, $" model={record.Model} version={record.ModelVersion}");
            }

            if (record.KeyId is not null)
            {
                line.Append(" key=").Append(record.KeyId);
            }

            foreach (var chunk in line.GetChunks())
            {
                Encoding.UTF8.GetBytes(chunk.Span, Buffer);
            }
        }

        Buffer.Write("\n"u8);
    }

    protected override ValueTask WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        // Synchronous: this is the writer's own task, and standard output has no asynchronous write to offer.
        var rest = bytes.Span;
        while (rest.Length > 0)
        {
            var n = rest.Length;
            if (n > AtomicWrite)
            {
                var end = rest[..AtomicWrite].LastIndexOf((byte)'\n');
                n = end >= 0 ? end + 1 : AtomicWrite;
            }

            _output.Write(rest[..n]);
            rest = rest[n..];
        }

        _output.Flush();
        return ValueTask.CompletedTask;
    }

    private static void WriteIfSet(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }
}

/// <summary>Registers the access log and records the general pipeline's requests (the inference fast path records its own).</summary>
internal static class AccessLogExtensions
{
    private static readonly string[] EndpointRoutes = ["/v1/endpoints/{name}", "/v2/models/{name}", "/v2/repository/models/{name}"];

    public static IServiceCollection AddAccessLog(this IServiceCollection services)
    {
        services.AddOptions<AccessLogOptions>();
        return services.AddSingleton<AccessLog>();
    }

    /// <summary>Outer, beside the HTTP metrics: sees the final status, including the exception handler's problems.</summary>
    public static IApplicationBuilder UseAccessLog(this IApplicationBuilder app)
    {
        var log = app.ApplicationServices.GetRequiredService<AccessLog>();
        if (!log.Enabled)
        {
            return app;
        }

        return app.Use(async (context, next) =>
        {
            var start = Stopwatch.GetTimestamp();
            var failed = false;
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch
            {
                failed = true;
                throw;
            }
            finally
            {
                var route = context.Features.Get<RouteMetrics>()?.Route ?? ServerMetrics.UnmatchedRoute;
                log.Record(context, route, EndpointOf(route, context.Request.Path), failed, start);
            }
        });
    }

    /// <summary>
    /// The endpoint (or OIP model) a serving route names, read from the path at the place of the pattern's
    /// <c>{name}</c> (the exception handler clears route values before this runs); null when it is not a valid name.
    /// </summary>
    internal static string? EndpointOf(string route, PathString path)
    {
        if (!EndpointRoutes.Any(r => route.StartsWith(r, StringComparison.Ordinal)) || path.Value is not { } value)
        {
            return null;
        }

        var index = route.AsSpan(0, route.IndexOf("{name}", StringComparison.Ordinal)).Count('/');
        var segments = value.Split('/');
        return index < segments.Length && Names.IsValid(segments[index]) ? segments[index] : null;
    }
}
