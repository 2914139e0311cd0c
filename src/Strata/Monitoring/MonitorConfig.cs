using System.Globalization;
using Strata.Features.Definitions;
using Strata.Monitoring.Drift;
using Strata.Monitoring.Skew;
using YamlDotNet.RepresentationModel;

namespace Strata.Monitoring;

/// <summary>
/// Reads the <c>monitors:</c> section of <c>strata.yaml</c> (other sections are left to their strata). Errors name the
/// file and line.
/// </summary>
/// <example>
/// <code>
/// monitors:
///   - name: delays-drift
///     endpoint: flights
///     model: delays
///     window: 1h
///     label_delay: 6h
///     min_samples: 200
///     features: [dep_delay, carrier]
///     checks: [data_drift, prediction_drift, quality]
///     drift: { share: 0.5, features: { dep_delay: { method: psi, threshold: 0.2 } } }
///     alerts:
///       - { name: sustained-drift, check: data_drift, windows: 2, actions: [{ webhook: "http://127.0.0.1:9000/hook" }, log, { pipeline: retrain }] }
///       - { name: low-auc, check: quality.auc, below: 0.7, actions: [log] }
///   - name: fares-skew
///     endpoint: fares
///     model: fare
///     checks: [skew]
///     skew: { threshold: 0.01, min_rows: 50, features: { fare_mean_1d: 0.05 } }
///     alerts:
///       - { name: skewed, check: skew, actions: [{ webhook: "http://127.0.0.1:9000/hook" }] }
/// </code>
/// </example>
public static class MonitorConfig
{
    /// <summary>Largest configuration accepted, in characters.</summary>
    public const int MaxLength = 1 << 20;

    /// <summary>The monitors declared in <paramref name="yaml"/> (none when there is no <c>monitors:</c> section).</summary>
    /// <exception cref="DataFormatException">Invalid YAML, an unknown key, a bad value (<see cref="ErrorCodes.SchemaInvalid"/>).</exception>
    public static IReadOnlyList<MonitorSpec> Parse(string yaml, string source = "strata.yaml")
    {
        ArgumentNullException.ThrowIfNull(yaml);
        if (yaml.Length > MaxLength)
        {
            throw new DataFormatException(ErrorCodes.DataLimit, $"a configuration file may hold at most {MaxLength} characters", new DataLocation(source));
        }

        var stream = Strata.Data.Yaml.YamlText.Load(yaml, (e, line) => new DataFormatException(ErrorCodes.SchemaInvalid, $"invalid YAML ({e.Message})", new DataLocation(source, line)));

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root
            || !root.Children.TryGetValue(new YamlScalarNode("monitors"), out var section))
        {
            return [];
        }

        if (section is not YamlSequenceNode list)
        {
            throw Error(source, section, "'monitors' must be a list");
        }

        var result = new List<MonitorSpec>();
        foreach (var node in list)
        {
            var spec = Monitor(source, Map(source, node, "a monitor"));
            if (result.Any(m => m.Name == spec.Name && m.Endpoint == spec.Endpoint))
            {
                throw Error(source, node, $"monitor '{spec.Name}' is declared twice for endpoint '{spec.Endpoint}'");
            }

            result.Add(spec);
        }

