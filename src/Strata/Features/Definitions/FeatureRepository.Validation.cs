using Strata.Stores;

namespace Strata.Features.Definitions;

/// <summary>The kinds of definition a repository holds, as YAML and messages name them.</summary>
public enum DefinitionKind
{
    /// <summary>An <see cref="EntityDefinition"/>.</summary>
    Entity,
    /// <summary>A <see cref="SourceDefinition"/>.</summary>
    Source,
    /// <summary>A <see cref="FeatureViewDefinition"/>.</summary>
    FeatureView,
    /// <summary>An <see cref="AggregationViewDefinition"/>.</summary>
    AggregationView,
    /// <summary>An <see cref="OnDemandViewDefinition"/>.</summary>
    OnDemandView,
    /// <summary>A <see cref="FeatureServiceDefinition"/>.</summary>
    FeatureService,
}

/// <summary>
/// One thing wrong with a repository, naming the definition and the field (a dotted path such as <c>entities</c>,
/// <c>features.dep_count.type</c>), so the YAML loader can point at the line that holds it.
/// </summary>
/// <param name="Kind">The definition's kind.</param>
/// <param name="Name">The definition's name.</param>
/// <param name="Field">The field, dotted; empty for the definition as a whole.</param>
/// <param name="Message">What is wrong, naming the definition (<c>feature view 'x' names unknown entity 'y'</c>).</param>
public sealed record DefinitionProblem(DefinitionKind Kind, string Name, string Field, string Message);

// Whole-repository validation: every rule is checked and every problem reported, so one `plan` shows them all.
public sealed partial record FeatureRepository
{
    /// <summary>Most problems reported at once.</summary>
    private const int MaxProblems = 100;

    /// <summary>A word for a definition kind, as messages and YAML keys use it.</summary>
    public static string Describe(DefinitionKind kind) => kind switch
    {
        DefinitionKind.Entity => "entity",
        DefinitionKind.Source => "source",
        DefinitionKind.FeatureView => "feature view",
        DefinitionKind.AggregationView => "aggregation view",
        DefinitionKind.OnDemandView => "on-demand view",
        _ => "feature service",
    };

    /// <summary>The names of a view's features (of any view kind), or null when no view has that name.</summary>
    public IReadOnlyList<string>? FeatureNames(string view) =>
        FeatureViews.FirstOrDefault(v => v.Name == view)?.Features.Select(f => f.Name).ToArray()
        ?? AggregationViews.FirstOrDefault(v => v.Name == view)?.Aggregations.Select(a => a.Name).ToArray()
        ?? (IReadOnlyList<string>?)OnDemandViews.FirstOrDefault(v => v.Name == view)?.Features.Select(f => f.Field.Name).ToArray();

    /// <summary>The type of a view's feature, or null when there is no such feature (or its aggregate's input is missing).</summary>
    public DataType? FeatureType(FeatureReference reference)
    {
        if (FeatureViews.FirstOrDefault(v => v.Name == reference.View) is { } plain)
        {
            return plain.Features.FirstOrDefault(f => f.Name == reference.Feature)?.Type;
        }

        if (AggregationViews.FirstOrDefault(v => v.Name == reference.View) is { } aggregation)
        {
            var a = aggregation.Aggregations.FirstOrDefault(x => x.Name == reference.Feature);
            var source = Sources.FirstOrDefault(s => s.Name == aggregation.Source);
            if (a is null || source is null)
            {
                return null;
            }

            if (a.Function == AggregationFunction.Last)
            {
                return a.Column is not null && source.Schema is { } schema && schema.TryIndexOf(a.Column) is var i and >= 0 ? schema[i].Type : null;
            }

            return AggregateType(a, source);
        }

        return OnDemandViews.FirstOrDefault(v => v.Name == reference.View)?.Features.FirstOrDefault(f => f.Field.Name == reference.Feature)?.Field.Type;
    }

    /// <summary>Checks the repository as a whole and returns this one.</summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.SchemaInvalid"/> listing every problem, one a line.</exception>
    public FeatureRepository Validate()
    {
        var problems = FindProblems();
        return problems.Count == 0
            ? this
            : throw new StrataException(ErrorCodes.SchemaInvalid, string.Join("\n", problems.Select(p => p.Message)));
    }

    /// <summary>Every problem of the repository (names, references, types, windows), in definition order; empty when valid.</summary>
    public IReadOnlyList<DefinitionProblem> FindProblems()
    {
        var check = new Checker(this);
        check.Run();
        return check.Problems;
    }

