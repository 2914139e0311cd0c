using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Strata.Serving;

namespace Strata.Server.Hosting;

/// <summary>
/// OpenTelemetry traces, off unless an OTLP endpoint is configured (<c>Strata:Otlp:Endpoint</c> or the standard
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>). Off, nothing listens to the serving spans, so they are never created.
/// </summary>
internal static class Telemetry
{
    /// <summary>The service name traces are reported under.</summary>
    public const string ServiceName = "strata";

    /// <summary>The configured OTLP endpoint, or null when tracing is off.</summary>
    public static Uri? OtlpEndpoint(IConfiguration configuration)
    {
        var value = configuration[StrataServerOptions.Section + ":Otlp:Endpoint"] ?? configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
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
        if (OtlpEndpoint(builder.Configuration) is not { } endpoint)
        {
            return;
        }

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName))
            .WithTracing(t => t.AddSource(ServingTelemetry.SourceName).AddOtlpExporter(o => o.Endpoint = endpoint));
    }
}
