using Strata.Features;
using Strata.Features.Definitions;

namespace Strata.Tests.Features.Aggregation;

/// <summary>
/// Windowed aggregates the obvious way, as the reference: for each entity row scan every event, keep those with the same
/// key and <c>t − window &lt; ts ≤ t</c>, and aggregate them through boxed values.
/// </summary>
internal static class NaiveAggregation
{
    /// <summary>Values per aggregation and entity row (null = null); sums use plain double addition, so inputs must add exactly.</summary>
    public static object?[][] AsOf(Table events, FeatureViewLayout layout, IReadOnlyList<AggregationDefinition> aggregations, Table entities, string entityTs)
    {
        var keys = layout.JoinKeys.Select(k => k.Name).ToArray();
        var result = new object?[aggregations.Count][];
        var ts = events[layout.EventTimestampColumn];
        var created = layout.CreatedTimestampColumn is { } c ? events[c] : null;
        for (var a = 0; a < aggregations.Count; a++)
        {
            var agg = aggregations[a];
            var window = agg.Window.Ticks / 10;
            result[a] = new object?[entities.RowCount];
            for (var i = 0; i < entities.RowCount; i++)
            {
                var t = entities[entityTs].IsNull(i) ? (long?)null : (long)((Column<long>)entities[entityTs]).Values[i];
                if (t is null || keys.Any(k => entities[k].IsNull(i)))
                {
                    continue;
                }

                var rows = Enumerable.Range(0, events.RowCount)
                    .Where(r => !ts.IsNull(r) && keys.All(k => !events[k].IsNull(r) && Equals(events[k].GetValue(r), entities[k].GetValue(i))))
                    .Select(r => (Row: r, Ts: ((Column<long>)ts).Values[r], Created: created is null || created.IsNull(r) ? long.MinValue : ((Column<long>)created).Values[r]))
                    .Where(e => e.Ts <= t && e.Ts > t - window)
                    .OrderBy(e => e.Ts).ThenBy(e => e.Created).ThenBy(e => e.Row)
                    .ToList();
                var inputs = agg.Column is null ? [] : rows.Select(e => events[agg.Column].GetValue(e.Row)).Where(v => v is not null).ToList();
                var numbers = agg.Function == AggregationFunction.Last ? [] : inputs.Select(v => Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture)).ToList();
                result[a][i] = agg.Function switch
                {
                    AggregationFunction.Count => (long)rows.Count,
                    AggregationFunction.Sum => numbers.Sum() + 0.0,
                    AggregationFunction.Mean => numbers.Count == 0 ? null : (numbers.Sum() + 0.0) / numbers.Count,
                    AggregationFunction.Min => numbers.Count == 0 ? null : numbers.Min(),
                    AggregationFunction.Max => numbers.Count == 0 ? null : numbers.Max(),
                    _ => inputs.Count == 0 ? null : inputs[^1],
                };
            }
        }

        return result;
    }
}
