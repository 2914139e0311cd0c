using Strata.Features.Definitions;
using Strata.Stores;

namespace Strata.Testing;

/// <summary>
/// The windowed feature project the push and restart tests share: an entity user, a push source ev (user, ts, amount)
/// and the aggregation view user_windows over it, with the one-hour windows a test asks for.
/// </summary>
public static class UserWindowsSeed
{
    /// <summary>cnt_1h: the user's events in the last hour.</summary>
    public const string Count = "{ name: cnt_1h, function: count, window: 1h }";

    /// <summary>sum_1h: the sum of their amounts.</summary>
    public const string Sum = "{ name: sum_1h, function: sum, column: amount, window: 1h }";

    /// <summary>mean_1h: the mean of their amounts.</summary>
    public const string Mean = "{ name: mean_1h, function: mean, column: amount, window: 1h }";

    /// <summary>The features.yaml with <paramref name="aggregations"/> (of the constants above) in user_windows.</summary>
    public static string Definitions(params string[] aggregations) => """
        entities:
          - name: user
            join_keys: [{ name: user, type: string }]
        sources:
          - name: ev
            kind: push
            timestamp_field: ts
            schema:
              - { name: user, type: string }
              - { name: ts, type: timestamp }
              - { name: amount, type: float64 }
        aggregation_views:
          - name: user_windows
            entities: [user]
            source: ev
            aggregations:

        """ + string.Concat(aggregations.Select(a => $"      - {a}\n"));

    /// <summary>Applies <see cref="Definitions"/> to <paramref name="project"/>.</summary>
    public static Task ApplyAsync(IMetadataStore metadata, string project, params string[] aggregations) =>
        new FeatureRegistry(metadata).ApplyAsync(project, FeatureRepositoryYaml.Parse([("features.yaml", Definitions(aggregations))]), force: false, new Actor("test"));
}
