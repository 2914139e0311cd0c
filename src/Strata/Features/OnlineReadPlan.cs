using Strata.Features.Definitions;

namespace Strata.Features;

/// <summary>
/// How an online read of a list of features goes: the stored features it needs (on-demand views' inputs included),
/// grouped by view in first-use order, and where each output comes from. It depends only on the list and the
/// definitions, so a feature store makes one per feature service up front instead of one per request.
/// </summary>
internal sealed class OnlineReadPlan
{
    private OnlineReadPlan(
        FeatureReference[] needed, OnlineReadGroup[] groups, Dictionary<FeatureReference, int> neededAt, OnDemandViewDefinition?[] onDemand, int[] source, string[] names, string[] fullNames, string? collision, string? fullCollision)
    {
        Collision = collision;
        FullCollision = fullCollision;
        Needed = needed;
        Groups = groups;
        NeededAt = neededAt;
        OnDemand = onDemand;
        Source = source;
        Names = names;
        FullNames = fullNames;
    }

    /// <summary>The stored features to read, each once.</summary>
    public FeatureReference[] Needed { get; }

    /// <summary>The needed features by view, one store call each.</summary>
    public OnlineReadGroup[] Groups { get; }

    /// <summary>A needed feature's position in <see cref="Needed"/>.</summary>
    public Dictionary<FeatureReference, int> NeededAt { get; }

    /// <summary>Per output, its on-demand view (null for a stored feature).</summary>
    public OnDemandViewDefinition?[] OnDemand { get; }

    /// <summary>Per stored output, its position in <see cref="Needed"/> (-1 for an on-demand one).</summary>
    public int[] Source { get; }

    /// <summary>The outputs' names (feature only).</summary>
    public string[] Names { get; }

    /// <summary>The outputs' names as <c>view__feature</c>.</summary>
    public string[] FullNames { get; }

    /// <summary>Why the outputs cannot be named by feature alone (two share a name), or null when they can.</summary>
    public string? Collision { get; }

    /// <summary>Why the outputs cannot be named <c>view__feature</c> (a feature asked for twice), or null when they can.</summary>
    public string? FullCollision { get; }

    /// <summary>Plans a read of <paramref name="features"/> under <paramref name="repository"/>'s definitions.</summary>
    public static OnlineReadPlan Of(IReadOnlyList<FeatureReference> features, FeatureRepository repository)
    {
        var onDemandViews = repository.OnDemandViews.ToDictionary(v => v.Name, StringComparer.Ordinal);
        var onDemand = new OnDemandViewDefinition?[features.Count];
        var needed = new List<FeatureReference>();
        var neededAt = new Dictionary<FeatureReference, int>();
        void Need(FeatureReference reference)
        {
            if (neededAt.TryAdd(reference, needed.Count))
            {
                needed.Add(reference);
            }
        }

        for (var i = 0; i < features.Count; i++)
        {
            onDemand[i] = onDemandViews.GetValueOrDefault(features[i].View);
            if (onDemand[i] is { } view)
            {
                foreach (var input in view.Inputs)
                {
                    Need(input);
                }
            }
            else
            {
                Need(features[i]);
            }
        }

        var windows = repository.AggregationViews.ToDictionary(v => v.Name, StringComparer.Ordinal);
        var groups = needed.Select((reference, at) => (reference, at)).GroupBy(n => n.reference.View, StringComparer.Ordinal)
            .Select(g => new OnlineReadGroup(
                g.Key,
                [.. g.Select(n => n.reference.Feature)],
                [.. g.Select(n => n.at)],
                windows.TryGetValue(g.Key, out var view) ? [.. g.Select(n => AggregationIndex(view, n.reference.Feature))] : null))
            .ToArray();
        var source = new int[features.Count];
        for (var i = 0; i < features.Count; i++)
        {
            source[i] = onDemand[i] is null ? neededAt[features[i]] : -1;
        }

        return new OnlineReadPlan(
            [.. needed], groups, neededAt, onDemand, source, [.. features.Select(r => r.Feature)], [.. features.Select(r => r.ToFullName())],
            Collide(features, full: false), Collide(features, full: true));
    }

    /// <summary>
    /// Feast's FeatureNameCollisionError: the same feature asked for twice, or (without full names) two features of
    /// different views with one name, would give two outputs of one name, and a reader by name would lose one.
    /// </summary>
    private static string? Collide(IReadOnlyList<FeatureReference> features, bool full)
    {
        var seen = new Dictionary<string, FeatureReference>(StringComparer.Ordinal);
        foreach (var reference in features)
        {
            var name = full ? reference.ToFullName() : reference.Feature;
            if (!seen.TryAdd(name, reference))
            {
                var first = seen[name];
                return first == reference
                    ? $"feature '{reference}' is asked for twice; ask for each feature once"
                    : $"features '{first}' and '{reference}' are both named '{reference.Feature}'; ask for full feature names (view__feature) or leave one out";
            }
        }

        return null;
    }

    private static int AggregationIndex(AggregationViewDefinition view, string feature)
    {
        for (var a = 0; a < view.Aggregations.Count; a++)
        {
            if (view.Aggregations[a].Name == feature)
            {
                return a;
            }
        }

        throw new StrataException(ErrorCodes.NotFound, $"feature view '{view.Name}' has no feature '{feature}' (features: {string.Join(", ", view.Aggregations.Select(a => a.Name))})");
    }
}

/// <summary>
/// One view's part of an online read: the feature names asked of the store, where each goes in the plan's needed list,
/// and for an aggregation view (read as its stored windows) each name's position among the view's aggregations.
/// </summary>
internal sealed record OnlineReadGroup(string View, string[] Names, int[] Needed, int[]? Aggregations);
