using System.Diagnostics;

namespace Strata.Serving;

/// <summary>
/// The serving runtime's trace spans (model loads, enrichment), for OpenTelemetry or any ActivityListener. With no
/// listener, starting a span returns null at the cost of one check, so tracing off costs the hot path nothing.
/// </summary>
public static class ServingTelemetry
{
    /// <summary>The ActivitySource name to subscribe to.</summary>
    public const string SourceName = "Strata.Serving";

    internal static readonly ActivitySource Source = new(SourceName);
}
