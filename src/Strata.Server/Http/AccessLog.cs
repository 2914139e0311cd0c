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

    /// <summary>Test hook: waited for (on the writer's own thread) before it drains the queue (a writer that falls behind).</summary>
    public Func<Task>? BeforeWrite { get; set; }
}

/// <summary>
/// The per-request access log: one line per answered request (timestamp, request id, method, route pattern, endpoint,
/// status, latency, the model and version that predicted, the caller key's id), JSON when the server logs JSON. Both
/// pipelines (the inference fast path and the general one) record each request once, after it is answered; the line is
/// encoded on the request's thread and written off the request path by a <see cref="QueuedWriter{T}"/>, which drops and
/// counts when it is full.
/// Setting <c>--Strata:AccessLog</c> (<c>strata serve --access-log</c>): <c>stdout</c> (every request), <c>off</c>, or a
/// sampling rate in (0, 1] that keeps that share of successful requests (by request id, as the prediction log
/// samples; default <see cref="DefaultSetting"/>); a request that failed (status 400 and up) is always logged.
/// </summary>
internal sealed class AccessLog : QueuedWriter<AccessRecord>
{
    /// <summary>
    /// The setting when none is given: one successful request in ten (and every failed one).
    /// </summary>
    /// <remarks>
    /// NOTE: a logged request costs about 1 µs of CPU as a text line and 3 µs as JSON (measured on the shared 2-core
    /// machine, request side and writer together), against roughly 25–50 µs a prediction takes the whole server, so
    /// logging every request would cost 4–12% of predict throughput; a tenth keeps it under 2%.
    /// <c>bench/peers/serve_access_log.sh</c> compares the settings.
    /// </remarks>
    public const string DefaultSetting = "0.1";

    /// <summary>The category a JSON line names, as the server's other log lines name theirs.</summary>
    public const string Category = "Strata.Server.AccessLog";

    // NOTE: a write of at most PIPE_BUF bytes to a pipe is atomic, so whole lines never interleave with the console
    // logger's lines when both go to the same pipe.
    private const int AtomicWrite = 4096;

    private readonly Stream _output;
    private readonly bool _json;
    private readonly double _rate;

    public AccessLog(IOptions<StrataServerOptions> server, IConfiguration configuration, IOptions<AccessLogOptions> options, ServerMetrics metrics)
        : base(
            new QueuedWriterOptions { Capacity = options.Value.Capacity, BeforeWrite = options.Value.BeforeWrite },
            new QueuedWriterCounters(
                metrics.Registry.CreateCounter("strata_http_access_log_written_total", "Requests written to the access log.").Unlabelled,
                metrics.Registry.CreateCounter("strata_http_access_log_dropped_total", "Requests not written to the access log because its queue was full.").Unlabelled,
                metrics.Registry.CreateCounter("strata_http_access_log_failures_total", "Requests not written to the access log because writing them failed (a closed output) or they could not be encoded.").Unlabelled))
    {
        _rate = ParseRate(server.Value.AccessLog ?? DefaultSetting);
        _json = configuration[StrataServerOptions.Section + ":LogFormat"] == "json";
        _output = options.Value.Output ?? Console.OpenStandardOutput();
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

    /// <summary>Records a request of the general pipeline, under its matched route (and the endpoint that route names).</summary>
    public void Record(HttpContext context, string route, bool failed, long startTimestamp)
    {
        if (Enabled)
        {
            Record(context, route, AccessLogExtensions.EndpointOf(route, context.Request.Path), failed, startTimestamp);
        }
    }

    /// <summary>Notes the caller of a request the inference fast path authenticated (the general pipeline has its <see cref="CallerFeature"/>).</summary>
    public static void Caller(HttpContext context, Principal principal) => context.Features.Set(principal);

    /// <summary>Notes the model and version that answered a request.</summary>
    public static void Served(HttpContext context, PredictionOutput output) => context.Features.Set(output);

    protected override RecordEncoder CreateEncoder() => new LineEncoder(_json);

    /// <summary>Encodes access lines (text or JSON) for one request thread; keeps the timestamp's second between lines.</summary>
    private sealed class LineEncoder(bool json) : RecordEncoder
    {
        private readonly StringBuilder _line = new(256);
        private readonly char[] _secondText = new char[19];
        private Utf8JsonWriter? _writer;
        private long _second = -1;

        public override void Append(AccessRecord record, ArrayBufferWriter<byte> buffer)
        {
            Span<char> timestamp = stackalloc char[24];
            Timestamp(record.UtcTicks, timestamp);
            var latency = Math.Round(record.LatencyMs, 3);
            if (json)
            {
                // The shape of the server's other JSON lines (Microsoft's JSON console formatter), the fields under State.
                // NOTE: names are pre-encoded and nothing is allocated: this runs for every request the log keeps.
                Span<char> message = stackalloc char[160];
                if (!message.TryWrite(CultureInfo.InvariantCulture, $"{record.Method} {record.Route} {record.Status}", out var written))
                {
                    written = 0;
                }

                var json = _writer ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }); // the shape is fixed below
                json.Reset(buffer);
                json.WriteStartObject();
                json.WriteString(Json.Timestamp, timestamp);
                json.WriteNumber(Json.EventId, 0);
                json.WriteString(Json.LogLevel, Json.Information);
                json.WriteString(Json.Category, Json.CategoryValue);
                json.WriteString(Json.Message, message[..written]);
                json.WriteStartObject(Json.State);
                json.WriteString(Json.RequestId, record.RequestId);
                json.WriteString(Json.Method, record.Method);
                json.WriteString(Json.Route, record.Route);
                if (record.Endpoint is not null)
                {
                    json.WriteString(Json.Endpoint, record.Endpoint);
                }

                json.WriteNumber(Json.Status, record.Status);
                json.WriteNumber(Json.LatencyMs, latency);
                if (record.Model is not null)
                {
                    json.WriteString(Json.Model, record.Model);
                    json.WriteNumber(Json.ModelVersion, record.ModelVersion);
                }

                if (record.KeyId is not null)
                {
                    json.WriteString(Json.KeyId, record.KeyId);
                }

                json.WriteEndObject();
                json.WriteEndObject();
                json.Flush();
            }
            else
            {
                var line = _line.Clear();
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
                    Encoding.UTF8.GetBytes(chunk.Span, buffer);
                }
            }