    private sealed class Checker(FeatureRepository repo)
    {
        private readonly Dictionary<string, EntityDefinition> _entities = new(StringComparer.Ordinal);
        private readonly Dictionary<string, SourceDefinition> _sources = new(StringComparer.Ordinal);
        private readonly HashSet<string> _views = new(StringComparer.Ordinal);

        public List<DefinitionProblem> Problems { get; } = [];

        private DefinitionKind _kind;
        private string _name = "";

        public void Run()
        {
            foreach (var e in repo.Entities)
            {
                if (Begin(DefinitionKind.Entity, e.Name, _entities.ContainsKey(e.Name)))
                {
                    _entities[e.Name] = e;
                }

                Entity(e);
            }

            foreach (var s in repo.Sources)
            {
                if (Begin(DefinitionKind.Source, s.Name, _sources.ContainsKey(s.Name)))
                {
                    _sources[s.Name] = s;
                }

                Source(s);
            }

            // Views share one name space: services and on-demand inputs name them without saying which kind.
            foreach (var v in repo.FeatureViews)
            {
                Begin(DefinitionKind.FeatureView, v.Name, !_views.Add(v.Name));
            }

            foreach (var v in repo.AggregationViews)
            {
                Begin(DefinitionKind.AggregationView, v.Name, !_views.Add(v.Name));
            }

            foreach (var v in repo.OnDemandViews)
            {
                Begin(DefinitionKind.OnDemandView, v.Name, !_views.Add(v.Name));
            }

            foreach (var v in repo.FeatureViews)
            {
                Begin(DefinitionKind.FeatureView, v.Name, duplicate: false);
                FeatureView(v);
            }

            foreach (var v in repo.AggregationViews)
            {
                Begin(DefinitionKind.AggregationView, v.Name, duplicate: false);
                AggregationView(v);
            }

            foreach (var v in repo.OnDemandViews)
            {
                Begin(DefinitionKind.OnDemandView, v.Name, duplicate: false);
                OnDemandView(v);
            }

            var services = new HashSet<string>(StringComparer.Ordinal);
            foreach (var s in repo.Services)
            {
                Begin(DefinitionKind.FeatureService, s.Name, !services.Add(s.Name));
                Service(s);
            }

            if (Problems.Count > MaxProblems)
            {
                Problems.RemoveRange(MaxProblems, Problems.Count - MaxProblems);
            }
        }

        /// <summary>Starts checking a definition; reports a bad or duplicate name. True when the name is usable.</summary>
        private bool Begin(DefinitionKind kind, string name, bool duplicate)
        {
            (_kind, _name) = (kind, name ?? "");
            if (!Names.IsValid(name))
            {
                Add("name", $"{Describe(kind)} name '{name}' is not an identifier (letters, digits, '-', '_', '.'; at most {Names.MaxIdentifier})");
                return false;
            }

            if (duplicate)
            {
                Add("name", kind is DefinitionKind.FeatureView or DefinitionKind.AggregationView or DefinitionKind.OnDemandView
                    ? $"{Describe(kind)} '{name}': another view is already named '{name}' (feature, aggregation and on-demand views share names)"
                    : $"{Describe(kind)} '{name}' is defined twice");
                return false;
            }

            return true;
        }

        private void Add(string field, string message) => Problems.Add(new DefinitionProblem(_kind, _name, field, message));

        private string Who => $"{Describe(_kind)} '{_name}'";

        private void Entity(EntityDefinition e)
        {
            if (e.JoinKeys is null || e.JoinKeys.Count == 0)
            {
                Add("join_keys", $"{Who} has no join keys");
                return;
            }

            Fields("join_keys", e.JoinKeys);
            foreach (var key in e.JoinKeys)
            {
                if (key.Type is not (DataType.Int32 or DataType.Int64 or DataType.String))
                {
                    Add($"join_keys.{key.Name}.type", $"{Who}: join key '{key.Name}' is {key.Type.Name()}; join keys are int32, int64 or string");
                }
            }

            Tags(e.Tags);
        }

