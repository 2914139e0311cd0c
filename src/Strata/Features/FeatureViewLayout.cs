using System.Text;

using Strata.Features.OnlineStore;

namespace Strata.Features;

/// <summary>
/// The stored layout of one feature view, shared by the offline and online stores, so writes are checked and reads resolved
/// before any data moves:
/// join keys (int32, int64 or string), the event-time column, an optional created-time column, the features and a TTL.
/// </summary>
public sealed class FeatureViewLayout
{
    private readonly Dictionary<string, int> _featureIndex;

    /// <summary>Creates a view; names must be unique across keys, timestamps and features. A zero TTL means values never expire.</summary>
    public FeatureViewLayout(
        string name,
        IReadOnlyList<Field> joinKeys,
        string eventTimestampColumn,
        IReadOnlyList<Field> features,
        string? createdTimestampColumn = null,
        TimeSpan ttl = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(joinKeys);
        ArgumentException.ThrowIfNullOrEmpty(eventTimestampColumn);
        ArgumentNullException.ThrowIfNull(features);
        if (joinKeys.Count == 0)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"feature view '{name}' needs at least one join key");
        }

        foreach (var key in joinKeys)
        {
            if (key.Type is not (DataType.Int32 or DataType.Int64 or DataType.String))
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"feature view '{name}': join key '{key.Name}' is {key.Type.Name()}; keys must be int32, int64 or string");
            }
        }

        if (ttl < TimeSpan.Zero)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature view '{name}': TTL must not be negative");
        }

        Name = name;
        JoinKeys = joinKeys.ToArray();
        EventTimestampColumn = eventTimestampColumn;
        CreatedTimestampColumn = createdTimestampColumn;
        Features = features.ToArray();
        Ttl = ttl;
        TtlMicros = ttl.Ticks / TimeSpan.TicksPerMicrosecond;

        var fields = new List<Field>(JoinKeys.Select(k => k.WithNullable(false)))
        {
            new(eventTimestampColumn, DataType.Timestamp, nullable: false),
        };
        if (createdTimestampColumn is not null)
        {
            fields.Add(new Field(createdTimestampColumn, DataType.Timestamp, nullable: false));
        }

        fields.AddRange(Features);
        Schema = new Schema(fields); // throws on duplicate names
        _featureIndex = new Dictionary<string, int>(Features.Count, StringComparer.Ordinal);
        for (var i = 0; i < Features.Count; i++)
        {
            _featureIndex[Features[i].Name] = i;
        }

        Fingerprint = Crc32C.Compute(Encoding.UTF8.GetBytes(Schema.ToString()));
    }

    /// <summary>The view's name.</summary>
    public string Name { get; }

    /// <summary>The entity key columns, in key order.</summary>
    public IReadOnlyList<Field> JoinKeys { get; }

    /// <summary>The event-time column (timestamp): the newest event wins.</summary>
    public string EventTimestampColumn { get; }

    /// <summary>The created-time column that breaks event-time ties, or null.</summary>
    public string? CreatedTimestampColumn { get; }

    /// <summary>The feature columns.</summary>
    public IReadOnlyList<Field> Features { get; }

    /// <summary>How old a value may be before reads report it as outside max age; zero for no limit.</summary>
    public TimeSpan Ttl { get; }

    /// <summary>The schema a write must have: keys, event time, created time (if any), features.</summary>
    public Schema Schema { get; }

    internal long TtlMicros { get; }

    /// <summary>A checksum of the layout, kept in log records so a log is never replayed into a changed view.</summary>
    internal uint Fingerprint { get; }

    /// <summary>Refuses a view list with a null entry or a name listed twice (what every online store's ApplyViews takes).</summary>
    internal static void CheckDistinct(IReadOnlyList<FeatureViewLayout> views)
    {
        ArgumentNullException.ThrowIfNull(views);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var view in views)
        {
            ArgumentNullException.ThrowIfNull(view, nameof(views));
            if (!seen.Add(view.Name))
            {
                throw new StrataException(ErrorCodes.Conflict, $"feature view '{view.Name}' is listed twice");
            }
        }
    }

    /// <summary>The position of a feature.</summary>
    /// <exception cref="StrataException">No such feature.</exception>
    public int FeatureIndex(string feature) =>
        _featureIndex.TryGetValue(feature, out var i)
            ? i
            : throw new StrataException(ErrorCodes.NotFound, $"feature view '{Name}' has no feature '{feature}' (features: {string.Join(", ", Features.Select(f => f.Name))})");
}
