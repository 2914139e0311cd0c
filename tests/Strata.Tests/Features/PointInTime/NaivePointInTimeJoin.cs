using Strata.Features.PointInTime;

namespace Strata.Tests.Features.PointInTime;

/// <summary>
/// The point-in-time join written the obvious way, row by row through boxed values, as the reference the engine must
/// agree with: for each entity row and view, scan the view rows with the same key and keep the best eligible one.
/// </summary>
internal static class NaivePointInTimeJoin
{
    public static Table Join(Table entities, string entityTimestamp, IReadOnlyList<FeatureViewSource> views, bool fullFeatureNames)
    {
        var names = new List<string>(entities.Schema.Names);
        var columns = new List<Column>(entities.Columns);
        var entityTs = entities.GetColumn<long>(entityTimestamp);
        foreach (var view in views)
        {
            var entityKeys = (view.EntityKeys ?? view.JoinKeys).Select(k => entities[k]).ToArray();
            var viewKeys = view.JoinKeys.Select(k => view.Rows[k]).ToArray();
            var eventTs = view.Rows.GetColumn<long>(view.EventTimestamp);
            var createdTs = view.CreatedTimestamp is { } c ? view.Rows.GetColumn<long>(c) : null;
            var ttl = view.Ttl is { } span && span > TimeSpan.Zero ? span.Ticks / TimeSpan.TicksPerMicrosecond : (long?)null;

            var groups = new Dictionary<string, List<int>>(StringComparer.Ordinal);
            for (var r = 0; r < view.Rows.RowCount; r++)
            {
                if (KeyOf(viewKeys, r) is { } key)
                {
                    if (!groups.TryGetValue(key, out var list))
                    {
                        groups[key] = list = [];
                    }

                    list.Add(r);
                }
            }

            var take = new int[entities.RowCount];
            for (var i = 0; i < entities.RowCount; i++)
            {
                take[i] = -1;
                if (entityTs.IsNull(i) || KeyOf(entityKeys, i) is not { } key || !groups.TryGetValue(key, out var candidates))
                {
                    continue;
                }

                var t = entityTs[i];
                (long Event, long Created) best = default;
                foreach (var r in candidates)
                {
                    if (eventTs.IsNull(r))
                    {
                        continue;
                    }

                    var e = eventTs[r];
                    if (e > t || (ttl is { } limit && (Int128)e < (Int128)t - limit))
                    {
                        continue;
                    }

                    var created = createdTs is null || createdTs.IsNull(r) ? long.MinValue : createdTs[r];
                    // Rows come in input order, so >= lets a later row win a full tie.
                    if (take[i] < 0 || (e, created).CompareTo(best) >= 0)
                    {
                        take[i] = r;
                        best = (e, created);
                    }
                }
            }

            foreach (var feature in view.Features)
            {
                var source = view.Rows[feature];
                var builder = ColumnBuilder.Create(source.Type, entities.RowCount);
                foreach (var r in take)
                {
                    builder.AppendObject(r < 0 ? null : source.GetValue(r));
                }

                names.Add(fullFeatureNames ? $"{view.Name}__{feature}" : feature);
                columns.Add(builder.Build());
            }
        }

        return Table.From(names.Zip(columns).ToArray());
    }

    private static string? KeyOf(Column[] keys, int row)
    {
        var parts = new string[keys.Length];
        for (var k = 0; k < keys.Length; k++)
        {
            if (keys[k].GetValue(row) is not { } value)
            {
                return null;
            }

            parts[k] = value is DateTime d
                ? d.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture)
                : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!;
        }

        return string.Join('\u001f', parts);
    }
}