        private void Source(SourceDefinition s)
        {
            Identifier("timestamp_field", s.TimestampField);
            if (s.CreatedTimestampField is not null)
            {
                Identifier("created_timestamp_field", s.CreatedTimestampField);
            }

            switch (s.Kind)
            {
                case SourceKind.File:
                    if (string.IsNullOrWhiteSpace(s.Path))
                    {
                        Add("path", $"{Who}: a file source needs a `path`");
                    }
                    else if (!IsRelativeInside(s.Path))
                    {
                        Add("path", $"{Who}: path '{s.Path}' must be relative to the repository folder and stay inside it (no absolute paths, no '..')");
                    }

                    break;
                case SourceKind.PostgresTable when string.IsNullOrWhiteSpace(s.Table):
                    Add("table", $"{Who}: a postgres source needs a `table` or a `query`");
                    break;
                case SourceKind.PostgresQuery when string.IsNullOrWhiteSpace(s.Query):
                    Add("query", $"{Who}: a postgres source needs a `table` or a `query`");
                    break;
                case SourceKind.Push when s.Schema is null || s.Schema.Count == 0:
                    Add("schema", $"{Who}: a push source must declare its `schema`");
                    break;
            }

            if (s.Schema is { } schema)
            {
                Fields("schema", schema);
                TimeColumn(schema, "timestamp_field", s.TimestampField);
                if (s.CreatedTimestampField is not null)
                {
                    TimeColumn(schema, "created_timestamp_field", s.CreatedTimestampField);
                }
            }
        }

        private void TimeColumn(Schema schema, string field, string column)
        {
            var i = column is null ? -1 : schema.TryIndexOf(column);
            if (i < 0)
            {
                Add(field, $"{Who}: {field} '{column}' is not in the declared schema");
            }
            else if (schema[i].Type != DataType.Timestamp)
            {
                Add(field, $"{Who}: {field} '{column}' is {schema[i].Type.Name()}; it must be a timestamp");
            }
        }

        private void FeatureView(FeatureViewDefinition v)
        {
            var keys = Entities(v.Entities);
            var source = SourceOf(v.Source);
            Duration("ttl", v.Ttl, allowZero: true);
            Tags(v.Tags);
            if (v.Features is null || v.Features.Count == 0)
            {
                Add("features", $"{Who} has no features");
                return;
            }

            Fields("features", v.Features);
            foreach (var f in v.Features)
            {
                if (keys.Contains(f.Name) || (source is not null && (f.Name == source.TimestampField || f.Name == source.CreatedTimestampField)))
                {
                    Add($"features.{f.Name}", $"{Who}: feature '{f.Name}' is a join key or time column of the view, not a feature");
                }

                if (source?.Schema is { } schema)
                {
                    var i = schema.TryIndexOf(f.Name);
                    if (i < 0)
                    {
                        Add($"features.{f.Name}", $"{Who}: feature '{f.Name}' is not in the schema of source '{source.Name}'");
                    }
                    else if (schema[i].Type != f.Type)
                    {
                        Add($"features.{f.Name}.type", $"{Who}: feature '{f.Name}' is {f.Type.Name()} but source '{source.Name}' declares {schema[i].Type.Name()}");
                    }
                }
            }

            if (source?.Schema is { } declared)
            {
                KeysInSchema(keys, source.Name, declared);
            }
        }

        private void AggregationView(AggregationViewDefinition v)
        {
            var keys = Entities(v.Entities);
            var source = SourceOf(v.Source);
            Duration("ttl", v.Ttl, allowZero: true);
            Tags(v.Tags);
            if (v.Aggregations is null || v.Aggregations.Count == 0)
            {
                Add("aggregations", $"{Who} has no aggregations");
                return;
            }

            var schema = source?.Schema;
            if (source is not null && schema is null)
            {
                Add("source", $"{Who}: source '{source.Name}' declares no schema; aggregation inputs must be declared");
            }

            if (schema is not null && source is not null)
            {
                KeysInSchema(keys, source.Name, schema);
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var a in v.Aggregations)
            {
                var at = $"aggregations.{a.Name}";
                if (!Names.IsValid(a.Name))
                {
                    Add(at, $"{Who}: aggregation name '{a.Name}' is not an identifier");
                }
                else if (!names.Add(a.Name))
                {
                    Add(at, $"{Who}: aggregation '{a.Name}' is defined twice");
                }

                if (!Enum.IsDefined(a.Function))
                {
                    Add($"{at}.function", $"{Who}: aggregation '{a.Name}' has an unknown function");
                }

                Duration($"{at}.window", a.Window, allowZero: false);
                if (a.Function == AggregationFunction.Count)
                {
                    if (a.Column is not null)
                    {
                        Add($"{at}.column", $"{Who}: aggregation '{a.Name}' counts events and takes no `column`");
                    }

                    continue;
                }

                if (a.Column is null)
                {
                    Add($"{at}.column", $"{Who}: aggregation '{a.Name}' ({Word(a.Function)}) needs a `column`");
                    continue;
                }

                if (schema is null)
                {
                    continue;
                }

                var i = schema.TryIndexOf(a.Column);
                if (i < 0)
                {
                    Add($"{at}.column", $"{Who}: aggregation '{a.Name}' reads column '{a.Column}', which source '{source!.Name}' does not declare");
                }
                else if (a.Function != AggregationFunction.Last && !schema[i].Type.IsNumeric())
                {
                    Add($"{at}.column", $"{Who}: aggregation '{a.Name}' ({Word(a.Function)}) needs a numeric column; '{a.Column}' is {schema[i].Type.Name()}");
                }
            }
        }

