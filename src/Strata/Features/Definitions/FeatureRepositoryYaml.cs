using Strata.Data.Yaml;
using YamlDotNet.RepresentationModel;

namespace Strata.Features.Definitions;

/// <summary>
/// Reads a feature repository folder: every <c>*.yaml</c>/<c>*.yml</c> file in it (not below it), by name, each a
/// mapping of <c>entities</c>, <c>sources</c>, <c>feature_views</c>, <c>aggregation_views</c>, <c>on_demand_views</c>
/// and <c>feature_services</c> lists. Only YamlDotNet's node model is used — nothing in a file picks a .NET type — and
/// every mistake, including a reference to an unknown definition, is reported as <c>file:line: what is wrong</c>.
/// </summary>
public static class FeatureRepositoryYaml
{
    /// <summary>Largest definition file read, in bytes.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Most definition files in one folder.</summary>
    public const int MaxFiles = 1000;

    private const string DurationExamples = "90s, 10m, 3h or 1d";

    private static readonly string[] TopKeys = ["entities", "sources", "feature_views", "aggregation_views", "on_demand_views", "feature_services"];

    /// <summary>Loads and validates every definition file of a folder.</summary>
    /// <exception cref="StrataException">A missing folder, a file over the limit, or any definition error (with file and line).</exception>
    public static async Task<FeatureRepository> LoadFolderAsync(string folder, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        var root = Path.GetFullPath(folder);
        if (!Directory.Exists(root))
        {
            throw new StrataException(ErrorCodes.NotFound, $"{folder}: no such feature repository folder");
        }

        var paths = Directory.EnumerateFiles(root)
            .Where(p => p.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (paths.Count > MaxFiles)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"{folder}: {paths.Count} definition files; the limit is {MaxFiles}");
        }

