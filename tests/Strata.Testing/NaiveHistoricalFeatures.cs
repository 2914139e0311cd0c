using Strata.Features;

namespace Strata.Testing;

/// <summary>
/// The offline store's point-in-time join written the slow, obvious way (for each entity row, scan every stored row), as
/// the reference both backends must agree with. Rows are the view's appends concatenated in append order.
/// </summary>
public static class NaiveHistoricalFeatures
{
    /// <summary>One view's stored rows and what to take from it.</summary>
    public sealed record Source(FeatureViewLayout View, Table Rows, IReadOnlyList<string> Features, IReadOnlyList<string>? EntityKeys = null);

    public static Table Join(Table entities, string entityTimestamp, IReadOnlyList<Source> views, bool fullFeatureNames)
    {
        var names = new List<string>(entities.Schema.Names);
        var columns = new List<Column>(entities.Columns);
        var entityTs = entities.GetColumn<long>(entityTimestamp);
        foreach (var source in views)
        {
            var view = source.View;
            var entityKeys = (source.EntityKeys ?? view.JoinKeys.Select(k => k.Name).ToArray()).Select(k => entities[k]).ToArray();
            var viewKeys = view.JoinKeys.Select(k => source.Rows[k.Name]).ToArray();
            var eventTs = source.Rows.GetColumn<long>(view.EventTimestampColumn);
            var createdTs = view.CreatedTimestampColumn is { } c ? source.Rows.GetColumn<long>(c) : null;
            long? ttl = view.Ttl > TimeSpan.Zero ? view.Ttl.Ticks / TimeSpan.TicksPerMicrosecond : null;

            var take = new int[entities.RowCount];
            for (var i = 0; i < entities.RowCount; i++)
            {
                take[i] = -1;
                if (entityTs.IsNull(i) || entityKeys.Any(k => k.IsNull(i)))
                {
                    continue;
                }

                var t = entityTs[i];
                (long Event, long Created) best = default;
                for (var r = 0; r < source.Rows.RowCount; r++)
                {
                    if (!Enumerable.Range(0, viewKeys.Length).All(k => Equals(viewKeys[k].GetValue(r), entityKeys[k].GetValue(i))))
                    {
                        continue;
                    }

                    var e = eventTs[r];
                    if (e > t || (ttl is { } limit && (Int128)e < (Int128)t - limit))
                    {
                        continue;
                    }

                    var created = createdTs is null || createdTs.IsNull(r) ? long.MinValue : createdTs[r];
                    if (take[i] < 0 || (e, created).CompareTo(best) >= 0) // >=: a later row wins a full tie
                    {
                        take[i] = r;
                        best = (e, created);
                    }
                }
            }

            foreach (var feature in source.Features)
            {
                var values = source.Rows[feature];
                var builder = ColumnBuilder.Create(values.Type, entities.RowCount);
                foreach (var r in take)
                {
                    builder.AppendObject(r < 0 ? null : values.GetValue(r));
                }

                names.Add(fullFeatureNames ? $"{view.Name}__{feature}" : feature);
                columns.Add(builder.Build());
            }
        }

        return Table.From(names.Zip(columns).ToArray());
    }
}