            buffer.Write("\n"u8);
        }

        /// <summary>Formats <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (the console logger's format); the part up to the second is kept between lines.</summary>
        private void Timestamp(long utcTicks, Span<char> destination)
        {
            var second = utcTicks / TimeSpan.TicksPerSecond;
            if (second != _second)
            {
                new DateTime(second * TimeSpan.TicksPerSecond, DateTimeKind.Utc).TryFormat(_secondText, out _, "yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
                _second = second;
            }

            _secondText.CopyTo(destination);
            var millis = (int)(utcTicks % TimeSpan.TicksPerSecond / TimeSpan.TicksPerMillisecond);
            destination[19] = '.';
            destination[20] = (char)('0' + (millis / 100));
            destination[21] = (char)('0' + (millis / 10 % 10));
            destination[22] = (char)('0' + (millis % 10));
            destination[23] = 'Z';
        }
    }

    protected override void Write(ReadOnlySpan<byte> bytes)
    {
        var rest = bytes;
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
    }
}

/// <summary>The JSON line's names, encoded once.</summary>
file static class Json
{
    public static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("Timestamp");
    public static readonly JsonEncodedText EventId = JsonEncodedText.Encode("EventId");
    public static readonly JsonEncodedText LogLevel = JsonEncodedText.Encode("LogLevel");
    public static readonly JsonEncodedText Information = JsonEncodedText.Encode("Information");
    public static readonly JsonEncodedText Category = JsonEncodedText.Encode("Category");
    public static readonly JsonEncodedText CategoryValue = JsonEncodedText.Encode(AccessLog.Category);
    public static readonly JsonEncodedText Message = JsonEncodedText.Encode("Message");
    public static readonly JsonEncodedText State = JsonEncodedText.Encode("State");
    public static readonly JsonEncodedText RequestId = JsonEncodedText.Encode("RequestId");
    public static readonly JsonEncodedText Method = JsonEncodedText.Encode("Method");
    public static readonly JsonEncodedText Route = JsonEncodedText.Encode("Route");
    public static readonly JsonEncodedText Endpoint = JsonEncodedText.Encode("Endpoint");
    public static readonly JsonEncodedText Status = JsonEncodedText.Encode("Status");
    public static readonly JsonEncodedText LatencyMs = JsonEncodedText.Encode("LatencyMs");
    public static readonly JsonEncodedText Model = JsonEncodedText.Encode("Model");
    public static readonly JsonEncodedText ModelVersion = JsonEncodedText.Encode("ModelVersion");
    public static readonly JsonEncodedText KeyId = JsonEncodedText.Encode("KeyId");
}

/// <summary>Registers the access log; the HTTP metrics record the general pipeline's requests in it (the inference fast path its own).</summary>
internal static class AccessLogExtensions
{
    private static readonly string[] EndpointRoutes = ["/v1/endpoints/{name}", "/v2/models/{name}", "/v2/repository/models/{name}"];

    public static IServiceCollection AddAccessLog(this IServiceCollection services)
    {
        services.AddOptions<AccessLogOptions>();
        return services.AddSingleton<AccessLog>();
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
