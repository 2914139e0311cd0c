namespace Strata.Features.PointInTime;

/// <summary>
/// Feast's get_historical_features on in-memory tables: for every entity row and every feature view, the feature values
/// that were known at the entity's timestamp, so training data never sees the future.
/// </summary>
/// <remarks>
/// <para>
/// For an entity row with keys <c>k</c> and timestamp <c>t</c>, a view contributes the row with key <c>k</c> and
/// <c>t - ttl &lt;= event_ts &lt;= t</c> (both ends inclusive, as Feast's offline stores and pandas' merge_asof
/// tolerance do) with the largest event time; ties go to the larger created time (a null created time is older than
/// any other), then to the row that comes later in the view's input order. No such row gives nulls. A null key, a null
/// entity timestamp or a view row with a null event time never matches.
/// </para>
/// <para>
/// Output: the entity columns as they are (labels included, same row order), then each view's features in the order
/// asked for, named <c>feature</c> or <c>view__feature</c>.
/// </para>
/// <para>
/// How: each view's keys are hashed into dense ids, its rows counting-sorted by id and sorted by time within an id;
/// each entity row then binary-searches its id's run and keeps a row index (-1 for none), and every output column is
/// one gather through those indices. A single integer or string key spanning a small range is its own id (no hashing). Feature values of rows whose event time is after the entity's are never read.
/// </para>
/// </remarks>
public static class PointInTimeJoin
{
    /// <summary>Joins the views' features onto the entity rows as of each row's timestamp.</summary>
    /// <exception cref="StrataException">A column is missing or has the wrong type, or two output columns share a name.</exception>
    public static Table Join(
        Table entities,
        string entityTimestamp,
        IReadOnlyList<FeatureViewSource> views,
        PointInTimeJoinOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentException.ThrowIfNullOrEmpty(entityTimestamp);
        ArgumentNullException.ThrowIfNull(views);
        options ??= new PointInTimeJoinOptions();
        var degree = Math.Max(1, options.MaxDegreeOfParallelism);

        // Plan first: every check and the output schema before any work is spent.
        var entityTs = TimestampColumn(entities, entityTimestamp, "entity table");
        var plans = new ViewPlan[views.Count];
        var fields = new List<Field>(entities.Schema);
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in entities.Schema)
        {
            owners[field.Name] = "an entity column";
        }

        for (var v = 0; v < views.Count; v++)
        {
            plans[v] = Plan(entities, views[v]);
            foreach (var feature in views[v].Features)
            {
                var name = options.FullFeatureNames ? $"{views[v].Name}__{feature}" : feature;
                if (owners.TryGetValue(name, out var owner))
                {
                    throw new StrataException(
                        ErrorCodes.SchemaInvalid,
                        $"output column '{name}' of feature view '{views[v].Name}' has the same name as {owner}; "
                        + (options.FullFeatureNames ? "rename one of them" : "use full feature names or rename one of them"));
                }

                owners[name] = $"feature '{feature}' of feature view '{views[v].Name}'";
                fields.Add(views[v].Rows.Schema[feature].WithName(name).WithNullable(true));
            }
        }

        var columns = new List<Column>(entities.Columns);
        for (var v = 0; v < plans.Length; v++)
        {
            var take = Match(entities, entityTs, plans[v], degree);
            var matches = Gather.Match(take);
            var features = views[v].Features;
            var gathered = new Column[features.Count];
            Parallel.For(
                0,
                features.Count,
                new ParallelOptions { MaxDegreeOfParallelism = degree },
                f => gathered[f] = Gather.Take(views[v].Rows[features[f]], take, matches));
            columns.AddRange(gathered);
        }

