using System.Globalization;

namespace Strata.Serving.Metrics;

/// <summary>Writes a registry in the Prometheus text exposition format 0.0.4, the format every scraper reads.</summary>
public static class PrometheusText
{
    /// <summary>The content type of the format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Writes every metric of the registry: <c># HELP</c>, <c># TYPE</c>, then its samples, lines ending in \n.</summary>
    public static void Write(MetricRegistry registry, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(writer);
        registry.BeforeCollect();
        foreach (var metric in registry.Metrics)
        {
            writer.Write("# HELP ");
            writer.Write(metric.Name);
            writer.Write(' ');
            writer.Write(MetricNames.EscapeHelp(metric.Help));
            writer.Write('\n');
            writer.Write("# TYPE ");
            writer.Write(metric.Name);
            writer.Write(' ');
            writer.Write(metric.Type);
            writer.Write('\n');
            metric.WriteSamples(writer);
        }
    }

    /// <summary>The whole registry as text (tests, small scrapes).</summary>
    public static string ToText(MetricRegistry registry)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        Write(registry, writer);
        return writer.ToString();
    }

    /// <summary>A sample value as the format spells it: shortest round-trip digits, <c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>.</summary>
    public static string Format(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    internal static void WriteSample(TextWriter writer, string name, string suffix, string labels, double value)
    {
        WriteName(writer, name, suffix, labels);
        writer.Write(Format(value));
        writer.Write('\n');
    }

    internal static void WriteSample(TextWriter writer, string name, string suffix, string labels, long value)
    {
        WriteName(writer, name, suffix, labels);
        writer.Write(value.ToString(CultureInfo.InvariantCulture));
        writer.Write('\n');
    }

    internal static void WriteBucket(TextWriter writer, string name, string labels, string le, long value)
    {
        writer.Write(name);
        writer.Write("_bucket{");
        if (labels.Length > 0)
        {
            writer.Write(labels);
            writer.Write(',');
        }

        writer.Write("le=\"");
        writer.Write(le);
        writer.Write("\"} ");
        writer.Write(value.ToString(CultureInfo.InvariantCulture));
        writer.Write('\n');
    }

    private static void WriteName(TextWriter writer, string name, string suffix, string labels)
    {
        writer.Write(name);
        writer.Write(suffix);
        if (labels.Length > 0)
        {
            writer.Write('{');
            writer.Write(labels);
            writer.Write('}');
        }

        writer.Write(' ');
    }
}
