using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Strata.Serving;

namespace Strata.Server.Hosting;

/// <summary>
/// OpenTelemetry traces, off unless an OTLP endpoint is configured (<c>Strata:Otlp:Endpoint</c> or the standard
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> / <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>; <c>OTEL_EXPORTER_OTLP_PROTOCOL</c> and
/// <c>OTEL_SERVICE_NAME</c> as the spec says). Off, nothing listens to the serving spans, so they are never created.
/// </summary>
internal static class Telemetry
{
    /// <summary>The service name traces are reported under.</summary>
    public const string ServiceName = "strata";

    // OTLP over HTTP posts each signal to its own path below the base endpoint (the OpenTelemetry exporter spec).
    private const string TracesPath = "v1/traces";

    /// <summary>The configured OTLP endpoint, or null when tracing is off.</summary>
    public static Uri? OtlpEndpoint(IConfiguration configuration)
    {
        var value = configuration[StrataServerOptions.Section + ":Otlp:Endpoint"] ?? configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]
            ?? configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new StrataException(ErrorCodes.ArgumentInvalid, $"the OTLP endpoint '{value}' is not an http(s) URL");
    }

    public static void AddTracing(WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (OtlpEndpoint(configuration) is not { } endpoint)
        {
            return;
        }

        // The traces endpoint is the whole URL; the base endpoint (ours, or OTEL_EXPORTER_OTLP_ENDPOINT) gets the signal's
        // path when the protocol is HTTP. Setting the endpoint in code stops the exporter from adding it itself, so a
        // collector on :4318 was sent every span at "/" and refused them.
        var whole = configuration[StrataServerOptions.Section + ":Otlp:Endpoint"] is null && configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is null;
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : ServiceName))
            .WithTracing(t => t.AddSource(ServingTelemetry.SourceName).AddOtlpExporter(o =>
                o.Endpoint = whole || o.Protocol != OtlpExportProtocol.HttpProtobuf || endpoint.AbsolutePath.EndsWith("/" + TracesPath, StringComparison.Ordinal)
                    ? endpoint
                    : new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + TracesPath)));
    }
}
