using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Strata.Serving;

/// <summary>
/// Reads the <c>endpoints:</c> section of <c>strata.yaml</c> (other sections belong to other strata and are left alone).
/// Only YamlDotNet's node model is used, so nothing in the file picks a .NET type, and every mistake is reported as
/// <c>file:line: what is wrong</c>.
/// </summary>
public static class DeploymentYaml
{
    /// <summary>Largest configuration file read, in bytes.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Most endpoints in one file.</summary>
    public const int MaxEndpoints = 1000;

    private static readonly string[] EndpointKeys =
        ["name", "project", "model", "challenger", "challenger_weight", "shadow", "feature_service", "sticky_key", "pii", "log_sample_rate", "limits", "batching"];

    private static readonly string[] LimitKeys = ["max_concurrency", "max_queue", "rate_per_second", "burst", "timeout_ms", "max_rows"];

    private static readonly string[] BatchingKeys = ["max_batch_size", "max_delay_ms"];

    /// <summary>Reads the deployments of a configuration file; none when the file has no <c>endpoints:</c> section.</summary>
    /// <exception cref="StrataException">A missing or oversized file, or a mistake in the section (with file and line).</exception>
    public static async Task<IReadOnlyList<Deployment>> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new StrataException(ErrorCodes.NotFound, $"{path}: no such configuration file");
        }

        if (info.Length > MaxFileBytes)
        {
            throw new DataFormatException(ErrorCodes.DataLimit, $"a configuration file may hold at most {MaxFileBytes} bytes", new DataLocation(info.Name));
        }

        return Parse(info.Name, await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Parses the deployments from a configuration file's text; <paramref name="name"/> names it in errors.</summary>
    /// <exception cref="StrataException">Any mistake, as <c>name:line: message</c>.</exception>
    public static IReadOnlyList<Deployment> Parse(string name, string text)
    {
        var stream = Strata.Data.Yaml.YamlText.Load(text, (e, line) => new DataFormatException(
            ErrorCodes.DataMalformed, e is YamlException ? e.InnerException?.Message ?? e.Message : $"invalid YAML ({e.Message})", new DataLocation(name, line)));

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return [];
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw Error(name, stream.Documents[0].RootNode, "the file must be a mapping of sections (endpoints: …)");
        }

        if (!root.Children.TryGetValue(new YamlScalarNode("endpoints"), out var section) || section is YamlScalarNode { Value: null or "" })
        {
            return [];
        }

        if (section is not YamlSequenceNode list)
        {
            throw Error(name, section, "'endpoints' must be a list of endpoints");
        }

        if (list.Children.Count > MaxEndpoints)
        {
            throw Error(name, list, $"{list.Children.Count} endpoints; the limit is {MaxEndpoints}");
        }

        var deployments = new List<Deployment>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in list.Children)
        {
            var deployment = ReadEndpoint(name, node);
            if (!seen.Add(deployment.Name))
            {
                throw Error(name, node, $"endpoint '{deployment.Name}' is declared twice");
            }

            deployments.Add(deployment);
        }

        return deployments;
    }

    private static Deployment ReadEndpoint(string file, YamlNode node)
    {
        var map = Mapping(file, node, "an endpoint", EndpointKeys);
        var limits = new DeploymentLimits();
        if (map.TryGetValue("limits", out var limitNode))
        {
            var l = Mapping(file, limitNode, "'limits'", LimitKeys);
            limits = new DeploymentLimits
            {
                MaxConcurrency = l.TryGetValue("max_concurrency", out var c) ? Int(file, c, "max_concurrency") : limits.MaxConcurrency,
                MaxQueue = l.TryGetValue("max_queue", out var q) ? Int(file, q, "max_queue") : limits.MaxQueue,
                RatePerSecond = l.TryGetValue("rate_per_second", out var r) ? Number(file, r, "rate_per_second") : limits.RatePerSecond,
                Burst = l.TryGetValue("burst", out var b) ? Number(file, b, "burst") : limits.Burst,
                TimeoutMs = l.TryGetValue("timeout_ms", out var t) ? Int(file, t, "timeout_ms") : limits.TimeoutMs,
                MaxRows = l.TryGetValue("max_rows", out var m) ? Int(file, m, "max_rows") : limits.MaxRows,
            };
        }

        DeploymentBatching? batching = null;
        if (map.TryGetValue("batching", out var batchingNode))
        {
            var b = Mapping(file, batchingNode, "'batching'", BatchingKeys);
            batching = new DeploymentBatching();
            batching.MaxBatchSize = b.TryGetValue("max_batch_size", out var size) ? Int(file, size, "max_batch_size") : batching.MaxBatchSize;
            batching.MaxDelayMs = b.TryGetValue("max_delay_ms", out var delay) ? Number(file, delay, "max_delay_ms") : batching.MaxDelayMs;
        }

        var deployment = new Deployment
        {
            Name = Required(file, node, map, "name"),
            Project = Required(file, node, map, "project"),
            Model = Required(file, node, map, "model"),
            Challenger = Optional(file, map, "challenger"),
            ChallengerWeight = map.TryGetValue("challenger_weight", out var w) ? Number(file, w, "challenger_weight") : 0,
            Shadow = Optional(file, map, "shadow"),
            FeatureService = Optional(file, map, "feature_service"),
            StickyKey = Optional(file, map, "sticky_key"),
            Pii = map.TryGetValue("pii", out var pii) ? Strings(file, pii, "pii") : [],
            LogSampleRate = map.TryGetValue("log_sample_rate", out var s) ? Number(file, s, "log_sample_rate") : 1.0,
            Limits = limits,
            Batching = batching,
        };
        try
        {
            return deployment.Validate();
        }
        catch (StrataException e)
        {
            throw new DataFormatException(e.Code, $"endpoint '{deployment.Name}': {e.Message}", new DataLocation(file, node.Start.Line), e);
        }
    }

    private static Dictionary<string, YamlNode> Mapping(string file, YamlNode node, string what, string[] keys)
    {
        if (node is not YamlMappingNode mapping)
        {
            throw Error(file, node, $"{what} must be a mapping");
        }

        var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (key, value) in mapping.Children)
        {
            var k = (key as YamlScalarNode)?.Value ?? throw Error(file, key, "keys must be plain text");
            if (!keys.Contains(k, StringComparer.Ordinal))
            {
                throw Error(file, key, $"unknown key '{k}' in {what} (known: {string.Join(", ", keys)})");
            }

            result[k] = value;
        }

        return result;
    }

    private static string Required(string file, YamlNode owner, Dictionary<string, YamlNode> map, string key) =>
        Optional(file, map, key) ?? throw Error(file, owner, $"an endpoint needs '{key}'");

    private static string? Optional(string file, Dictionary<string, YamlNode> map, string key) =>
        !map.TryGetValue(key, out var node) ? null
        : node is YamlScalarNode { Value: { Length: > 0 } value } ? value
        : throw Error(file, node, $"'{key}' must be text");

    private static double Number(string file, YamlNode node, string key) =>
        node is YamlScalarNode { Value: { } text } && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
            ? value
            : throw Error(file, node, $"'{key}' must be a number");

    /// <summary>
    /// A whole number. One written as a float (<c>1e3</c>) or beyond an int is taken at its value, clamped, so the
    /// deployment's range check names the range (<c>timeout_ms: 1e12</c> was "must be a whole number").
    /// </summary>
    private static int Int(string file, YamlNode node, string key)
    {
        var text = (node as YamlScalarNode)?.Value;
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) && number == Math.Floor(number)
            ? (int)Math.Clamp(number, int.MinValue, int.MaxValue)
            : throw Error(file, node, text is null ? $"'{key}' must be a whole number" : $"'{key}' must be a whole number, not '{text}'");
    }

    private static List<string> Strings(string file, YamlNode node, string key) =>
        node is YamlSequenceNode list && list.Children.All(c => c is YamlScalarNode { Value.Length: > 0 })
            ? list.Children.Select(c => ((YamlScalarNode)c).Value!).ToList()
            : throw Error(file, node, $"'{key}' must be a list of field names");

    private static DataFormatException Error(string file, YamlNode node, string message) =>
        new(ErrorCodes.SchemaInvalid, message, new DataLocation(file, node.Start.Line));
}
