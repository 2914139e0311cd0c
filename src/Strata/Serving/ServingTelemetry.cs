using System.Diagnostics;

namespace Strata.Serving;

/// <summary>
/// The serving runtime's trace spans (predictions, model loads, enrichment), for OpenTelemetry or any ActivityListener.
/// With no listener, starting a span returns null at the cost of one check, so tracing off costs the hot path nothing.
/// </summary>
public static class ServingTelemetry
{
    /// <summary>The ActivitySource name to subscribe to.</summary>
    public const string SourceName = "Strata.Serving";

    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// True while something listens to the serving spans: only then is a caller's trace context worth reading (a
    /// request's <c>traceparent</c> header), since without a listener no span is made to carry it.
    /// </summary>
    public static bool IsTracing => Source.HasListeners();
}