        var files = new List<(string Name, string Text)>();
        foreach (var path in paths)
        {
            var name = Path.GetFileName(path);
            if (new FileInfo(path).Length > MaxFileBytes)
            {
                throw new DataFormatException(ErrorCodes.DataLimit, $"a definition file may hold at most {MaxFileBytes} bytes", new DataLocation(name));
            }

            files.Add((name, await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false)));
        }

        return Parse(files, root);
    }

    /// <summary>
    /// Parses definition files (name, YAML text) into one validated repository; with <paramref name="folder"/>, file
    /// sources' paths are also resolved and must stay inside it.
    /// </summary>
    /// <exception cref="StrataException">Any definition error, as <c>file:line: message</c> (one a line when there are several).</exception>
    public static FeatureRepository Parse(IReadOnlyList<(string Name, string Text)> files, string? folder = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        var state = new State(folder is null ? null : Path.GetFullPath(folder));
        foreach (var (name, text) in files)
        {
            if (text.Length > MaxFileBytes)
            {
                throw new DataFormatException(ErrorCodes.DataLimit, $"a definition file may hold at most {MaxFileBytes} bytes", new DataLocation(name));
            }

            new FileReader(name, state).Read(text);
        }

        var repository = state.Build();
        var problems = repository.FindProblems();
        if (problems.Count == 0)
        {
            return repository;
        }

        throw new StrataException(ErrorCodes.SchemaInvalid, string.Join("\n", problems.Select(p => $"{state.Locate(p)}: {p.Message}")));
    }

    /// <summary>What all files add to, with where each definition and field was written.</summary>
    private sealed class State(string? folder)
    {
        public string? Folder { get; } = folder;

        public List<EntityDefinition> Entities { get; } = [];

        public List<SourceDefinition> Sources { get; } = [];

        public List<FeatureViewDefinition> FeatureViews { get; } = [];

        public List<AggregationViewDefinition> AggregationViews { get; } = [];

        public List<OnDemandViewDefinition> OnDemandViews { get; } = [];

        /// <summary>Services with their references still unexpanded (<c>view:*</c>), and where each was written.</summary>
        public List<(FeatureServiceDefinition Service, List<(string Text, DataLocation At)> References)> Services { get; } = [];

        public Dictionary<(DefinitionKind, string, string), DataLocation> Locations { get; } = [];

        public Dictionary<(DefinitionKind, string), DataLocation> Defined { get; } = [];

        public FeatureRepository Build()
        {
            var draft = new FeatureRepository(Entities, Sources, FeatureViews, AggregationViews, OnDemandViews, []);
            var services = new List<FeatureServiceDefinition>();
            foreach (var (service, references) in Services)
            {
                var expanded = new List<FeatureReference>();
                foreach (var (text, at) in references)
                {
                    var reference = Reference(text, at, $"feature service '{service.Name}'");
                    if (reference.Feature != "*")
                    {
                        expanded.Add(reference);
                        Locations.TryAdd((DefinitionKind.FeatureService, service.Name, $"features.{reference}"), at);
                        continue;
                    }

                    var features = draft.FeatureNames(reference.View)
                        ?? throw new DataFormatException(ErrorCodes.SchemaInvalid, $"feature service '{service.Name}' names unknown view '{reference.View}' (in '{text}')", at);
                    foreach (var feature in features)
                    {
                        var one = new FeatureReference(reference.View, feature);
                        expanded.Add(one);
                        Locations.TryAdd((DefinitionKind.FeatureService, service.Name, $"features.{one}"), at);
                    }
                }

                services.Add(service with { Features = expanded });
            }

            return (draft with { Services = services }).Sorted();
        }

        /// <summary>Where a problem was written: its field, else the nearest enclosing field, else the definition.</summary>
        public DataLocation Locate(DefinitionProblem problem)
        {
            var field = problem.Field;
            while (true)
            {
                if (Locations.TryGetValue((problem.Kind, problem.Name, field), out var at))
                {
                    return at;
                }

                if (field.Length == 0)
                {
                    return Defined.TryGetValue((problem.Kind, problem.Name), out at) ? at : new DataLocation("definitions");
                }

                var dot = field.LastIndexOf('.');
                field = dot < 0 ? "" : field[..dot];
            }
        }

        public static FeatureReference Reference(string text, DataLocation at, string who)
        {
            try
            {
                return FeatureReference.Parse(text);
            }
            catch (StrataException e)
            {
                throw new DataFormatException(ErrorCodes.SchemaInvalid, $"{who}: {e.Message}", at);
            }
        }
    }

    /// <summary>Reads one file's nodes, checking every key and value with its line.</summary>
    private sealed class FileReader(string file, State state) : YamlFileReader(file)
    {
        private DefinitionKind _kind;
        private string _name = "";

        protected override string Context => _name.Length == 0 ? "" : $"{FeatureRepository.Describe(_kind)} '{_name}': ";

        public void Read(string text)
        {
            var documents = Load(text);
            if (documents.Count == 0 || documents[0] is YamlScalarNode { Value: null or "" })
            {
                return;
            }

            if (documents.Count > 1)
            {
                throw Error(documents[1], "one YAML document per file");
            }

            if (documents[0] is not YamlMappingNode root)
            {
                throw Error(documents[0], $"a definition file is a mapping of {string.Join(", ", TopKeys)}");
            }

            OnlyKeys(root, TopKeys);
            Each(root, "entities", Entity);
            Each(root, "sources", Source);
            Each(root, "feature_views", FeatureView);
            Each(root, "aggregation_views", AggregationView);
            Each(root, "on_demand_views", OnDemandView);
            Each(root, "feature_services", Service);
        }

        private void Each(YamlMappingNode root, string key, Action<YamlMappingNode> read)
        {
            if (Child(root, key) is not { } node || node is YamlScalarNode { Value: null or "" })
            {
                return;
            }

            if (node is not YamlSequenceNode list)
            {
                throw Error(node, $"`{key}` must be a list");
            }

            foreach (var item in list)
            {
                if (item is not YamlMappingNode map)
                {
                    throw Error(item, $"each entry of `{key}` is a mapping with at least `name`");
                }

                read(map);
            }
        }

        /// <summary>Starts a definition: checks its keys, notes its name and where it is, refuses a name used before.</summary>
        private string Begin(DefinitionKind kind, YamlMappingNode node, params string[] keys)
        {
            (_kind, _name) = (kind, "");
            var name = String(node, "name", required: true)!;
            (_kind, _name) = (kind, name);
            OnlyKeys(node, keys);
            var at = At(node);
            var space = kind is DefinitionKind.FeatureView or DefinitionKind.AggregationView or DefinitionKind.OnDemandView ? DefinitionKind.FeatureView : kind;
            if (state.Defined.TryGetValue((space, name), out var first))
            {
                throw new DataFormatException(ErrorCodes.SchemaInvalid, $"{FeatureRepository.Describe(kind)} '{name}' is already defined at {first}", at);
            }

            state.Defined[(space, name)] = at;
            state.Defined[(kind, name)] = at;
            foreach (var (key, value) in node.Children)
            {
                Note(((YamlScalarNode)key).Value!, value);
            }

            return name;
        }

        private void Note(string field, YamlNode node) => state.Locations.TryAdd((_kind, _name, field), At(node));

        private void Entity(YamlMappingNode node)
        {
            var name = Begin(DefinitionKind.Entity, node, "name", "join_keys", "description", "tags");
            state.Entities.Add(new EntityDefinition(name, Fields(node, "join_keys", required: true))
            {
                Description = String(node, "description", required: false),
                Tags = Map(node, "tags"),
            });
        }

        private void Source(YamlMappingNode node)
        {
            var name = Begin(DefinitionKind.Source, node,
                "name", "kind", "timestamp_field", "created_timestamp_field", "schema", "description", "path", "format", "table", "query");
            var kindText = String(node, "kind", required: true)!;
            var allowed = kindText switch
            {
                "file" => new[] { "path", "format" },
                "postgres" => new[] { "table", "query" },
                "push" => Array.Empty<string>(),
                _ => throw Error(Child(node, "kind")!, $"source '{name}': unknown kind '{kindText}' (file, postgres, push)"),
            };
            foreach (var key in new[] { "path", "format", "table", "query" })
            {
                if (Child(node, key) is { } extra && !allowed.Contains(key))
                {
                    throw Error(extra, $"source '{name}': `{key}` does not apply to a {kindText} source");
                }
            }

            var kind = kindText switch { "file" => SourceKind.File, "push" => SourceKind.Push, _ => SourceKind.PostgresTable };
            var table = String(node, "table", required: false);
            var query = String(node, "query", required: false);
            if (kindText == "postgres")
            {
                if ((table is null) == (query is null))
                {
                    throw Error(node, $"source '{name}': a postgres source has a `table` or a `query` (one of them)");
                }

                kind = table is null ? SourceKind.PostgresQuery : SourceKind.PostgresTable;
            }

            var path = String(node, "path", required: kind == SourceKind.File);
            if (path is not null)
            {
                path = CheckPath(Child(node, "path")!, name, path);
            }

            Data.DataFormat? format = null;
            if (String(node, "format", required: false) is { } formatText)
            {
                format = FeatureRepository.TryParseFormat(formatText, out var f)
                    ? f
                    : throw Error(Child(node, "format")!, $"source '{name}': unknown format '{formatText}' (csv, jsonl, arrow)");
            }

            state.Sources.Add(new SourceDefinition(name, kind, String(node, "timestamp_field", required: true)!)
            {
                CreatedTimestampField = String(node, "created_timestamp_field", required: false),
                Path = path,
                Format = format,
                Table = table,
                Query = query,
                Schema = Child(node, "schema") is null ? null : SchemaOf(node, "schema"),
                Description = String(node, "description", required: false),
            });
        }

        /// <summary>
        /// A file source's path: relative, no '..', and — when the folder is known — resolving inside it without passing
        /// through a symbolic link (which could point anywhere). Stored with '/' separators.
        /// </summary>
        private string CheckPath(YamlNode node, string source, string path)
        {
            if (path.Length == 0 || !FeatureRepository.IsRelativeInside(path))
            {
                throw Error(node, $"source '{source}': path '{path}' must be relative to the repository folder and stay inside it (no absolute paths, no '..')");
            }

            var normalized = string.Join('/', path.Split('/', '\\').Where(s => s.Length > 0 && s != "."));
            if (state.Folder is { } folder)
            {
                var full = Path.GetFullPath(Path.Combine(folder, normalized));
                if (!full.StartsWith(folder.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                {
                    throw Error(node, $"source '{source}': path '{path}' leaves the repository folder");
                }

                var current = folder;
                foreach (var segment in normalized.Split('/'))
                {
                    current = Path.Combine(current, segment);
                    FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
                    if (info.Exists && info.LinkTarget is not null)
                    {
                        throw Error(node, $"source '{source}': path '{path}' goes through a symbolic link; data files must be inside the repository folder");
                    }
                }
            }

            return normalized.Length == 0
                ? throw Error(node, $"source '{source}': path '{path}' names the repository folder itself")
                : normalized;
        }

        private void FeatureView(YamlMappingNode node)
        {
            var name = Begin(DefinitionKind.FeatureView, node,
                "name", "entities", "source", "features", "ttl", "online", "offline", "owner", "description", "tags");
            state.FeatureViews.Add(new FeatureViewDefinition(name, Strings(node, "entities", required: true), String(node, "source", required: true)!, Fields(node, "features", required: true))
            {
                Ttl = Duration(node, "ttl", Durations.TryParse, DurationExamples) ?? TimeSpan.Zero,
                Online = Bool(node, "online") ?? true,
                Offline = Bool(node, "offline") ?? true,
                Owner = String(node, "owner", required: false),
                Description = String(node, "description", required: false),
                Tags = Map(node, "tags"),
            });
        }

        private void AggregationView(YamlMappingNode node)
        {
            var name = Begin(DefinitionKind.AggregationView, node,
                "name", "entities", "source", "aggregations", "ttl", "online", "offline", "owner", "description", "tags");
            var aggregations = new List<AggregationDefinition>();
            foreach (var item in Mappings(node, "aggregations", required: true))
            {
                OnlyKeys(item, "name", "function", "column", "window");
                var aggregate = String(item, "name", required: true)!;
                var functionText = String(item, "function", required: true)!;
                if (!FeatureRepository.TryParseFunction(functionText, out var function))
                {
                    throw Error(Child(item, "function")!, $"aggregation view '{name}': aggregation '{aggregate}' has unknown function '{functionText}' (count, sum, mean, min, max, last)");
                }

                Note($"aggregations.{aggregate}", item);
                foreach (var (key, value) in item.Children)
                {
                    Note($"aggregations.{aggregate}.{((YamlScalarNode)key).Value}", value);
                }

                var window = Duration(item, "window", Durations.TryParse, DurationExamples) ?? throw Error(item, $"aggregation view '{name}': aggregation '{aggregate}' needs a `window`");
                aggregations.Add(new AggregationDefinition(aggregate, function, String(item, "column", required: false), window));
            }

            state.AggregationViews.Add(new AggregationViewDefinition(name, Strings(node, "entities", required: true), String(node, "source", required: true)!, aggregations)
            {
                Ttl = Duration(node, "ttl", Durations.TryParse, DurationExamples) ?? TimeSpan.Zero,
                Online = Bool(node, "online") ?? true,
                Offline = Bool(node, "offline") ?? true,
                Owner = String(node, "owner", required: false),
                Description = String(node, "description", required: false),
                Tags = Map(node, "tags"),
            });
        }

        private void OnDemandView(YamlMappingNode node)
        {
            var name = Begin(DefinitionKind.OnDemandView, node, "name", "request_fields", "inputs", "features", "owner", "description");
            var inputs = new List<FeatureReference>();
            foreach (var (text, at) in StringsWithLines(node, "inputs"))
            {
                var reference = State.Reference(text, at, $"on-demand view '{name}'");
                state.Locations.TryAdd((_kind, _name, $"inputs.{reference}"), at);
                inputs.Add(reference);
            }

            var features = new List<OnDemandFeature>();
            foreach (var item in Mappings(node, "features", required: true))
            {
                var field = Field(item, "features", extraKeys: "expression");
                features.Add(new OnDemandFeature(field, String(item, "expression", required: true)!));
            }

            state.OnDemandViews.Add(new OnDemandViewDefinition(name, Child(node, "request_fields") is null ? [] : Fields(node, "request_fields", required: false), inputs, features)
            {
                Owner = String(node, "owner", required: false),
                Description = String(node, "description", required: false),
            });
        }

        private void Service(YamlMappingNode node)
        {
            var name = Begin(DefinitionKind.FeatureService, node, "name", "features", "owner", "description");
            var references = StringsWithLines(node, "features").Select(x => (x.Text, x.At)).ToList();
            if (references.Count == 0)
            {
                throw Error(node, $"feature service '{name}' has no features");
            }

            state.Services.Add((new FeatureServiceDefinition(name, [])
            {
                Owner = String(node, "owner", required: false),
                Description = String(node, "description", required: false),
            }, references));
        }

        // ---- values -------------------------------------------------------------------------------------------------

        private Field[] Fields(YamlMappingNode node, string key, bool required) =>
            Mappings(node, key, required).Select(item => Field(item, key)).ToArray();

        private Schema SchemaOf(YamlMappingNode node, string key)
        {
            var fields = Fields(node, key, required: true);
            var duplicate = fields.GroupBy(f => f.Name).FirstOrDefault(g => g.Count() > 1);
            return duplicate is null
                ? new Schema(fields)
                : throw Error(Child(node, key)!, $"{FeatureRepository.Describe(_kind)} '{_name}': '{duplicate.Key}' appears twice in `{key}`");
        }

        private Field Field(YamlMappingNode item, string list, params string[] extraKeys)
        {
            OnlyKeys(item, ["name", "type", "nullable", "tags", .. extraKeys]);
            var name = String(item, "name", required: true)!;
            if (name.Length == 0)
            {
                throw Error(item, $"{FeatureRepository.Describe(_kind)} '{_name}': an entry of `{list}` has an empty name");
            }

            var typeText = String(item, "type", required: true);
            if (!DataTypes.TryParse(typeText, out var type))
            {
                throw Error(Child(item, "type")!, $"{FeatureRepository.Describe(_kind)} '{_name}': '{name}' has unknown type '{typeText}' (bool, int32, int64, float32, float64, string, timestamp)");
            }

            Note($"{list}.{name}", item);
            foreach (var (key, value) in item.Children)
            {
                Note($"{list}.{name}.{((YamlScalarNode)key).Value}", value);
            }

            var tags = Child(item, "tags") is { } t ? Sequence(t, "tags").Select(x => Scalar(x, "tags")).ToArray() : null;
            return new Field(name, type, Bool(item, "nullable") ?? true, FieldRole.Feature, tags);
        }

        private List<YamlMappingNode> Mappings(YamlMappingNode node, string key, bool required)
        {
            if (Child(node, key) is not { } child)
            {
                return required ? throw Error(node, $"{FeatureRepository.Describe(_kind)} '{_name}': missing `{key}`") : [];
            }

            return Sequence(child, key).Select(item => item as YamlMappingNode ?? throw Error(item, $"each entry of `{key}` is a mapping with `name` and `type`")).ToList();
        }

        private string[] Strings(YamlMappingNode node, string key, bool required)
        {
            if (Child(node, key) is not { } child)
            {
                return required ? throw Error(node, $"{FeatureRepository.Describe(_kind)} '{_name}': missing `{key}`") : [];
            }

            // A single name is accepted where a list is expected (`entities: origin`).
            if (child is YamlScalarNode)
            {
                return [Scalar(child, key)];
            }

            var items = Sequence(child, key).ToList();
            foreach (var item in items)
            {
                Note($"{key}.{Scalar(item, key)}", item);
            }

            return items.Select(item => Scalar(item, key)).ToArray();
        }

        private List<(string Text, DataLocation At)> StringsWithLines(YamlMappingNode node, string key) =>
            Child(node, key) is { } child ? Sequence(child, key).Select(item => (Scalar(item, key), At(item))).ToList() : [];

        private Dictionary<string, string> Map(YamlMappingNode node, string key)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            if (Child(node, key) is not { } child)
            {
                return result;
            }

            if (child is not YamlMappingNode map)
            {
                throw Error(child, $"{FeatureRepository.Describe(_kind)} '{_name}': `{key}` must be a mapping of names to values");
            }

            foreach (var (k, v) in map.Children)
            {
                result[Scalar(k, key)] = Scalar(v, key);
            }

            return result;
        }
    }
}
