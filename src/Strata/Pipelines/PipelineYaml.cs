using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Strata.Data.Yaml;
using YamlDotNet.RepresentationModel;

namespace Strata.Pipelines;

/// <summary>
/// Reads a pipeline spec from YAML (errors name the file, line, step and field) and writes one back as canonical text
/// (JSON, which is YAML), the form a run stores so it can be resumed or rerun exactly.
/// </summary>
public static class PipelineYaml
{
    /// <summary>Largest spec file, in bytes.</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Most steps in a pipeline.</summary>
    public const int MaxSteps = 500;

    private static readonly string[] PipelineFields = ["pipeline", "project", "parallelism", "steps"];
    private static readonly string[] StepFields = ["name", "type", "inputs", "parameters", "after", "time_limit"];

    /// <summary>Reads a spec file; its folder becomes the pipeline's folder (ingest paths are relative to it).</summary>
    /// <exception cref="PipelineSpecException">Malformed YAML or a field of the wrong shape, naming file, line, step and field.</exception>
    public static async Task<PipelineSpec> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new StrataException(ErrorCodes.NotFound, $"pipeline file '{path}' does not exist");
        }

        if (info.Length > MaxBytes)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"pipeline file '{path}' is {info.Length} bytes; the limit is {MaxBytes}");
        }

        var text = await File.ReadAllTextAsync(info.FullName, cancellationToken).ConfigureAwait(false);
        return Parse(text, info.Name) with { Folder = info.DirectoryName };
    }

    /// <summary>Parses spec text; <paramref name="file"/> names it in errors.</summary>
    /// <exception cref="PipelineSpecException">Malformed YAML or a field of the wrong shape.</exception>
    public static PipelineSpec Parse(string text, string file = "pipeline.yaml")
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxBytes)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"pipeline spec '{file}' is {text.Length} characters; the limit is {MaxBytes}");
        }

        var errors = new List<SpecError>();
        IReadOnlyList<YamlNode> documents;
        try
        {
            documents = new YamlFileReader(file).Load(text);
        }
        catch (DataFormatException e)
        {
            throw new PipelineSpecException([new SpecError(file, (int?)e.Location.Line, null, null, e.Detail)]);
        }

        if (documents.Count == 0 || documents[0] is not YamlMappingNode root)
        {
            throw new PipelineSpecException([new SpecError(file, 1, null, null, "a pipeline spec is a mapping with 'pipeline' and 'steps'")]);
        }

        string? name = null;
        string? project = null;
        var parallelism = 2;
        var steps = new List<StepSpec>();
        foreach (var (keyNode, value) in root.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            var line = (int)keyNode.Start.Line;
            switch (key)
            {
                case "pipeline":
                    name = Scalar(value, file, null, key, errors);
                    break;
                case "project":
                    project = Scalar(value, file, null, key, errors);
                    break;
                case "parallelism":
                    var text2 = Scalar(value, file, null, key, errors);
                    if (text2 is not null && (!int.TryParse(text2, NumberStyles.Integer, CultureInfo.InvariantCulture, out parallelism) || parallelism is < 1 or > 64))
                    {
                        errors.Add(new SpecError(file, line, null, key, $"must be an integer from 1 to 64, not '{text2}'"));
                        parallelism = 2;
                    }

                    break;
                case "steps":
                    if (value is not YamlSequenceNode list)
                    {
                        errors.Add(new SpecError(file, line, null, key, "must be a list of steps"));
                        break;
                    }

                    if (list.Children.Count > MaxSteps)
                    {
                        errors.Add(new SpecError(file, line, null, key, $"has {list.Children.Count} steps; the limit is {MaxSteps}"));
                        break;
                    }

                    foreach (var item in list.Children)
                    {
                        if (ReadStep(item, file, errors) is { } step)
                        {
                            steps.Add(step);
                        }
                    }

                    break;
                default:
                    errors.Add(new SpecError(file, line, null, key, $"unknown field (expected one of {string.Join(", ", PipelineFields)})"));
                    break;
            }
        }

        if (name is null && errors.Count == 0)
        {
            errors.Add(new SpecError(file, (int)root.Start.Line, null, "pipeline", "missing: every spec names its pipeline"));
        }

        if (errors.Count > 0)
        {
            throw new PipelineSpecException(errors);
        }

        return new PipelineSpec { Name = name!, Project = project, Steps = steps, File = file, Parallelism = parallelism };
    }

    private static StepSpec? ReadStep(YamlNode node, string file, List<SpecError> errors)
    {
        if (node is not YamlMappingNode map)
        {
            errors.Add(new SpecError(file, (int)node.Start.Line, null, null, "a step is a mapping with 'name' and 'type'"));
            return null;
        }

        var lines = new Dictionary<string, int>(StringComparer.Ordinal) { [""] = (int)node.Start.Line };
        string? name = null;
        string? type = null;
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal);
        var parameters = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        var after = new List<string>();
        TimeSpan? limit = null;
        var count = errors.Count;
        foreach (var (keyNode, value) in map.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            lines[key] = (int)keyNode.Start.Line;
            if (key == "name")
            {
                name = Scalar(value, file, null, key, errors);
            }
        }

        foreach (var (keyNode, value) in map.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            var line = (int)keyNode.Start.Line;
            switch (key)
            {
                case "name":
                    break;
                case "type":
                    type = Scalar(value, file, name, key, errors);
                    break;
                case "inputs":
                    foreach (var (inputKey, source) in Mapping(value, file, name, key, errors))
                    {
                        lines[$"inputs.{inputKey.Value}"] = (int)inputKey.Start.Line;
                        if (Scalar(source, file, name, $"inputs.{inputKey.Value}", errors) is { } s)
                        {
                            inputs[inputKey.Value ?? ""] = s;
                        }
                    }

                    break;
                case "parameters":
                    foreach (var (parameterKey, parameter) in Mapping(value, file, name, key, errors))
                    {
                        lines[$"parameters.{parameterKey.Value}"] = (int)parameterKey.Start.Line;
                        parameters[parameterKey.Value ?? ""] = ToJson(parameter);
                    }

                    break;
                case "after":
                    if (value is YamlSequenceNode seq)
                    {
                        after.AddRange(seq.Children.Select(c => Scalar(c, file, name, key, errors)).OfType<string>());
                    }
                    else if (Scalar(value, file, name, key, errors) is { } single)
                    {
                        after.Add(single);
                    }

                    break;
                case "time_limit":
                    var text = Scalar(value, file, name, key, errors);
                    if (text is not null)
                    {
                        limit = ParseDuration(text);
                        if (limit is null)
                        {
                            errors.Add(new SpecError(file, line, name, key, $"'{text}' is not a duration (like 500ms, 30s, 10m, 2h)"));
                        }
                    }

                    break;
                default:
                    errors.Add(new SpecError(file, line, name, key, $"unknown field (expected one of {string.Join(", ", StepFields)})"));
                    break;
            }
        }

        if (name is null)
        {
            errors.Add(new SpecError(file, lines[""], null, "name", "missing: every step has a name"));
        }

        if (type is null && name is not null)
        {
            errors.Add(new SpecError(file, lines[""], name, "type", "missing: every step has a type"));
        }

        return errors.Count > count ? null : new StepSpec { Name = name!, Type = type!, Inputs = inputs, Parameters = parameters, After = after, TimeLimit = limit, Lines = lines };
    }

    private static string? Scalar(YamlNode node, string file, string? step, string field, List<SpecError> errors)
    {
        if (node is YamlScalarNode scalar)
        {
            return scalar.Value;
        }

        errors.Add(new SpecError(file, (int)node.Start.Line, step, field, "must be a single value"));
        return null;
    }

    private static List<(YamlScalarNode Key, YamlNode Value)> Mapping(YamlNode node, string file, string? step, string field, List<SpecError> errors)
    {
        if (node is YamlMappingNode map)
        {
            return map.Children.Select(c => ((YamlScalarNode)c.Key, c.Value)).ToList();
        }

        if (node is YamlScalarNode { Value: null or "" })
        {
            return [];
        }

        errors.Add(new SpecError(file, (int)node.Start.Line, step, field, "must be a mapping of name: value"));
        return [];
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlScalarNode s => s.Value is null ? null : JsonValue.Create(s.Value),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? "", ToJson(c.Value)))),
        _ => null,
    };

    /// <summary>Parses 500ms, 30s, 10m, 2h (or a number of seconds).</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0 && value * unit < 7 * 86400
            ? TimeSpan.FromSeconds(value * unit)
            : null;
    }

    /// <summary>The spec as canonical text (JSON, a subset of YAML, with parameter keys sorted): what a run stores and its digest is taken of.</summary>
    public static string Write(PipelineSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var steps = new JsonArray();
        foreach (var step in spec.Steps)
        {
            var o = new JsonObject
            {
                ["name"] = step.Name,
                ["type"] = step.Type,
                ["inputs"] = new JsonObject(step.Inputs.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => KeyValuePair.Create(i.Key, (JsonNode?)JsonValue.Create(i.Value)))),
                ["parameters"] = Canonical(new JsonObject(step.Parameters.Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())))),
                ["after"] = new JsonArray(step.After.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
            };
            if (step.TimeLimit is { } limit)
            {
                o["time_limit"] = limit.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
            }

            steps.Add(o);
        }

        var root = new JsonObject { ["pipeline"] = spec.Name, ["parallelism"] = spec.Parallelism.ToString(CultureInfo.InvariantCulture), ["steps"] = steps };
        if (spec.Project is not null)
        {
            root["project"] = spec.Project;
        }

        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>A copy of a JSON value with object keys in ordinal order (so equal parameters hash equal).</summary>
    internal static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Canonical).ToArray()),
        null => null,
        _ => node.DeepClone(),
    };

    /// <summary>A copy with every scalar as text (numbers in invariant form, true/false), as YAML gives parameters.</summary>
    internal static JsonNode? AsText(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, AsText(p.Value)))),
        JsonArray a => new JsonArray(a.Select(AsText).ToArray()),
        JsonValue v when v.TryGetValue<string>(out var s) => JsonValue.Create(s),
        null => null,
        _ => JsonValue.Create(node.ToJsonString()),
    };

    /// <summary>Canonical compact JSON text of a value.</summary>
    internal static string CanonicalText(JsonNode? node) => Canonical(node)?.ToJsonString() ?? "null";

    internal static string Describe(IEnumerable<SpecError> errors)
    {
        var sb = new StringBuilder();
        foreach (var e in errors)
        {
            sb.Append(sb.Length == 0 ? "" : "\n").Append(e);
        }

        return sb.ToString();
    }
}

/// <summary>One problem in a pipeline spec: file, line, step and field (each when known) and what is wrong.</summary>
public sealed record SpecError(string? File, int? Line, string? Step, string? Field, string Message)
{
    /// <summary>Formats as <c>file:line: step 's': field 'f': message</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        if (File is not null)
        {
            sb.Append(File);
            if (Line is { } line)
            {
                sb.Append(':').Append(line.ToString(CultureInfo.InvariantCulture));
            }

            sb.Append(": ");
        }

        if (Step is not null)
        {
            sb.Append("step '").Append(Step).Append("': ");
        }

        if (Field is not null)
        {
            sb.Append("field '").Append(Field).Append("': ");
        }

        return sb.Append(Message).ToString();
    }
}

/// <summary>A pipeline spec that cannot run: every problem found, each naming file, line, step and field.</summary>
public sealed class PipelineSpecException : StrataException
{
    /// <summary>Creates the error from its problems.</summary>
    public PipelineSpecException(IReadOnlyList<SpecError> errors)
        : base(ErrorCodes.ArgumentInvalid, PipelineYaml.Describe(errors))
    {
        Errors = errors;
    }

    /// <summary>The problems.</summary>
    public IReadOnlyList<SpecError> Errors { get; }
}