        private void OnDemandView(OnDemandViewDefinition v)
        {
            Fields("request_fields", v.RequestFields ?? []);
            var requestNames = (v.RequestFields ?? []).Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var input in v.Inputs ?? [])
            {
                if (input.View == v.Name || repo.OnDemandViews.Any(o => o.Name == input.View))
                {
                    Add($"inputs.{input}", $"{Who}: input '{input}' is an on-demand view; inputs are features of feature or aggregation views");
                }
                else if (repo.FeatureNames(input.View) is not { } features)
                {
                    Add($"inputs.{input}", $"{Who}: input '{input}' names unknown view '{input.View}'");
                }
                else if (!features.Contains(input.Feature, StringComparer.Ordinal))
                {
                    Add($"inputs.{input}", $"{Who}: input '{input}' names unknown feature '{input.Feature}' of view '{input.View}'");
                }
            }

            if (v.Features is null || v.Features.Count == 0)
            {
                Add("features", $"{Who} has no features");
                return;
            }

            Fields("features", v.Features.Select(f => f.Field).ToArray());
            foreach (var f in v.Features)
            {
                if (requestNames.Contains(f.Field.Name))
                {
                    Add($"features.{f.Field.Name}", $"{Who}: feature '{f.Field.Name}' has the name of a request field");
                }

                if (string.IsNullOrWhiteSpace(f.Expression))
                {
                    Add($"features.{f.Field.Name}.expression", $"{Who}: feature '{f.Field.Name}' has no expression");
                }
                else if (f.Expression.Length > 10_000)
                {
                    Add($"features.{f.Field.Name}.expression", $"{Who}: the expression of feature '{f.Field.Name}' is longer than 10,000 characters");
                }
                else if (InputSchema(v) is { } inputs)
                {
                    // Compiled here, so a typo in an expression fails apply instead of the first training set or request.
                    try
                    {
                        OnDemand.OnDemandExpression.Compile(f.Expression, inputs, f.Field.Type);
                    }
                    catch (StrataException e)
                    {
                        Add($"features.{f.Field.Name}.expression", $"{Who}: feature '{f.Field.Name}': {e.Message}");
                    }
                }
            }
        }

        private Schema? InputSchema(OnDemandViewDefinition v)
        {
            // Null while an input is unresolved or a name repeats: those are reported on their own.
            var fields = new List<Field>(v.RequestFields ?? []);
            foreach (var input in v.Inputs ?? [])
            {
                if (repo.FeatureType(input) is not { } type)
                {
                    return null;
                }

                fields.Add(new Field(input.ToFullName(), type));
            }

            return fields.Select(f => f.Name).Distinct(StringComparer.Ordinal).Count() == fields.Count ? new Schema(fields) : null;
        }

        private void Service(FeatureServiceDefinition s)
        {
            if (s.Features is null || s.Features.Count == 0)
            {
                Add("features", $"{Who} has no features");
                return;
            }

            var seen = new HashSet<FeatureReference>();
            var named = new Dictionary<string, FeatureReference>(StringComparer.Ordinal);
            foreach (var reference in s.Features)
            {
                if (repo.FeatureNames(reference.View) is not { } features)
                {
                    Add($"features.{reference}", $"{Who} names unknown view '{reference.View}' (in '{reference}')");
                }
                else if (!features.Contains(reference.Feature, StringComparer.Ordinal))
                {
                    Add($"features.{reference}", $"{Who} names unknown feature '{reference}' (view '{reference.View}' has {string.Join(", ", features)})");
                }
                else if (!seen.Add(reference))
                {
                    Add($"features.{reference}", $"{Who} lists '{reference}' twice");
                }
                else if (!named.TryAdd(reference.Feature, reference))
                {
                    // Serving and Feast's reads name a service's features by feature name alone: one of the two would be lost.
                    Add($"features.{reference}", $"{Who}: features '{named[reference.Feature]}' and '{reference}' are both named '{reference.Feature}' (Feast's FeatureNameCollisionError); rename one or leave one out");
                }
            }
        }

