using Strata.Data;

namespace Strata.Features.Definitions;

// The feature repository's model: what YAML files in a repository folder (or C# code) declare, validated as a whole by
// FeatureRepository and stored, versioned, in the metadata store. Names are identifiers (Names.Check); durations are
// TimeSpans (YAML: "10m", "1h", "1d", "90s").

/// <summary>A business object features describe (a customer, an airport), identified by one or more typed join keys.</summary>
/// <param name="Name">The entity's name.</param>
/// <param name="JoinKeys">Key columns (int32, int64 or string), in key order.</param>
public sealed record EntityDefinition(string Name, IReadOnlyList<Field> JoinKeys)
{
    /// <summary>What the entity is, for people.</summary>
    public string? Description { get; init; }

    /// <summary>Free-form tags.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}

/// <summary>Where a source's rows come from.</summary>
public enum SourceKind
{
    /// <summary>A CSV, JSON Lines or Arrow IPC file, relative to the repository folder (never outside it).</summary>
    File,
    /// <summary>A PostgreSQL table.</summary>
    PostgresTable,
    /// <summary>A PostgreSQL query.</summary>
    PostgresQuery,
    /// <summary>Rows arrive through push (HTTP, CLI or C#); the schema is declared.</summary>
    Push,
}

/// <summary>A source of feature rows: a file, a PostgreSQL table or query, or a push source.</summary>
/// <param name="Name">The source's name.</param>
/// <param name="Kind">Where rows come from.</param>
/// <param name="TimestampField">The event-time column.</param>
public sealed record SourceDefinition(string Name, SourceKind Kind, string TimestampField)
{
    /// <summary>For <see cref="SourceKind.File"/>: the path relative to the repository folder.</summary>
    public string? Path { get; init; }

    /// <summary>For <see cref="SourceKind.File"/>: the format, or null to detect it.</summary>
    public DataFormat? Format { get; init; }

    /// <summary>For <see cref="SourceKind.PostgresTable"/>: the table (optionally schema-qualified).</summary>
    public string? Table { get; init; }

    /// <summary>For <see cref="SourceKind.PostgresQuery"/>: the query.</summary>
    public string? Query { get; init; }

    /// <summary>The created-time column that breaks event-time ties, or null.</summary>
    public string? CreatedTimestampField { get; init; }

    /// <summary>Declared columns (required for push sources; optional elsewhere, where they fix the types read).</summary>
    public Schema? Schema { get; init; }

    /// <summary>What the source is, for people.</summary>
    public string? Description { get; init; }
}

/// <summary>
/// Typed features of one or more entities read from one source: the offline store keeps their history, the online store
/// their latest values.
/// </summary>
/// <param name="Name">The view's name.</param>
/// <param name="Entities">Entity names; the view's join keys are theirs, in this order.</param>
/// <param name="Source">The source's name.</param>
/// <param name="Features">The features (columns of the source), typed.</param>
public sealed record FeatureViewDefinition(string Name, IReadOnlyList<string> Entities, string Source, IReadOnlyList<Field> Features)
{
    /// <summary>How long a value stays valid after its event time; zero for ever.</summary>
    public TimeSpan Ttl { get; init; }

    /// <summary>Materialized into the online store.</summary>
    public bool Online { get; init; } = true;

    /// <summary>Kept in the offline store for training sets.</summary>
    public bool Offline { get; init; } = true;

    /// <summary>Who answers for the view.</summary>
    public string? Owner { get; init; }

    /// <summary>What the view holds, for people.</summary>
    public string? Description { get; init; }

