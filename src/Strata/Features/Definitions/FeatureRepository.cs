namespace Strata.Features.Definitions;

/// <summary>
/// A project's feature definitions as one value — what a repository folder declares and what the metadata store keeps
/// per applied version — with the stored layouts the offline and online stores derive from it.
/// </summary>
public sealed partial record FeatureRepository(
    IReadOnlyList<EntityDefinition> Entities,
    IReadOnlyList<SourceDefinition> Sources,
    IReadOnlyList<FeatureViewDefinition> FeatureViews,
    IReadOnlyList<AggregationViewDefinition> AggregationViews,
    IReadOnlyList<OnDemandViewDefinition> OnDemandViews,
    IReadOnlyList<FeatureServiceDefinition> Services)
{
    /// <summary>A repository with nothing in it.</summary>
    public static FeatureRepository Empty { get; } = new([], [], [], [], [], []);

    /// <summary>An entity by name.</summary>
    /// <exception cref="StrataException">Not found.</exception>
    public EntityDefinition Entity(string name) =>
        Entities.FirstOrDefault(e => e.Name == name) ?? throw NotFound("entity", name);

    /// <summary>A source by name.</summary>
    /// <exception cref="StrataException">Not found.</exception>
    public SourceDefinition Source(string name) =>
        Sources.FirstOrDefault(s => s.Name == name) ?? throw NotFound("source", name);

    /// <summary>A feature service by name.</summary>
    /// <exception cref="StrataException">Not found.</exception>
    public FeatureServiceDefinition Service(string name) =>
        Services.FirstOrDefault(s => s.Name == name) ?? throw NotFound("feature service", name);

    /// <summary>True when a feature view or aggregation view of this name exists (on-demand views are not stored).</summary>
    public bool IsStoredView(string name) =>
        FeatureViews.Any(v => v.Name == name) || AggregationViews.Any(v => v.Name == name);

    /// <summary>The join keys of a list of entities, in order.</summary>
    public IReadOnlyList<Field> JoinKeys(IReadOnlyList<string> entities) =>
        entities.SelectMany(e => Entity(e).JoinKeys).ToArray();

    /// <summary>
    /// How the online store keeps a view: its join keys, the source's event (and created) time, and its features — for an
    /// aggregation view, each entity's window of events, from which reads compute the aggregates as of the read time
    /// (see <see cref="Streaming.StreamingAggregator"/>).
    /// </summary>
    /// <exception cref="StrataException">No such stored view.</exception>
    public FeatureViewLayout OnlineLayout(string view)
    {
        if (FeatureViews.Any(v => v.Name == view))
        {
            return OfflineLayout(view);
        }

        var aggregation = AggregationViews.FirstOrDefault(v => v.Name == view) ?? throw NotFound("feature view", view);
        return new Streaming.StreamingAggregator(OfflineLayout(view), aggregation.Aggregations).OnlineLayout;
    }

    /// <summary>
    /// How the offline store keeps a view: for a feature view the same as online; for an aggregation view the raw events
    /// (join keys, times and every input column), so windows can be computed as of any instant.
    /// </summary>
    /// <exception cref="StrataException">No such stored view.</exception>
    public FeatureViewLayout OfflineLayout(string view)
    {
        if (FeatureViews.FirstOrDefault(v => v.Name == view) is { } plain)
        {
            var source = Source(plain.Source);
            return new FeatureViewLayout(view, JoinKeys(plain.Entities), source.TimestampField, plain.Features.Select(f => f.WithNullable(true)).ToArray(), source.CreatedTimestampField, plain.Ttl);
        }

        var aggregation = AggregationViews.FirstOrDefault(v => v.Name == view) ?? throw NotFound("feature view", view);
        var events = Source(aggregation.Source);
        var inputs = aggregation.Aggregations
            .Where(a => a.Column is not null)
            .Select(a => a.Column!)
            .Distinct(StringComparer.Ordinal)
            .Select(c => InputField(events, c).WithNullable(true))
            .ToArray();
        return new FeatureViewLayout(view, JoinKeys(aggregation.Entities), events.TimestampField, inputs, events.CreatedTimestampField, aggregation.Ttl);
    }

    /// <summary>The type an aggregate produces.</summary>
    public static DataType AggregateType(AggregationDefinition aggregation, SourceDefinition source) => aggregation.Function switch
    {
        AggregationFunction.Count => DataType.Int64,
        AggregationFunction.Last => InputField(source, aggregation.Column!).Type,
        _ => DataType.Float64,
    };

    private static Field InputField(SourceDefinition source, string column) =>
        source.Schema is { } schema && schema.TryIndexOf(column) is var i && i >= 0
            ? schema[i]
            : throw new StrataException(ErrorCodes.SchemaInvalid, $"source '{source.Name}' declares no column '{column}'; aggregation inputs must be declared in the source's schema");

    private static StrataException NotFound(string what, string name) =>
        new(ErrorCodes.NotFound, $"{what} '{name}' is not defined");
}