        /// <summary>Checks entity names and returns the join key names of those that exist.</summary>
        private HashSet<string> Entities(IReadOnlyList<string>? entities)
        {
            var keys = new HashSet<string>(StringComparer.Ordinal);
            if (entities is null || entities.Count == 0)
            {
                Add("entities", $"{Who} names no entities");
                return keys;
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var name in entities)
            {
                if (!seen.Add(name))
                {
                    Add($"entities.{name}", $"{Who} names entity '{name}' twice");
                }
                else if (!_entities.TryGetValue(name, out var entity))
                {
                    Add($"entities.{name}", $"{Who} names unknown entity '{name}'");
                }
                else
                {
                    foreach (var key in entity.JoinKeys ?? [])
                    {
                        if (!keys.Add(key.Name))
                        {
                            Add("entities", $"{Who}: join key '{key.Name}' comes from two entities");
                        }
                    }
                }
            }

            return keys;
        }

        private void KeysInSchema(HashSet<string> keys, string source, Schema schema)
        {
            foreach (var key in keys)
            {
                if (!schema.Contains(key))
                {
                    Add("entities", $"{Who}: join key '{key}' is not in the schema of source '{source}'");
                }
            }
        }

        private SourceDefinition? SourceOf(string name)
        {
            if (_sources.TryGetValue(name ?? "", out var source))
            {
                return source;
            }

            Add("source", $"{Who} names unknown source '{name}'");
            return null;
        }

        private void Fields(string field, IReadOnlyList<Field> fields)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var f in fields)
            {
                if (!Names.IsValid(f.Name))
                {
                    Add($"{field}.{f.Name}", $"{Who}: '{f.Name}' in `{field}` is not an identifier");
                }
                else if (!names.Add(f.Name))
                {
                    Add($"{field}.{f.Name}", $"{Who}: '{f.Name}' appears twice in `{field}`");
                }

                if (f.Constraints is not null)
                {
                    Add($"{field}.{f.Name}", $"{Who}: '{f.Name}' has constraints; constraints belong in data schemas, not feature definitions");
                }

                foreach (var tag in f.Tags)
                {
                    if (!Names.IsValid(tag, NameKind.Key) && !IsPrefixedTag(tag))
                    {
                        Add($"{field}.{f.Name}.tags", $"{Who}: tag '{tag}' of '{f.Name}' is not a key (letters, digits, '-', '_', '.', '/', ':')");
                    }
                }
            }
        }

        private static bool IsPrefixedTag(string tag) =>
            tag.Split(':') is [var a, var b] && Names.IsValid(a, NameKind.Key) && Names.IsValid(b, NameKind.Key);

        private void Tags(IReadOnlyDictionary<string, string>? tags)
        {
            foreach (var (key, value) in tags ?? new Dictionary<string, string>())
            {
                if (!Names.IsValid(key, NameKind.Key))
                {
                    Add("tags", $"{Who}: tag key '{key}' is not a key");
                }

                if (value is null || value.Length > 1000)
                {
                    Add("tags", $"{Who}: tag '{key}' must have a value of at most 1,000 characters");
                }
            }
        }

        private void Identifier(string field, string? value)
        {
            if (!Names.IsValid(value))
            {
                Add(field, $"{Who}: {field} '{value}' is not an identifier");
            }
        }

        private void Duration(string field, TimeSpan value, bool allowZero)
        {
            if (!Durations.IsValid(value) || (!allowZero && value == TimeSpan.Zero))
            {
                Add(field, $"{Who}: {field[(field.LastIndexOf('.') + 1)..]} must be {(allowZero ? "zero or more" : "more than zero")}, in whole seconds, at most {Durations.Format(Durations.Max)}");
            }
        }

        private static string Word(AggregationFunction function) => function.ToString().ToLowerInvariant();
    }

    /// <summary>True for a relative path with no '..' segment, no root and no drive.</summary>
    internal static bool IsRelativeInside(string path) =>
        !System.IO.Path.IsPathRooted(path)
        && !path.StartsWith('/') && !path.StartsWith('\\')
        && !path.Contains(':', StringComparison.Ordinal)
        && path.Split('/', '\\').All(segment => segment is not "..");
}