    /// <summary>Free-form tags; a feature's own <c>pii:*</c> tags live on its <see cref="Field"/>.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}

/// <summary>The aggregate functions of windowed aggregation views.</summary>
public enum AggregationFunction
{
    /// <summary>Number of events in the window (int64; no input column).</summary>
    Count,
    /// <summary>Sum of the non-null inputs (float64).</summary>
    Sum,
    /// <summary>Mean of the non-null inputs (float64; null when there are none).</summary>
    Mean,
    /// <summary>Smallest non-null input (float64; null when there are none).</summary>
    Min,
    /// <summary>Largest non-null input (float64; null when there are none).</summary>
    Max,
    /// <summary>The input of the newest event in the window (the input's type; null when the window is empty).</summary>
    Last,
}

/// <summary>One aggregate over a sliding window <c>(t − window, t]</c> of an entity's events.</summary>
/// <param name="Name">The output feature's name.</param>
/// <param name="Function">The aggregate.</param>
/// <param name="Column">The input column (null for count).</param>
/// <param name="Window">The window's length.</param>
public sealed record AggregationDefinition(string Name, AggregationFunction Function, string? Column, TimeSpan Window);

/// <summary>
/// Aggregates of an entity's events over sliding windows, computed incrementally on push for serving and in batch over
/// the offline store for training, with the same values.
/// </summary>
/// <param name="Name">The view's name.</param>
/// <param name="Entities">Entity names.</param>
/// <param name="Source">The source of events (usually a push source).</param>
/// <param name="Aggregations">The aggregates.</param>
public sealed record AggregationViewDefinition(string Name, IReadOnlyList<string> Entities, string Source, IReadOnlyList<AggregationDefinition> Aggregations)
{
    /// <summary>How long a value stays valid after its last event; zero for ever.</summary>
    public TimeSpan Ttl { get; init; }

    /// <summary>Served from the online store.</summary>
    public bool Online { get; init; } = true;

    /// <summary>Events kept in the offline store for training sets.</summary>
    public bool Offline { get; init; } = true;

    /// <summary>Who answers for the view.</summary>
    public string? Owner { get; init; }

    /// <summary>What the view holds, for people.</summary>
    public string? Description { get; init; }

    /// <summary>Free-form tags.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}

/// <summary>One on-demand feature: a typed result and the row-level expression that computes it.</summary>
/// <param name="Field">The output's name and type.</param>
/// <param name="Expression">The expression over request fields and input features (see docs/features.md).</param>
public sealed record OnDemandFeature(Field Field, string Expression);

/// <summary>
/// Row-level features computed at request time from request data and other views' features, by the same compiled
/// expressions offline (training sets) and online (serving).
/// </summary>
/// <param name="Name">The view's name.</param>
/// <param name="RequestFields">Fields the request (or the entity table) supplies.</param>
/// <param name="Inputs">Features of other views the expressions read, referred to in expressions as <c>view__feature</c>.</param>
/// <param name="Features">The computed features.</param>
public sealed record OnDemandViewDefinition(string Name, IReadOnlyList<Field> RequestFields, IReadOnlyList<FeatureReference> Inputs, IReadOnlyList<OnDemandFeature> Features)
{
    /// <summary>Who answers for the view.</summary>
    public string? Owner { get; init; }

    /// <summary>What the view computes, for people.</summary>
    public string? Description { get; init; }
}

/// <summary>A named set of features a model consumes.</summary>
/// <param name="Name">The service's name.</param>
/// <param name="Features">The features, in output order.</param>
public sealed record FeatureServiceDefinition(string Name, IReadOnlyList<FeatureReference> Features)
{
    /// <summary>Who answers for the service.</summary>
    public string? Owner { get; init; }

    /// <summary>What the service is for, for people.</summary>
    public string? Description { get; init; }
}

/// <summary>A feature of a view, written <c>view:feature</c> as Feast does.</summary>
/// <param name="View">The view's name.</param>
/// <param name="Feature">The feature's name.</param>
public readonly record struct FeatureReference(string View, string Feature)
{
    /// <summary>Parses <c>view:feature</c>.</summary>
    /// <exception cref="StrataException">Not of that form.</exception>
    public static FeatureReference Parse(string text)
    {
        var colon = text?.IndexOf(':') ?? -1;
        if (text is null || colon <= 0 || colon == text.Length - 1 || text.IndexOf(':', colon + 1) >= 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature reference '{text}' is not of the form view:feature");
        }

        return new FeatureReference(text[..colon], text[(colon + 1)..]);
    }

    /// <summary>Its column's name where names are full (<c>view__feature</c>): training sets, online reads, on-demand inputs.</summary>
    public string ToFullName() => $"{View}__{Feature}";

    /// <inheritdoc />
    public override string ToString() => $"{View}:{Feature}";
}
