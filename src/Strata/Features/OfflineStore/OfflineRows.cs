using Strata.Features.PointInTime;
using Strata.Stores;

namespace Strata.Features.OfflineStore;

/// <summary>The checks and conversions both offline backends share, so they refuse and accept exactly the same input.</summary>
internal static class OfflineRows
{
    /// <summary>
    /// What a stored view's data depends on: which columns are keys and timestamps, and every column's name and type.
    /// The TTL is left out: it changes how rows are read, not how they are stored.
    /// </summary>
    public static string Signature(FeatureViewLayout view) =>
        $"keys={string.Join(",", view.JoinKeys.Select(k => k.Name))};event={view.EventTimestampColumn};created={view.CreatedTimestampColumn ?? ""};"
        + $"columns={string.Join(",", view.Schema.Select(f => $"{f.Name}:{f.Type.Name()}"))}";

    /// <summary>Checks a view's name before it names a folder or a table.</summary>
    public static string CheckName(FeatureViewLayout view)
    {
        ArgumentNullException.ThrowIfNull(view);
        return Names.Check("feature view", view.Name);
    }

    /// <summary>Refuses a stored signature that differs from the layout asked for.</summary>
    public static void CheckSignature(FeatureViewLayout view, string stored)
    {
        var asked = Signature(view);
        if (!string.Equals(stored, asked, StringComparison.Ordinal))
        {
            throw new StrataException(
                ErrorCodes.Conflict,
                $"feature view '{view.Name}' is stored with layout [{stored}] but was asked for with layout [{asked}]; "
                + "a changed view needs a new name or a backfill into a fresh store");
        }
    }

    /// <summary>Checks rows against the layout (names, types, no null keys or event times, no NUL in text) and gives them the layout's schema.</summary>
    public static Table Check(FeatureViewLayout view, Table rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (!rows.Schema.HasSameLayout(view.Schema))
        {
            throw new StrataException(
                ErrorCodes.SchemaInvalid,
                $"rows for feature view '{view.Name}' have columns {rows.Schema} but the view needs {view.Schema}");
        }

        for (var c = 0; c < view.Schema.Count; c++)
        {
            if (!view.Schema[c].Nullable && rows[c].HasNulls)
            {
                throw new StrataException(
                    ErrorCodes.DataNull,
                    $"column '{view.Schema[c].Name}' of rows for feature view '{view.Name}' holds {rows[c].NullCount} null(s); keys and timestamps must not be null");
            }

            if (FeatureText.FirstNul(rows[c]) is var nul and >= 0)
            {
                throw FeatureText.Refused($"rows for feature view '{view.Name}': column '{view.Schema[c].Name}' row {nul}");
            }
        }

        return rows.WithSchema(view.Schema);
    }

    /// <summary>
    /// Checks every part of a many-view append (<see cref="CheckName"/>, <see cref="Check"/>) and orders them by view
    /// name, the one order in which appends take views' locks, so two of them never wait on each other in a cycle.
    /// </summary>
    /// <exception cref="ArgumentException">A view appears twice.</exception>
    public static OfflineAppend[] CheckAll(IReadOnlyList<OfflineAppend> appends)
    {
        ArgumentNullException.ThrowIfNull(appends);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var result = new OfflineAppend[appends.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var append = appends[i] ?? throw new ArgumentException("an append is null", nameof(appends));
            if (!names.Add(CheckName(append.View)))
            {
                throw new ArgumentException($"feature view '{append.View.Name}' appears twice in one append", nameof(appends));
            }

            result[i] = append with { Rows = Check(append.View, append.Rows) };
        }

        Array.Sort(result, (a, b) => string.CompareOrdinal(a.View.Name, b.View.Name));
        return result;
    }

    /// <summary>Checks that the requested features exist.</summary>
    public static void CheckRequest(HistoricalFeatureRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        CheckName(request.View);
        ArgumentNullException.ThrowIfNull(request.Features);
        foreach (var feature in request.Features)
        {
            request.View.FeatureIndex(feature);
        }
    }

    /// <summary>
    /// Refuses an entity key with a NUL: no stored row can hold one, and PostgreSQL could not take it in the entity rows it
    /// joins on, so both backends refuse it rather than one answering nulls and the other failing.
    /// </summary>
    public static void CheckEntityKeys(Table entities, IReadOnlyList<HistoricalFeatureRequest> views)
    {
        ArgumentNullException.ThrowIfNull(entities);
        foreach (var name in views.SelectMany(r => r.EntityKeys ?? r.View.JoinKeys.Select(k => k.Name).ToArray()).Distinct(StringComparer.Ordinal))
        {
            if (entities.Schema.TryIndexOf(name) is var index and >= 0 && FeatureText.FirstNul(entities[index]) is var row and >= 0)
            {
                throw FeatureText.Refused($"entity row {row}: join key '{name}'");
            }
        }
    }

    /// <summary>The point-in-time join's view of stored rows.</summary>
    public static FeatureViewSource Source(HistoricalFeatureRequest request, Table rows) =>
        new(request.View.Name, rows, request.View.JoinKeys.Select(k => k.Name).ToArray(), request.View.EventTimestampColumn, request.Features)
        {
            CreatedTimestamp = request.View.CreatedTimestampColumn,
            Ttl = request.View.Ttl,
            EntityKeys = request.EntityKeys,
        };

    /// <summary>The smallest and largest non-null entity timestamps, or null when there are none.</summary>
    public static (long Min, long Max)? EntityRange(Table entities, string entityTimestamp)
    {
        var index = entities.Schema.TryIndexOf(entityTimestamp);
        if (index < 0 || entities[index] is not Column<long> { Type: DataType.Timestamp } ts)
        {
            return null; // the join itself reports the missing or mistyped column
        }

        long min = long.MaxValue, max = long.MinValue;
        var values = ts.Values;
        for (var i = 0; i < values.Length; i++)
        {
            if (ts.IsValid(i))
            {
                min = Math.Min(min, values[i]);
                max = Math.Max(max, values[i]);
            }
        }

        return min <= max ? (min, max) : null;
    }

    /// <summary>The earliest event time that can matter to an entity at <paramref name="min"/> (saturating).</summary>
    public static long Lowest(FeatureViewLayout view, long min) =>
        view.Ttl == TimeSpan.Zero ? long.MinValue : (min < long.MinValue + view.TtlMicros ? long.MinValue : min - view.TtlMicros);
}
