using Strata.Features.Aggregation;
using Strata.Features.Definitions;

namespace Strata.Features.Streaming;

/// <summary>
/// Keeps windowed aggregates up to date as events are pushed, for serving: per entity the events within the largest window
/// of its newest event, and after each push the touched entities' aggregates as of their newest event — equal, bit for
/// bit, to what <see cref="WindowedAggregation.AsOf"/> computes from the same events at the same instant.
/// </summary>
/// <remarks>
/// Window and function semantics are those of <see cref="WindowedAggregation"/>. An event at or before an entity's
/// newest event time minus the largest window can no longer change any value served from now on, so it is dropped; a late
/// event inside that horizon is inserted in time order and the windows recomputed. "Input order" for ties is push order.
/// Every method may be called from several threads; calls are serialized by one lock per aggregator.
/// </remarks>
public sealed class StreamingAggregator
{
    private readonly Lock _gate = new();
    private readonly FeatureViewLayout _eventsLayout;
    private readonly FeatureViewLayout _onlineLayout;
    private readonly ResolvedAggregation[] _plan;
    private readonly string[] _inputs;
    private readonly int[] _inputOf;
    private readonly int[] _featureOf;
    private readonly long _horizon;
    private readonly Dictionary<EntityKey, EntityState> _entities = [];
    private long _sequence;

