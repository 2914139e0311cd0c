using Strata.Features.Definitions;

namespace Strata.Features;

/// <summary>
/// Checks pushed or ingested rows against what a source declares and cuts them to a view's stored layout, so a bad push
/// is refused, naming the column, before anything is written.
/// </summary>
internal static class PushSchema
{
    /// <summary>The rows in the source's declared column order; refused when a column is missing, extra or of another type.</summary>
    public static Table Conform(SourceDefinition source, Table rows)
    {
        var declared = source.Schema!;
        var missing = declared.Names.Where(n => !rows.Schema.Contains(n)).ToArray();
        var extra = rows.Schema.Names.Where(n => !declared.Contains(n)).ToArray();
        if (missing.Length > 0 || extra.Length > 0)
        {
            var problems = new List<string>();
            if (missing.Length > 0)
            {
                problems.Add($"missing column(s) {string.Join(", ", missing.Select(m => $"'{m}'"))}");
            }

            if (extra.Length > 0)
            {
                problems.Add($"unknown column(s) {string.Join(", ", extra.Select(e => $"'{e}'"))}");
            }

            throw new StrataException(ErrorCodes.SchemaInvalid, $"rows pushed to '{source.Name}' do not match its schema {declared}: {string.Join("; ", problems)}");
        }

        foreach (var field in declared)
        {
            var type = rows.Schema[field.Name].Type;
            if (type != field.Type)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"column '{field.Name}' pushed to '{source.Name}' is {type.Name()}; the source declares {field.Type.Name()}");
            }
        }

        return rows.Select(declared.Names);
    }

    /// <summary>The rows cut to a view's stored layout (keys, times, features), with its nullability checked.</summary>
    public static Table Project(Table rows, FeatureViewLayout layout, string source)
    {
        var columns = new Column[layout.Schema.Count];
        for (var i = 0; i < layout.Schema.Count; i++)
        {
            var field = layout.Schema[i];
            var index = rows.Schema.TryIndexOf(field.Name);
            if (index < 0)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"feature view '{layout.Name}' needs column '{field.Name}' ({field.Type.Name()}), which the rows of source '{source}' do not have");
            }

            if (rows[index].Type != field.Type)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"feature view '{layout.Name}' declares '{field.Name}' as {field.Type.Name()}, but source '{source}' gives {rows[index].Type.Name()}");
            }

            if (!field.Nullable && rows[index].HasNulls)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"feature view '{layout.Name}': column '{field.Name}' of source '{source}' holds {rows[index].NullCount} null(s); keys and event times must not be null");
            }

            columns[i] = rows[index];
        }

        return new Table(layout.Schema, columns);
    }
}
