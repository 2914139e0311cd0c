namespace Strata.Features.PointInTime;

/// <summary>
/// One feature view's history as a point-in-time join reads it: the rows, which columns key them, when each row became
/// true (event time) and was written (created time), how long a value stays fresh (TTL), and which features to take.
/// </summary>
/// <param name="Name">The view's name; prefixes feature columns when full feature names are asked for.</param>
/// <param name="Rows">The feature rows, in any order.</param>
/// <param name="JoinKeys">The view's key columns.</param>
/// <param name="EventTimestamp">The view's event-time column (timestamp type).</param>
/// <param name="Features">The feature columns to take, in output order.</param>
public sealed record FeatureViewSource(
    string Name,
    Table Rows,
    IReadOnlyList<string> JoinKeys,
    string EventTimestamp,
    IReadOnlyList<string> Features)
{
    /// <summary>The created-time column that breaks ties between rows with the same event time, or null.</summary>
    public string? CreatedTimestamp { get; init; }

    /// <summary>How long a feature value stays valid after its event time; null or zero means forever.</summary>
    public TimeSpan? Ttl { get; init; }

    /// <summary>
    /// The entity table's columns matched to <see cref="JoinKeys"/> by position; null when they have the same names as
    /// the view's keys.
    /// </summary>
    public IReadOnlyList<string>? EntityKeys { get; init; }
}

/// <summary>How a point-in-time join names and computes its output.</summary>
public sealed record PointInTimeJoinOptions
{
    /// <summary>Name feature columns <c>view__feature</c> instead of <c>feature</c> (Feast's full_feature_names).</summary>
    public bool FullFeatureNames { get; init; }

    /// <summary>Most threads to use; the result does not depend on it.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;
}