        return result;
    }

    /// <summary>
    /// One monitor given as JSON (the shape of one <c>monitors:</c> item; the API's body), validated exactly like the YAML
    /// file (JSON is YAML's flow syntax).
    /// </summary>
    /// <exception cref="DataFormatException">Not one mapping, an unknown key, a bad value (<see cref="ErrorCodes.SchemaInvalid"/>).</exception>
    public static MonitorSpec ParseOne(string json, string source = "monitor")
    {
        ArgumentNullException.ThrowIfNull(json);
        var trimmed = json.Trim();
        if (!trimmed.StartsWith('{') || !trimmed.EndsWith('}'))
        {
            throw new DataFormatException(ErrorCodes.SchemaInvalid, "a monitor must be a JSON object", new DataLocation(source));
        }

        // NOTE: the whole object on one flow line after "- ", so YAML reads it as one mapping whatever its line breaks.
        var specs = Parse("monitors:\n  - " + trimmed.ReplaceLineEndings(" ") + "\n", source);
        return specs.Count == 1 ? specs[0] : throw new DataFormatException(ErrorCodes.SchemaInvalid, "expected exactly one monitor", new DataLocation(source));
    }

    private static MonitorSpec Monitor(string source, YamlMappingNode node)
    {
        OnlyKeys(source, node, "name", "endpoint", "model", "window", "min_samples", "features", "checks", "drift", "alerts", "prediction_column", "label_delay", "skew");
        var name = Text(source, node, "name", required: true)!;
        var windowText = Text(source, node, "window", required: false) ?? "1h";
        if (!Durations.TryParse(windowText, out var window) || window <= TimeSpan.Zero)
        {
            throw Error(source, node, $"monitor '{name}': window '{windowText}' is not a duration such as 30m, 1h or 1d");
        }

        TimeSpan? labelDelay = null;
        if (Text(source, node, "label_delay", required: false) is { } delayText)
        {
            labelDelay = Durations.TryParse(delayText, out var delay) && delay >= TimeSpan.Zero
                ? delay
                : throw Error(source, node.Children[new YamlScalarNode("label_delay")], $"monitor '{name}': label_delay '{delayText}' is not a duration such as 0s, 30m, 1h or 1d");
        }

        var drift = DriftOptions.Default;
        var minSamples = Whole(source, node, "min_samples");
        if (minSamples is { } min)
        {
            drift = drift with { MinimumSampleSize = min };
        }

        if (node.Children.TryGetValue(new YamlScalarNode("drift"), out var driftNode))
        {
            drift = Drift(source, Map(source, driftNode, "'drift'"), drift);
        }

        var skew = new MonitorSpec { Name = name, Endpoint = "e", Model = "m" }.Skew;
        if (minSamples is { } minRows)
        {
            skew = skew with { MinRows = (int)Math.Clamp(minRows, 0, SkewOptions.MaxRowsLimit) };
        }

        string? skewService = null;
        if (node.Children.TryGetValue(new YamlScalarNode("skew"), out var skewNode))
        {
            (skew, skewService) = Skew(source, Map(source, skewNode, "'skew'"), skew);
        }

        var spec = new MonitorSpec
        {
            Name = name,
            Endpoint = Text(source, node, "endpoint", required: true)!,
            Model = Text(source, node, "model", required: true)!,
            Window = window,
            LabelDelay = labelDelay,
            Features = List(source, node, "features") ?? [],
            Checks = List(source, node, "checks") ?? [MonitorChecks.DataDrift, MonitorChecks.PredictionDrift],
            PredictionColumn = Text(source, node, "prediction_column", required: false) ?? "prediction",
            Drift = drift,
            Skew = skew,
            SkewService = skewService,
            Alerts = node.Children.TryGetValue(new YamlScalarNode("alerts"), out var alerts)
                ? [.. (alerts as YamlSequenceNode ?? throw Error(source, alerts, "'alerts' must be a list")).Select(a => Alert(source, Map(source, a, "an alert")))]
                : [],
        };
        try
        {
            spec.Validate();
        }
        catch (StrataException e) when (e is not DataFormatException)
        {
            throw new DataFormatException(ErrorCodes.SchemaInvalid, e.Message, new DataLocation(source, (int)node.Start.Line), e);
        }

        return spec;
    }

    private static DriftOptions Drift(string source, YamlMappingNode node, DriftOptions options)
    {
        OnlyKeys(source, node, "share", "bins", "large_reference_rows", "features");
        options = options with
        {
            DriftShare = Number(source, node, "share") ?? options.DriftShare,
            Bins = (int)Math.Clamp(Whole(source, node, "bins") ?? options.Bins, int.MinValue, int.MaxValue),
            LargeReferenceRows = Whole(source, node, "large_reference_rows") ?? options.LargeReferenceRows,
        };
        if (!node.Children.TryGetValue(new YamlScalarNode("features"), out var featuresNode))
        {
            return options;
        }

        var features = new Dictionary<string, FeatureDriftOptions>(StringComparer.Ordinal);
        foreach (var (key, value) in Map(source, featuresNode, "'drift.features'").Children)
        {
            var feature = Map(source, value, $"drift options of '{key}'");
            OnlyKeys(source, feature, "method", "threshold");
            var methodText = Text(source, feature, "method", required: false);
            DriftMethod? method = methodText switch
            {
                null => null,
                "psi" => DriftMethod.Psi,
                "ks" => DriftMethod.KolmogorovSmirnov,
                "wasserstein" => DriftMethod.Wasserstein,
                "jensenshannon" or "js" => DriftMethod.JensenShannon,
                "chisquare" or "chi2" => DriftMethod.ChiSquare,
                _ => throw Error(source, feature, $"drift method '{methodText}' is not one of psi, ks, wasserstein, jensenshannon, chisquare"),
            };
            features[((YamlScalarNode)key).Value!] = new FeatureDriftOptions(method, Number(source, feature, "threshold"));
        }

        return options with { Features = features };
    }

    private static (SkewOptions Options, string? Service) Skew(string source, YamlMappingNode node, SkewOptions options)
    {
        OnlyKeys(source, node, "threshold", "min_rows", "max_rows", "relative_tolerance", "absolute_tolerance", "features", "service");
        options = options with
        {
            MaxMismatchShare = Number(source, node, "threshold") ?? options.MaxMismatchShare,
            MinRows = (int)Math.Clamp(Whole(source, node, "min_rows") ?? options.MinRows, int.MinValue, int.MaxValue),
            MaxRows = (int)Math.Clamp(Whole(source, node, "max_rows") ?? options.MaxRows, int.MinValue, int.MaxValue),
            RelativeTolerance = Number(source, node, "relative_tolerance") ?? options.RelativeTolerance,
            AbsoluteTolerance = Number(source, node, "absolute_tolerance") ?? options.AbsoluteTolerance,
        };
        if (node.Children.TryGetValue(new YamlScalarNode("features"), out var featuresNode))
        {
            var thresholds = new Dictionary<string, double>(StringComparer.Ordinal);
            var features = Map(source, featuresNode, "'skew.features'");
            foreach (var key in features.Children.Keys)
            {
                var feature = (key as YamlScalarNode)?.Value;
                if (string.IsNullOrEmpty(feature))
                {
                    throw Error(source, key, "a feature in 'skew.features' must be named");
                }

                thresholds[feature] = Number(source, features, feature)!.Value;
            }

            options = options with { Thresholds = thresholds };
        }

        return (options, Text(source, node, "service", required: false));
    }

    private static AlertRule Alert(string source, YamlMappingNode node)
    {
        OnlyKeys(source, node, "name", "check", "windows", "below", "above", "actions");
        var below = Number(source, node, "below");
        var above = Number(source, node, "above");
        var actions = new List<AlertAction>();
        if (node.Children.TryGetValue(new YamlScalarNode("actions"), out var actionsNode))
        {
            foreach (var a in actionsNode as YamlSequenceNode ?? throw Error(source, actionsNode, "'actions' must be a list"))
            {
                actions.Add(a switch
                {
                    YamlScalarNode { Value: "log" } => new AlertAction(AlertActionKind.Log),
                    YamlMappingNode m when m.Children.Count == 1 && Text(source, m, "webhook", required: false) is { } url => new AlertAction(AlertActionKind.Webhook, url),
                    YamlMappingNode m when m.Children.Count == 1 && Text(source, m, "pipeline", required: false) is { } pipeline => new AlertAction(AlertActionKind.TriggerPipeline, pipeline),
                    _ => throw Error(source, a, "an action is 'log', '{ webhook: URL }' or '{ pipeline: NAME }'"),
                });
            }
        }

        return new AlertRule
        {
            Name = Text(source, node, "name", required: true)!,
            Check = Text(source, node, "check", required: true)!,
            ConsecutiveWindows = (int)(Number(source, node, "windows") ?? 1),
            Comparison = below is not null ? AlertComparison.Below : above is not null ? AlertComparison.Above : AlertComparison.Drifted,
            Threshold = below ?? above ?? 0,
            Actions = actions.Count > 0 ? actions : [new AlertAction(AlertActionKind.Log)],
        };
    }

    private static YamlMappingNode Map(string source, YamlNode node, string what) =>
        node as YamlMappingNode ?? throw Error(source, node, $"{what} must be a mapping");

    private static void OnlyKeys(string source, YamlMappingNode node, params string[] keys)
    {
        foreach (var key in node.Children.Keys)
        {
            var k = (key as YamlScalarNode)?.Value;
            if (k is null || !keys.Contains(k))
            {
                throw Error(source, key, $"unknown key '{k}' (expected one of {string.Join(", ", keys)})");
            }
        }
    }

    private static string? Text(string source, YamlMappingNode node, string key, bool required)
    {
        if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
        {
            return required ? throw Error(source, node, $"'{key}' is required") : null;
        }

        return value is YamlScalarNode { Value: { Length: > 0 } text } ? text : throw Error(source, value, $"'{key}' must be a non-empty value");
    }

    private static double? Number(string source, YamlMappingNode node, string key)
    {
        var text = Text(source, node, key, required: false);
        if (text is null)
        {
            return null;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
            ? value
            : throw Error(source, node.Children[new YamlScalarNode(key)], $"'{key}' must be a number, not '{text}'");
    }

    /// <summary>A count: a number without a fraction (2.5 rows would otherwise be cut to 2 without a word).</summary>
    private static long? Whole(string source, YamlMappingNode node, string key)
    {
        var value = Number(source, node, key);
        return value is null ? null
            : value == Math.Floor(value.Value) && Math.Abs(value.Value) < 1e15 ? (long)value.Value
            : throw Error(source, node.Children[new YamlScalarNode(key)], $"'{key}' must be a whole number, not '{Text(source, node, key, required: false)}'");
    }

    private static List<string>? List(string source, YamlMappingNode node, string key)
    {
        if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
        {
            return null;
        }

        return value is YamlSequenceNode list && list.All(n => n is YamlScalarNode { Value.Length: > 0 })
            ? [.. list.Select(n => ((YamlScalarNode)n).Value!)]
            : throw Error(source, value, $"'{key}' must be a list of names");
    }

    private static DataFormatException Error(string source, YamlNode node, string message) =>
        new(ErrorCodes.SchemaInvalid, message, new DataLocation(source, (int)node.Start.Line));
}