    /// <summary>Creates an aggregator for events of <paramref name="eventsLayout"/> producing rows of <paramref name="onlineLayout"/>.</summary>
    /// <exception cref="StrataException">The aggregations or layouts do not fit together.</exception>
    public StreamingAggregator(FeatureViewLayout eventsLayout, IReadOnlyList<AggregationDefinition> aggregations, FeatureViewLayout onlineLayout)
    {
        ArgumentNullException.ThrowIfNull(onlineLayout);
        _plan = AggregationPlan.Resolve(eventsLayout, aggregations);
        _eventsLayout = eventsLayout;
        _onlineLayout = onlineLayout;
        var what = $"online layout '{onlineLayout.Name}'";
        if (onlineLayout.JoinKeys.Count != eventsLayout.JoinKeys.Count
            || onlineLayout.JoinKeys.Zip(eventsLayout.JoinKeys).Any(p => p.First.Name != p.Second.Name || p.First.Type != p.Second.Type))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"{what}: join keys differ from the events' ({string.Join(", ", eventsLayout.JoinKeys)})");
        }

        if (onlineLayout.CreatedTimestampColumn is not null && eventsLayout.CreatedTimestampColumn is null)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"{what} has a created time but the events have none");
        }

        _featureOf = new int[onlineLayout.Features.Count];
        if (_featureOf.Length != _plan.Length)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"{what} has {_featureOf.Length} feature(s) but there are {_plan.Length} aggregation(s)");
        }

        for (var f = 0; f < _featureOf.Length; f++)
        {
            var feature = onlineLayout.Features[f];
            var a = Array.FindIndex(_plan, p => p.Definition.Name == feature.Name);
            if (a < 0 || _plan[a].OutputType != feature.Type)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"{what}: feature '{feature}' matches no aggregation of that name and type");
            }

            _featureOf[f] = a;
        }

        _inputs = _plan.Where(p => p.Input is not null).Select(p => p.Input!).Distinct(StringComparer.Ordinal).ToArray();
        _inputOf = _plan.Select(p => p.Input is null ? -1 : Array.IndexOf(_inputs, p.Input)).ToArray();
        _horizon = _plan.Length == 0 ? 1 : _plan.Max(p => p.WindowMicros);
    }

    /// <summary>Number of entities with state.</summary>
    public int EntityCount
    {
        get
        {
            lock (_gate)
            {
                return _entities.Count;
            }
        }
    }

    /// <summary>
    /// Adds a batch of events (columns of the events layout, by name) and returns, for each entity the batch touched (in order
    /// of first appearance), one row of the online layout: its aggregates as of its newest event time. Rows with a null key
    /// or event time are ignored.
    /// </summary>
    /// <exception cref="StrataException">A column is missing or has the wrong type.</exception>
    public Table Apply(Table events)
    {
        var batch = Read(events);
        lock (_gate)
        {
            var touched = Ingest(batch);
            return Output(touched);
        }
    }

    /// <summary>
    /// Replaces the state with the one the stored events give (after a restart): the tables in the order they were pushed.
    /// </summary>
    /// <exception cref="StrataException">A column is missing or has the wrong type.</exception>
    public void Restore(IEnumerable<Table> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var batches = history.Select(Read).ToArray();
        lock (_gate)
        {
            _entities.Clear();
            _sequence = 0;
            foreach (var batch in batches)
            {
                Ingest(batch);
            }
        }
    }

    private sealed record Batch(Column[] Keys, Column<long> EventTs, Column<long>? CreatedTs, Column[] Inputs, int Rows);

    private Batch Read(Table events)
    {
        ArgumentNullException.ThrowIfNull(events);
        const string What = "pushed events";
        var keys = _eventsLayout.JoinKeys.Select(k => AggregationPlan.Column(events, k.Name, k.Type, What)).ToArray();
        var eventTs = (Column<long>)AggregationPlan.Column(events, _eventsLayout.EventTimestampColumn, DataType.Timestamp, What);
        var createdTs = _eventsLayout.CreatedTimestampColumn is { } c ? (Column<long>)AggregationPlan.Column(events, c, DataType.Timestamp, What) : null;
        var inputs = _inputs.Select(i => AggregationPlan.Column(events, i, _eventsLayout.Features[_eventsLayout.FeatureIndex(i)].Type, What)).ToArray();
        return new Batch(keys, eventTs, createdTs, inputs, events.RowCount);
    }

    private List<(EntityKey Key, EntityState State)> Ingest(Batch batch)
    {
        var touched = new List<(EntityKey, EntityState)>();
        for (var r = 0; r < batch.Rows; r++)
        {
            if (batch.EventTs.IsNull(r) || batch.Keys.Any(k => k.IsNull(r)))
            {
                continue;
            }

            var key = new EntityKey(batch.Keys.Select(k => k.GetValue(r)!).ToArray());
            if (!_entities.TryGetValue(key, out var state))
            {
                _entities[key] = state = new EntityState();
            }

            if (state.Touched != _sequence + batch.Rows)
            {
                // Marks the entity as touched by this batch (the sequence number after the batch is unique to it).
                state.Touched = _sequence + batch.Rows;
                touched.Add((key, state));
            }

            var created = batch.CreatedTs is { } c && !c.IsNull(r) ? c.Values[r] : long.MinValue;
            var raw = new object?[batch.Inputs.Length];
            for (var i = 0; i < raw.Length; i++)
            {
                raw[i] = Raw(batch.Inputs[i], r);
            }

            state.Insert(new Event(batch.EventTs.Values[r], created, _sequence + r, raw), _horizon);
        }

        _sequence += batch.Rows;
        return touched;
    }

    private Table Output(List<(EntityKey Key, EntityState State)> touched)
    {
        var schema = _onlineLayout.Schema;
        var builders = schema.Select(f => ColumnBuilder.Create(f.Type, touched.Count)).ToArray();
        var keyCount = _onlineLayout.JoinKeys.Count;
        var hasCreated = _onlineLayout.CreatedTimestampColumn is not null;
        var first = keyCount + (hasCreated ? 2 : 1);
        var values = new object?[_plan.Length];
        foreach (var (key, state) in touched)
        {
            for (var k = 0; k < keyCount; k++)
            {
                builders[k].AppendObject(key.Values[k]);
            }

            var newest = state.Events[^1];
            builders[keyCount].AppendObject(newest.Time);
            if (hasCreated)
            {
                builders[keyCount + 1].AppendObject(newest.Created == long.MinValue ? newest.Time : newest.Created);
            }

            for (var a = 0; a < _plan.Length; a++)
            {
                values[a] = Aggregate(_plan[a], _inputOf[a], state.Events, newest.Time);
            }

            for (var f = 0; f < _featureOf.Length; f++)
            {
                builders[first + f].AppendObject(values[_featureOf[f]]);
            }
        }

        return new Table(schema, builders.Select(b => b.Build()));
    }

    /// <summary>One aggregate over the events in (t − window, t], by the rules of <see cref="WindowedAggregation"/>.</summary>
    private static object? Aggregate(ResolvedAggregation aggregation, int input, List<Event> events, long t)
    {
        var lo = 0;
        if (t >= long.MinValue + aggregation.WindowMicros)
        {
            var lower = t - aggregation.WindowMicros;
            while (lo < events.Count && events[lo].Time <= lower)
            {
                lo++;
            }
        }

        var hi = events.Count;
        while (hi > lo && events[hi - 1].Time > t)
        {
            hi--;
        }

        switch (aggregation.Function)
        {
            case AggregationFunction.Count:
                return (long)(hi - lo);
            case AggregationFunction.Last:
                for (var p = hi - 1; p >= lo; p--)
                {
                    if (events[p].Inputs[input] is { } value)
                    {
                        return value;
                    }
                }

                return null;
        }

        var sum = default(ExactSum);
        long present = 0;
        var nan = false;
        var hasBest = false;
        var best = 0.0;
        var sign = aggregation.Function == AggregationFunction.Min ? 1 : -1;
        for (var p = lo; p < hi; p++)
        {
            if (events[p].Inputs[input] is not { } raw)
            {
                continue;
            }

            var v = ToDouble(raw);
            if (aggregation.Function is AggregationFunction.Sum or AggregationFunction.Mean)
            {
                sum.Add(v);
            }
            else if (double.IsNaN(v))
            {
                nan = true;
            }
            else if (!hasBest || sign * AggregationPlan.Compare(v, best) < 0)
            {
                best = v;
                hasBest = true;
            }

            present++;
        }

        return aggregation.Function switch
        {
            AggregationFunction.Sum => sum.ToDouble(),
            AggregationFunction.Mean => present == 0 ? null : sum.ToDouble() / present,
            _ => present == 0 ? null : nan ? double.NaN : best,
        };
    }

    private static double ToDouble(object raw) => raw switch
    {
        double d => d,
        float f => f,
        long l => l,
        int i => i,
        _ => throw new InvalidOperationException($"not a number: {raw.GetType().Name}"),
    };

    /// <summary>A row's value as its CLR type (timestamps as microseconds), or null.</summary>
    private static object? Raw(Column column, int row) => column.IsNull(row) ? null : column switch
    {
        Column<long> c => c.Values[row],
        Column<int> c => c.Values[row],
        Column<double> c => c.Values[row],
        Column<float> c => c.Values[row],
        Column<bool> c => c.Values[row],
        StringColumn c => c[row],
        _ => throw new InvalidOperationException($"unexpected column type {column.Type.Name()}"),
    };

    /// <summary>One retained event: times, push sequence number and the raw inputs.</summary>
    private sealed record Event(long Time, long Created, long Sequence, object?[] Inputs);

    /// <summary>An entity's retained events sorted by (event time, created time, push order).</summary>
    private sealed class EntityState
    {
        public List<Event> Events { get; } = [];

        public long Touched { get; set; } = -1;

        public void Insert(Event e, long horizon)
        {
            var events = Events;
            if (events.Count > 0)
            {
                var newest = events[^1].Time;
                if (newest >= long.MinValue + horizon && e.Time <= newest - horizon)
                {
                    return; // can no longer change any value served from now on
                }
            }

            // Sequence numbers only grow, so the new event goes after every event with the same (time, created).
            var position = events.Count;
            while (position > 0 && (events[position - 1].Time > e.Time || (events[position - 1].Time == e.Time && events[position - 1].Created > e.Created)))
            {
                position--;
            }

            events.Insert(position, e);
            var latest = events[^1].Time;
            if (latest >= long.MinValue + horizon)
            {
                var lower = latest - horizon;
                var evict = 0;
                while (evict < events.Count && events[evict].Time <= lower)
                {
                    evict++;
                }

                if (evict > 0)
                {
                    events.RemoveRange(0, evict);
                }
            }
        }
    }

    /// <summary>An entity's key values (int, long or string), compared by value.</summary>
    private sealed class EntityKey(object[] values) : IEquatable<EntityKey>
    {
        public object[] Values { get; } = values;

        public bool Equals(EntityKey? other) => other is not null && Values.AsSpan().SequenceEqual(other.Values);

        public override bool Equals(object? obj) => Equals(obj as EntityKey);

        public override int GetHashCode()
        {
            var hash = default(HashCode);
            foreach (var v in Values)
            {
                hash.Add(v);
            }

            return hash.ToHashCode();
        }
    }
}
