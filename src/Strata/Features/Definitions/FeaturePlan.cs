namespace Strata.Features.Definitions;

/// <summary>What a change does to a definition.</summary>
public enum ChangeAction
{
    /// <summary>The definition is new.</summary>
    Add,
    /// <summary>The definition goes away.</summary>
    Remove,
    /// <summary>A field of the definition changes (the detail says which).</summary>
    Change,
}

/// <summary>
/// One difference between the stored definitions and new ones — the unit a plan shows and apply checks. A breaking change
/// would break what already reads the feature (a served model, the stored online rows), so apply refuses it unless forced.
/// </summary>
/// <param name="Action">Added, removed or changed.</param>
/// <param name="Kind">The definition's kind.</param>
/// <param name="Name">The definition's name.</param>
/// <param name="Detail">What changed, for people (<c>feature 'x' type int64 → float64</c>); empty for a plain add or remove.</param>
/// <param name="Breaking">True when apply refuses it without force.</param>
public sealed record FeatureChange(ChangeAction Action, DefinitionKind Kind, string Name, string Detail, bool Breaking)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Action.ToString().ToLowerInvariant()} {FeatureRepository.Describe(Kind)} '{Name}'{(Detail.Length > 0 ? ": " + Detail : "")}{(Breaking ? " (breaking)" : "")}";
}

/// <summary>The changes applying a repository would make to a project's stored definitions, checked before anything is written.</summary>
/// <param name="Project">The project.</param>
/// <param name="CurrentVersion">The stored version compared against, or null when the project has none.</param>
/// <param name="CurrentDigest">That version's digest, or null.</param>
/// <param name="Digest">The new definitions' digest.</param>
/// <param name="Changes">The changes, by kind then name.</param>
public sealed record FeaturePlan(string Project, int? CurrentVersion, string? CurrentDigest, string Digest, IReadOnlyList<FeatureChange> Changes)
{
    /// <summary>True when applying would store a new version.</summary>
    public bool HasChanges => CurrentDigest != Digest;

    /// <summary>The changes apply refuses without force.</summary>
    public IReadOnlyList<FeatureChange> Breaking => Changes.Where(c => c.Breaking).ToArray();

