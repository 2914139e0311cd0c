namespace Strata.Serving.Metrics;

/// <summary>The exposition format's name rules and escaping, in one place so the registry and the writer agree.</summary>
public static class MetricNames
{
    /// <summary>Whether <paramref name="name"/> matches <c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>.</summary>
    public static bool IsValidMetricName(string name) => IsValid(name, allowColon: true);

    /// <summary>
    /// Whether <paramref name="name"/> is a valid label name: <c>[a-zA-Z_][a-zA-Z0-9_]*</c> (colons are reserved for
    /// metric names) and not starting with <c>__</c>, which Prometheus reserves for itself.
    /// </summary>
    public static bool IsValidLabelName(string name) => IsValid(name, allowColon: false) && !name.StartsWith("__", StringComparison.Ordinal);

    /// <summary>Escapes a label value: backslash, double quote and newline.</summary>
    public static string EscapeLabelValue(string value) => Escape(value, quote: true);

    /// <summary>Escapes <c># HELP</c> text: backslash and newline (a quote needs no escape there).</summary>
    public static string EscapeHelp(string value) => Escape(value, quote: false);

    private static bool IsValid(string name, bool allowColon)
    {
        if (name.Length == 0)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (allowColon && c == ':') || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static string Escape(string value, bool quote)
    {
        if (value.AsSpan().IndexOfAny(quote ? "\\\"\n" : "\\\n") < 0)
        {
            return value;
        }

        var builder = new System.Text.StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => builder.Append(@"\\"),
                '\n' => builder.Append(@"\n"),
                '"' when quote => builder.Append("\\\""),
                _ => builder.Append(c),
            };
        }

        return builder.ToString();
    }
}