        return new Table(new Schema(fields), columns);
    }

    private sealed record ViewPlan(
        FeatureViewSource View,
        Column[] ViewKeys,
        Column[] EntityKeys,
        Column<long> EventTs,
        Column<long>? CreatedTs,
        long TtlMicros);

    private static ViewPlan Plan(Table entities, FeatureViewSource view)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentException.ThrowIfNullOrEmpty(view.Name);
        ArgumentNullException.ThrowIfNull(view.Rows);
        ArgumentNullException.ThrowIfNull(view.JoinKeys);
        ArgumentNullException.ThrowIfNull(view.Features);
        var what = $"feature view '{view.Name}'";
        if (view.JoinKeys.Count == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{what} has no join keys");
        }

        var entityKeyNames = view.EntityKeys ?? view.JoinKeys;
        if (entityKeyNames.Count != view.JoinKeys.Count)
        {
            throw new StrataException(
                ErrorCodes.ArgumentInvalid,
                $"{what} has {view.JoinKeys.Count} join key(s) but {entityKeyNames.Count} entity key(s) are mapped to them");
        }

        var viewKeys = new Column[view.JoinKeys.Count];
        var entityKeys = new Column[view.JoinKeys.Count];
        for (var k = 0; k < viewKeys.Length; k++)
        {
            viewKeys[k] = ColumnOf(view.Rows, view.JoinKeys[k], what);
            entityKeys[k] = ColumnOf(entities, entityKeyNames[k], "entity table");
            if (viewKeys[k].Type is not (DataType.Bool or DataType.Int32 or DataType.Int64 or DataType.String or DataType.Timestamp))
            {
                throw new StrataException(
                    ErrorCodes.DataUnsupported,
                    $"join key '{view.JoinKeys[k]}' of {what} is {viewKeys[k].Type.Name()}; keys are bool, int32, int64, string or timestamp");
            }

            if (viewKeys[k].Type != entityKeys[k].Type)
            {
                throw new StrataException(
                    ErrorCodes.DataType,
                    $"join key '{view.JoinKeys[k]}' of {what} is {viewKeys[k].Type.Name()} but entity column '{entityKeyNames[k]}' is {entityKeys[k].Type.Name()}");
            }
        }

        var eventTs = TimestampColumn(view.Rows, view.EventTimestamp, what);
        var createdTs = view.CreatedTimestamp is { } created ? TimestampColumn(view.Rows, created, what) : null;
        foreach (var feature in view.Features)
        {
            ColumnOf(view.Rows, feature, what);
        }

        var ttl = view.Ttl ?? TimeSpan.Zero;
        if (ttl < TimeSpan.Zero)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{what} has a negative TTL ({ttl})");
        }

        // Zero means no limit; a TTL below a microsecond still keeps rows at exactly the entity's time.
        var ttlMicros = ttl == TimeSpan.Zero ? long.MaxValue : ttl.Ticks / TimeSpan.TicksPerMicrosecond;
        return new ViewPlan(view, viewKeys, entityKeys, eventTs, createdTs, ttlMicros);
    }

    private static Column ColumnOf(Table table, string name, string what)
    {
        ArgumentNullException.ThrowIfNull(name);
        var index = table.Schema.TryIndexOf(name);
        return index >= 0
            ? table[index]
            : throw new StrataException(ErrorCodes.NotFound, $"{what} has no column '{name}' (columns: {string.Join(", ", table.Schema.Names)})");
    }

    private static Column<long> TimestampColumn(Table table, string? name, string what)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{what} names no timestamp column");
        }

        var index = table.Schema.TryIndexOf(name);
        if (index < 0)
        {
            throw new StrataException(
                ErrorCodes.NotFound,
                $"{what} has no timestamp column '{name}' (columns: {string.Join(", ", table.Schema.Names)})");
        }

        return table[index] is Column<long> { Type: DataType.Timestamp } column
            ? column
            : throw new StrataException(ErrorCodes.DataType, $"column '{name}' of the {what} is {table[index].Type.Name()}, not timestamp");
    }

    /// <summary>For every entity row, the view row it takes its features from, or -1.</summary>
    private static int[] Match(Table entities, Column<long> entityTs, ViewPlan plan, int degree)
    {
        var viewIds = new int[plan.View.Rows.RowCount];
        MarkNulls(plan.EventTs, viewIds);
        (viewIds, var map) = KeyIds.Build(plan.ViewKeys, viewIds, degree);
        var entityIds = new int[entities.RowCount];
        MarkNulls(entityTs, entityIds);
        map.Find(plan.EntityKeys, plan.ViewKeys, entityIds, degree);

        var history = History.Build(viewIds, map.IdCount, plan.EventTs, plan.CreatedTs, entityIds, degree);
        var take = GC.AllocateUninitializedArray<int>(entities.RowCount);
        history.Lookup(entityTs, plan.TtlMicros, take, degree);
        return take;
    }

    /// <summary>Sets -1 where the timestamp is null, so the row never takes part.</summary>
    private static void MarkNulls(Column<long> timestamps, int[] ids)
    {
        if (timestamps.ValidityBits is not { } bits || timestamps.NullCount == 0)
        {
            return;
        }

        var offset = timestamps.ValidityOffset;
        for (var r = 0; r < ids.Length; r++)
        {
            if (!Bitmap.Get(bits, offset + r))
            {
                ids[r] = -1;
            }
        }
    }
}