    /// <summary>
    /// Compares new definitions to stored ones. Breaking: a type change of an existing feature of a view that is online or
    /// used by a service, the removal of a feature a service uses, and a change of a stored view's join keys.
    /// </summary>
    public static IReadOnlyList<FeatureChange> Diff(FeatureRepository current, FeatureRepository next)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(next);
        return new Differ(current, next).Run();
    }

    private sealed class Differ(FeatureRepository old, FeatureRepository next)
    {
        private readonly List<FeatureChange> _changes = [];

        // A feature is "used" when a service of either version lists it: the old ones have consumers now, the new ones will.
        private readonly HashSet<FeatureReference> _used = old.Services.Concat(next.Services).SelectMany(s => s.Features).ToHashSet();

        public List<FeatureChange> Run()
        {
            Compare(DefinitionKind.Entity, old.Entities, next.Entities, e => e.Name, Entity);
            Compare(DefinitionKind.Source, old.Sources, next.Sources, s => s.Name, Source);
            Compare(DefinitionKind.FeatureView, old.FeatureViews, next.FeatureViews, v => v.Name, FeatureView);
            Compare(DefinitionKind.AggregationView, old.AggregationViews, next.AggregationViews, v => v.Name, AggregationView);
            Compare(DefinitionKind.OnDemandView, old.OnDemandViews, next.OnDemandViews, v => v.Name, OnDemandView);
            Compare(DefinitionKind.FeatureService, old.Services, next.Services, s => s.Name, Service);
            return _changes;
        }

        private void Compare<T>(DefinitionKind kind, IReadOnlyList<T> before, IReadOnlyList<T> after, Func<T, string> name, Action<T, T> change)
        {
            var was = before.ToDictionary(name, StringComparer.Ordinal);
            var now = after.ToDictionary(name, StringComparer.Ordinal);
            foreach (var key in was.Keys.Union(now.Keys).Order(StringComparer.Ordinal))
            {
                if (!was.TryGetValue(key, out var a))
                {
                    _changes.Add(new FeatureChange(ChangeAction.Add, kind, key, "", false));
                }
                else if (!now.TryGetValue(key, out var b))
                {
                    var lost = kind is DefinitionKind.FeatureView or DefinitionKind.AggregationView or DefinitionKind.OnDemandView
                        ? (old.FeatureNames(key) ?? []).Select(f => new FeatureReference(key, f)).Where(_used.Contains).ToArray()
                        : [];
                    _changes.Add(new FeatureChange(ChangeAction.Remove, kind, key, lost.Length > 0 ? $"services use {string.Join(", ", lost)}" : "", lost.Length > 0));
                }
                else
                {
                    (_kind, _name) = (kind, key);
                    change(a, b);
                }
            }
        }

        private DefinitionKind _kind;
        private string _name = "";

        private void Add(string detail, bool breaking = false) => _changes.Add(new FeatureChange(ChangeAction.Change, _kind, _name, detail, breaking));

        private void Value<T>(string what, T a, T b, Func<T, string>? show = null)
        {
            if (!EqualityComparer<T>.Default.Equals(a, b))
            {
                show ??= x => x?.ToString() ?? "(none)";
                Add($"{what} {show(a)} → {show(b)}");
            }
        }

        private void Tags(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b)
        {
            if (a.Count != b.Count || a.Any(t => !b.TryGetValue(t.Key, out var v) || v != t.Value))
            {
                Add("tags changed");
            }
        }

        private void Entity(EntityDefinition a, EntityDefinition b)
        {
            Fields("join key", a.JoinKeys, b.JoinKeys, _ => false, _ => false);
            Value("description", a.Description, b.Description, Quote);
            Tags(a.Tags, b.Tags);
        }

        private void Source(SourceDefinition a, SourceDefinition b)
        {
            Value("kind", a.Kind, b.Kind, k => FeatureRepository.KindName(k));
            Value("path", a.Path, b.Path);
            Value("format", a.Format, b.Format, f => f is { } x ? FeatureRepository.FormatName(x) : "(detect)");
            Value("table", a.Table, b.Table);
            Value("query", a.Query, b.Query, Quote);
            Value("timestamp_field", a.TimestampField, b.TimestampField);
            Value("created_timestamp_field", a.CreatedTimestampField, b.CreatedTimestampField);
            Fields("schema column", a.Schema ?? Schema.Empty, b.Schema ?? Schema.Empty, _ => false, _ => false);
            Value("description", a.Description, b.Description, Quote);
        }

        private void FeatureView(FeatureViewDefinition a, FeatureViewDefinition b)
        {
            JoinKeys(a.Entities, b.Entities);
            Value("source", a.Source, b.Source);
            Fields("feature", a.Features, b.Features, f => Used(f) || a.Online, Used);
            Value("ttl", a.Ttl, b.Ttl, Durations.Format);
            Value("online", a.Online, b.Online, Word);
            Value("offline", a.Offline, b.Offline, Word);
            Value("owner", a.Owner, b.Owner);
            Value("description", a.Description, b.Description, Quote);
            Tags(a.Tags, b.Tags);
        }

        private void AggregationView(AggregationViewDefinition a, AggregationViewDefinition b)
        {
            JoinKeys(a.Entities, b.Entities);
            Value("source", a.Source, b.Source);
            var was = a.Aggregations.ToDictionary(x => x.Name, StringComparer.Ordinal);
            var now = b.Aggregations.ToDictionary(x => x.Name, StringComparer.Ordinal);
            foreach (var x in a.Aggregations.Where(x => !now.ContainsKey(x.Name)))
            {
                Add($"aggregation '{x.Name}' removed", Used(x.Name));
            }

            foreach (var x in b.Aggregations.Where(x => !was.ContainsKey(x.Name)))
            {
                Add($"aggregation '{x.Name}' added ({Describe(x)})");
            }

            foreach (var x in b.Aggregations.Where(x => was.ContainsKey(x.Name) && was[x.Name] != x))
            {
                var reference = new FeatureReference(b.Name, x.Name);
                var typeBefore = old.FeatureType(reference);
                var typeAfter = next.FeatureType(reference);
                var typeChanged = typeBefore != typeAfter;
                Add($"aggregation '{x.Name}' {Describe(was[x.Name])} → {Describe(x)}{(typeChanged ? $" (type {Show(typeBefore)} → {Show(typeAfter)})" : "")}",
                    typeChanged && (a.Online || Used(x.Name)));
            }

            if (!a.Aggregations.Select(x => x.Name).Where(now.ContainsKey).SequenceEqual(b.Aggregations.Select(x => x.Name).Where(was.ContainsKey)))
            {
                Add("aggregations reordered");
            }

            Value("ttl", a.Ttl, b.Ttl, Durations.Format);
            Value("online", a.Online, b.Online, Word);
            Value("offline", a.Offline, b.Offline, Word);
            Value("owner", a.Owner, b.Owner);
            Value("description", a.Description, b.Description, Quote);
            Tags(a.Tags, b.Tags);
        }

        private void OnDemandView(OnDemandViewDefinition a, OnDemandViewDefinition b)
        {
            Fields("request field", a.RequestFields, b.RequestFields, _ => false, _ => false);
            var inputsBefore = a.Inputs.Select(i => i.ToString()).ToArray();
            var inputsAfter = b.Inputs.Select(i => i.ToString()).ToArray();
            foreach (var i in inputsBefore.Except(inputsAfter))
            {
                Add($"input '{i}' removed");
            }

            foreach (var i in inputsAfter.Except(inputsBefore))
            {
                Add($"input '{i}' added");
            }

            Fields("feature", a.Features.Select(f => f.Field).ToArray(), b.Features.Select(f => f.Field).ToArray(), Used, Used);
            var expressions = a.Features.ToDictionary(f => f.Field.Name, f => f.Expression, StringComparer.Ordinal);
            foreach (var f in b.Features)
            {
                if (expressions.TryGetValue(f.Field.Name, out var before) && before != f.Expression)
                {
                    Add($"feature '{f.Field.Name}' expression '{before}' → '{f.Expression}'");
                }
            }

            Value("owner", a.Owner, b.Owner);
            Value("description", a.Description, b.Description, Quote);
        }

        private void Service(FeatureServiceDefinition a, FeatureServiceDefinition b)
        {
            foreach (var f in a.Features.Except(b.Features))
            {
                Add($"feature '{f}' removed");
            }

            foreach (var f in b.Features.Except(a.Features))
            {
                Add($"feature '{f}' added");
            }

            if (!a.Features.Intersect(b.Features).SequenceEqual(b.Features.Intersect(a.Features)))
            {
                Add("features reordered");
            }

            Value("owner", a.Owner, b.Owner);
            Value("description", a.Description, b.Description, Quote);
        }

        /// <summary>A stored view's join keys (names and types, through its entities) must not change under existing rows.</summary>
        private void JoinKeys(IReadOnlyList<string> before, IReadOnlyList<string> after)
        {
            var a = Keys(old, before);
            var b = Keys(next, after);
            if (a != b)
            {
                Add($"join keys ({a}) → ({b})", breaking: true);
            }
            else if (!before.SequenceEqual(after))
            {
                Add($"entities [{string.Join(", ", before)}] → [{string.Join(", ", after)}]");
            }
        }

        private static string Keys(FeatureRepository repo, IReadOnlyList<string> entities) =>
            string.Join(", ", entities.SelectMany(e => repo.Entities.FirstOrDefault(x => x.Name == e)?.JoinKeys ?? []).Select(k => $"{k.Name} {k.Type.Name()}"));

        /// <summary>
        /// Field lists by name: removals (breaking when <paramref name="removalBreaks"/>), additions, type changes (breaking
        /// when <paramref name="typeChangeBreaks"/>), nullability and tag changes, and reordering.
        /// </summary>
        private void Fields(string what, IReadOnlyList<Field> before, IReadOnlyList<Field> after, Func<string, bool> typeChangeBreaks, Func<string, bool> removalBreaks)
        {
            var was = before.ToDictionary(f => f.Name, StringComparer.Ordinal);
            var now = after.ToDictionary(f => f.Name, StringComparer.Ordinal);
            foreach (var f in before.Where(f => !now.ContainsKey(f.Name)))
            {
                Add($"{what} '{f.Name}' removed", removalBreaks(f.Name));
            }

            foreach (var f in after.Where(f => !was.ContainsKey(f.Name)))
            {
                Add($"{what} '{f.Name}' added ({f.Type.Name()})");
            }

            foreach (var f in after.Where(f => was.ContainsKey(f.Name)))
            {
                var a = was[f.Name];
                if (a.Type != f.Type)
                {
                    Add($"{what} '{f.Name}' type {a.Type.Name()} → {f.Type.Name()}", typeChangeBreaks(f.Name));
                }

                if (a.Nullable != f.Nullable)
                {
                    Add($"{what} '{f.Name}' nullable {Word(a.Nullable)} → {Word(f.Nullable)}");
                }

                if (!a.Tags.SequenceEqual(f.Tags, StringComparer.Ordinal))
                {
                    Add($"{what} '{f.Name}' tags [{string.Join(", ", a.Tags)}] → [{string.Join(", ", f.Tags)}]");
                }
            }

            if (!before.Select(f => f.Name).Where(now.ContainsKey).SequenceEqual(after.Select(f => f.Name).Where(was.ContainsKey)))
            {
                Add($"{what}s reordered");
            }
        }

        private bool Used(string feature) => _used.Contains(new FeatureReference(_name, feature));

        private static string Describe(AggregationDefinition a) =>
            $"{FeatureRepository.FunctionName(a.Function)}{(a.Column is null ? "" : $"({a.Column})")} over {Durations.Format(a.Window)}";

        private static string Word(bool value) => value ? "true" : "false";

        private static string Show(DataType? type) => type?.Name() ?? "unknown";

        private static string Quote(string? text) => text is null ? "(none)" : $"'{(text.Length > 40 ? text[..40] + "…" : text)}'";
    }
}
