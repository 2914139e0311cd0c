using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Strata.Data.Yaml;

/// <summary>
/// Reads one YAML file through YamlDotNet's node model only — nothing in a file picks a .NET type — and reports every
/// mistake as <c>file:line: what is wrong</c>, so all of Strata's YAML formats (schema files, feature repositories,
/// pipeline specs, …) check keys and values and word their errors the same way.
/// </summary>
/// <remarks>
/// A format's reader derives from this and sets <see cref="Context"/> (e.g. <c>feature view 'x': </c>) to say which
/// definition a message is about. Errors are <see cref="DataFormatException"/>s with <see cref="ErrorCodes.SchemaInvalid"/>.
/// </remarks>
internal class YamlFileReader(string file)
{
    /// <summary>The file's name as errors show it.</summary>
    public string File { get; } = file;

    /// <summary>What every message starts with: the definition being read, or nothing.</summary>
    protected virtual string Context => "";

    /// <summary>The root nodes of the text's documents (none for an empty text); invalid YAML is an error at its line.</summary>
    public IReadOnlyList<YamlNode> Load(string text)
    {
        var stream = YamlText.Load(text, (e, line) => new DataFormatException(
            ErrorCodes.SchemaInvalid,
            $"invalid YAML ({(e is YamlException && e.InnerException is { } inner ? $"{e.Message}: {inner.Message}" : e.Message)})",
            new DataLocation(File, line)));
        return stream.Documents.Select(d => d.RootNode).ToList();
    }

    /// <summary>The file and line of a node.</summary>
    public DataLocation At(YamlNode node) => new(File, node.Start.Line);

    /// <summary>An error at a node's line.</summary>
    public DataFormatException Error(YamlNode node, string detail) => new(ErrorCodes.SchemaInvalid, detail, At(node));

    /// <summary>The value under <paramref name="key"/>, or null.</summary>
    public static YamlNode? Child(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;

    /// <summary>Refuses any key not in <paramref name="keys"/> (a typo is an error at its line, never ignored).</summary>
    public void OnlyKeys(YamlMappingNode node, params string[] keys)
    {
        foreach (var key in node.Children.Keys)
        {
            var k = (key as YamlScalarNode)?.Value;
            if (k is null || !keys.Contains(k, StringComparer.Ordinal))
            {
                throw Error(key, $"{Context}unknown key '{k}' (expected {string.Join(", ", keys)})");
            }
        }
    }

    /// <summary>A node that must be one value (not a list or mapping, not empty).</summary>
    public string Scalar(YamlNode node, string key) =>
        node is YamlScalarNode { Value: { } value } ? value : throw Error(node, $"{Context}`{key}` must be a single value");

    /// <summary>The single value under <paramref name="key"/>; null when absent and not required.</summary>
    public string? String(YamlMappingNode node, string key, bool required)
    {
        if (Child(node, key) is { } child)
        {
            return Scalar(child, key);
        }

        return required ? throw Error(node, $"{Context}missing `{key}`") : null;
    }

    /// <summary><c>true</c> or <c>false</c> (with <paramref name="yesNo"/> also yes/no, any case); null when absent.</summary>
    public bool? Bool(YamlMappingNode node, string key, bool yesNo = false)
    {
        if (Child(node, key) is not { } child)
        {
            return null;
        }

        var text = Scalar(child, key);
        return (yesNo ? text.ToLowerInvariant() : text) switch
        {
            "true" => true,
            "false" => false,
            "yes" when yesNo => true,
            "no" when yesNo => false,
            var other => throw Error(child, $"{Context}`{key}` must be true or false, not '{other}'"),
        };
    }

    /// <summary>A duration such as 90s, 10m, 3h or 1d under <paramref name="key"/>; null when absent.</summary>
    public TimeSpan? Duration(YamlMappingNode node, string key, TryParseDuration parse, string examples)
    {
        if (Child(node, key) is not { } child)
        {
            return null;
        }

        var text = Scalar(child, key);
        return parse(text, out var span)
            ? span
            : throw Error(child, $"{Context}`{key}` must be a duration such as {examples}, not '{text}'");
    }

    /// <summary>A node that must be a list.</summary>
    public IEnumerable<YamlNode> Sequence(YamlNode node, string key) =>
        node as YamlSequenceNode ?? throw Error(node, $"{Context}`{key}` must be a list");

    /// <summary>The list of single values under <paramref name="key"/>; null when absent.</summary>
    public List<string>? List(YamlMappingNode node, string key) =>
        Child(node, key) is { } child ? Sequence(child, key).Select(item => Scalar(item, key)).ToList() : null;

    /// <summary>Parses a duration's text.</summary>
    public delegate bool TryParseDuration(string text, out TimeSpan value);
}
