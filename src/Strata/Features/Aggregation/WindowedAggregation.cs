using Strata.Features.Definitions;
using Strata.Features.PointInTime;

namespace Strata.Features.Aggregation;

/// <summary>
/// Windowed aggregates of events as of each entity row's timestamp, for training sets: the batch side of aggregation views,
/// giving bit for bit what <see cref="Streaming.StreamingAggregator"/> serves for the same events at the same instant.
/// </summary>
/// <remarks>
/// <para>
/// Window: the value for key k as of instant t covers k's events with <c>t − window &lt; event_ts ≤ t</c> (start
/// exclusive, end inclusive). Events with a null key or null event time never aggregate; an entity row with a null key or
/// timestamp gets nulls everywhere.
/// </para>
/// <para>
/// Functions: count counts events (null inputs included) and is 0 for an empty window. Sum adds the non-null inputs and is
/// 0 when there are none; it is the exact sum rounded once to the nearest double (ties to even), so it does not depend on
/// the order of the events, and an exact zero is +0. Mean is that sum divided by the number of non-null inputs, null when
/// there are none. Min and max are null when there are no non-null inputs and order -0 below +0. A NaN input makes sum,
/// mean, min and max NaN; infinities add as IEEE does (both signs give NaN). Int64 inputs beyond 2^53 are first rounded to
/// the nearest double. Last is the non-null input of the newest event (ties in event time: greater created time, a null
/// created time being the oldest, then the later row of <c>events</c>), null when there is none.
/// </para>
/// <para>
/// How: keys become dense ids; events and entity rows are grouped by id and sorted by time; each aggregate then slides a
/// window over each key's events as its entity rows advance in time: every event enters and leaves once. Sums use an exact
/// accumulator (<see cref="ExactSum"/>), which makes removal exact; min and max use a monotone deque.
/// </para>
/// </remarks>
public static class WindowedAggregation
{
    /// <summary>
    /// One column per aggregation (named after it), one row per entity row in the same order, each computed as of that row's
    /// <paramref name="entityTimestamp"/>. <paramref name="entityKeys"/> name the entity columns matching the layout's join
    /// keys (default: the same names).
    /// </summary>
    /// <exception cref="StrataException">A definition is invalid, or a column is missing or has the wrong type.</exception>
    public static Table AsOf(
        Table events,
        FeatureViewLayout eventsLayout,
        IReadOnlyList<AggregationDefinition> aggregations,
        Table entities,
        string entityTimestamp,
        IReadOnlyList<string>? entityKeys = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentException.ThrowIfNullOrEmpty(entityTimestamp);
        var plan = AggregationPlan.Resolve(eventsLayout, aggregations);
        const string EventsWhat = "events table";
        const string EntityWhat = "entity table";

        var keyNames = entityKeys ?? eventsLayout.JoinKeys.Select(k => k.Name).ToArray();
        if (keyNames.Count != eventsLayout.JoinKeys.Count)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"'{eventsLayout.Name}' has {eventsLayout.JoinKeys.Count} join key(s) but {keyNames.Count} entity key(s) were given");
        }

        var eventKeys = new Column[keyNames.Count];
        var entityKeyColumns = new Column[keyNames.Count];
        for (var k = 0; k < eventKeys.Length; k++)
        {
            var key = eventsLayout.JoinKeys[k];
            eventKeys[k] = AggregationPlan.Column(events, key.Name, key.Type, EventsWhat);
            entityKeyColumns[k] = AggregationPlan.Column(entities, keyNames[k], key.Type, EntityWhat);
        }

        var eventTs = (Column<long>)AggregationPlan.Column(events, eventsLayout.EventTimestampColumn, DataType.Timestamp, EventsWhat);
        var createdTs = eventsLayout.CreatedTimestampColumn is { } created
            ? (Column<long>)AggregationPlan.Column(events, created, DataType.Timestamp, EventsWhat)
            : null;
        var entityTs = (Column<long>)AggregationPlan.Column(entities, entityTimestamp, DataType.Timestamp, EntityWhat);
        var inputs = new Dictionary<string, Column>(StringComparer.Ordinal);
        foreach (var a in plan)
        {
            if (a.Input is { } input && !inputs.ContainsKey(input))
            {
                inputs[input] = AggregationPlan.Column(events, input, a.InputType!.Value, EventsWhat);
            }
        }

        var degree = Math.Max(1, Environment.ProcessorCount);
        var eventIds = new int[events.RowCount];
        MarkNulls(eventTs, eventIds);
        (eventIds, var map) = KeyIds.Build(eventKeys, eventIds, degree);
        var entityIds = new int[entities.RowCount];
        MarkNulls(entityTs, entityIds);
        var usable = new bool[entities.RowCount];
        for (var i = 0; i < usable.Length; i++)
        {
            usable[i] = entityIds[i] == 0;
            foreach (var key in entityKeyColumns)
            {
                usable[i] &= !key.IsNull(i);
            }
        }

        map.Find(entityKeyColumns, eventKeys, entityIds, degree);
        var keyCount = map.IdCount;

        var (starts, order) = Group(eventIds, keyCount);
        var (entityStarts, entityOrder) = Group(entityIds, keyCount);
        var times = new long[order.Length];
        var entityTimes = new long[entityOrder.Length];
        var tie = new TieOrder(createdTs);
        Ranges.For(keyCount, degree, (from, to) =>
        {
            for (var k = from; k < to; k++)
            {
                int s = starts[k], e = starts[k + 1];
                for (var p = s; p < e; p++)
                {
                    times[p] = eventTs.Buffer[eventTs.BufferOffset + order[p]];
                }

                SortRun(times.AsSpan(s, e - s), order.AsSpan(s, e - s), tie);
                int es = entityStarts[k], ee = entityStarts[k + 1];
                for (var p = es; p < ee; p++)
                {
                    entityTimes[p] = entityTs.Buffer[entityTs.BufferOffset + entityOrder[p]];
                }

                entityTimes.AsSpan(es, ee - es).Sort(entityOrder.AsSpan(es, ee - es));
            }
        });

        // Numeric inputs in sorted position order, so each sweep reads memory sequentially.
        var doubles = new Dictionary<string, (double[] Values, bool[]? Present)>(StringComparer.Ordinal);
        foreach (var a in plan)
        {
            if (a.Function is not (AggregationFunction.Count or AggregationFunction.Last) && !doubles.ContainsKey(a.Input!))
            {
                var source = inputs[a.Input!];
                var byRow = AggregationPlan.ToDoubles(source);
                var values = new double[order.Length];
                var present = source.NullCount > 0 ? new bool[order.Length] : null;
                Ranges.For(order.Length, degree, (from, to) =>
                {
                    for (var p = from; p < to; p++)
                    {
                        values[p] = byRow[order[p]];
                        if (present is not null)
                        {
                            present[p] = !source.IsNull(order[p]);
                        }
                    }
                });
                doubles[a.Input!] = (values, present);
            }
        }

        var keys = new Sweep.Keys(starts, order, times, entityStarts, entityOrder, entityTimes);
        var fields = new Field[plan.Length];
        var columns = new Column[plan.Length];
        for (var a = 0; a < plan.Length; a++)
        {
            var aggregation = plan[a];
            fields[a] = new Field(aggregation.Definition.Name, aggregation.OutputType, nullable: true);
            columns[a] = aggregation.Function switch
            {
                AggregationFunction.Count => Sweep.Count(keys, aggregation.WindowMicros, usable, degree),
                AggregationFunction.Last => Gather.Take(inputs[aggregation.Input!], Sweep.Last(keys, aggregation.WindowMicros, inputs[aggregation.Input!], entities.RowCount, degree)),
                _ => Sweep.Numeric(keys, aggregation, doubles[aggregation.Input!].Values, doubles[aggregation.Input!].Present, usable, degree),
            };
        }

        return new Table(new Schema(fields), columns);
    }

    private static void MarkNulls(Column<long> timestamps, int[] ids)
    {
        if (timestamps.NullCount == 0)
        {
            return;
        }

        for (var r = 0; r < ids.Length; r++)
        {
            if (timestamps.IsNull(r))
            {
                ids[r] = -1;
            }
        }
    }

    /// <summary>A stable counting sort of row numbers by id (rows at -1 left out).</summary>
    private static (int[] Starts, int[] Rows) Group(int[] ids, int keyCount)
    {
        var starts = new int[keyCount + 1];
        foreach (var id in ids)
        {
            if (id >= 0)
            {
                starts[id + 1]++;
            }
        }

        for (var k = 0; k < keyCount; k++)
        {
            starts[k + 1] += starts[k];
        }

        var cursor = starts.AsSpan(0, keyCount).ToArray();
        var rows = new int[starts[keyCount]];
        for (var r = 0; r < ids.Length; r++)
        {
            var id = ids[r];
            if (id >= 0)
            {
                rows[cursor[id]++] = r;
            }
        }

        return (starts, rows);
    }

    /// <summary>Sorts one key's events by (event time, created time, input position).</summary>
    private static void SortRun(Span<long> times, Span<int> rows, TieOrder tie)
    {
        if (times.Length < 2)
        {
            return;
        }

        var sorted = true;
        for (var i = 1; i < times.Length && sorted; i++)
        {
            sorted = times[i] >= times[i - 1];
        }

        if (!sorted)
        {
            times.Sort(rows);
        }
        else if (!tie.HasCreated)
        {
            return; // counting-sorted, so already in input order within equal times
        }

        for (var i = 0; i < times.Length;)
        {
            var j = i + 1;
            while (j < times.Length && times[j] == times[i])
            {
                j++;
            }

            if (j - i > 1)
            {
                rows[i..j].Sort(tie);
            }

            i = j;
        }
    }

    /// <summary>Orders events with the same event time: older created time first (null oldest), then input order.</summary>
    private readonly struct TieOrder(Column<long>? created) : IComparer<int>
    {
        public bool HasCreated => created is not null;

        public int Compare(int x, int y)
        {
            if (created is not null)
            {
                var c = Created(x).CompareTo(Created(y));
                if (c != 0)
                {
                    return c;
                }
            }

            return x.CompareTo(y);
        }

        private long Created(int row) => created!.IsNull(row) ? long.MinValue : created.Values[row];
    }
}
