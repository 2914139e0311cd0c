namespace Strata.Features.OnlineStore;

/// <summary>A validated write: keys and rows built from a table, checked in full before anything is logged or applied.</summary>
internal sealed class WriteBatch
{
    private WriteBatch(byte[][] keys, FeatureCell[][] cells, long[] eventTimestamps, long[] createdTimestamps)
    {
        Keys = keys;
        Cells = cells;
        EventTimestamps = eventTimestamps;
        CreatedTimestamps = createdTimestamps;
    }

    public byte[][] Keys { get; }

    public FeatureCell[][] Cells { get; }

    public long[] EventTimestamps { get; }

    public long[] CreatedTimestamps { get; }

    public int Count => Keys.Length;

    public EntityRow Row(int i, long sequence) => new(EventTimestamps[i], CreatedTimestamps[i], sequence, Cells[i]);

    /// <summary>Checks a table against the view (every column present with its type, no extra column, no null key or time, no NUL in text).</summary>
    public static WriteBatch From(FeatureViewLayout view, Table rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        foreach (var field in rows.Schema)
        {
            if (!view.Schema.Contains(field.Name))
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"write to feature view '{view.Name}': column '{field.Name}' is not in the view (columns: {string.Join(", ", view.Schema.Names)})");
            }
        }

        foreach (var field in view.Schema)
        {
            var at = rows.Schema.TryIndexOf(field.Name);
            if (at < 0)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"write to feature view '{view.Name}': column '{field.Name}' is missing");
            }

            var column = rows[at];
            if (column.Type != field.Type)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"write to feature view '{view.Name}': column '{field.Name}' holds {column.Type.Name()} but the view says {field.Type.Name()}");
            }

            if (!field.Nullable && column.HasNulls)
            {
                throw new StrataException(ErrorCodes.DataNull, $"write to feature view '{view.Name}': column '{field.Name}' holds {column.NullCount} null(s)");
            }

            if (FeatureText.FirstNul(column) is var nul and >= 0)
            {
                throw FeatureText.Refused($"write to feature view '{view.Name}': column '{field.Name}' row {nul}");
            }
        }

        var count = rows.RowCount;
        var keyColumns = view.JoinKeys.Select(k => rows[k.Name]).ToArray();
        var events = rows.GetColumn<long>(view.EventTimestampColumn).Values.ToArray();
        var created = view.CreatedTimestampColumn is { } c ? rows.GetColumn<long>(c).Values.ToArray() : new long[count];
        var featureColumns = view.Features.Select(f => rows[f.Name]).ToArray();
        var keys = new byte[count][];
        var cells = new FeatureCell[count][];
        for (var r = 0; r < count; r++)
        {
            keys[r] = KeyEncoding.EncodeRow(keyColumns, r);
            var row = new FeatureCell[featureColumns.Length];
            for (var f = 0; f < row.Length; f++)
            {
                row[f] = Cell(featureColumns[f], r);
            }

            cells[r] = row;
        }

        return new WriteBatch(keys, cells, events, created);
    }

    private static FeatureCell Cell(Column column, int row)
    {
        if (column.IsNull(row))
        {
            return default;
        }

        return column switch
        {
            StringColumn s => new FeatureCell(0, s[row], true),
            Column<long> l => new FeatureCell(l[row], null, true),
            Column<int> i => new FeatureCell(i[row], null, true),
            Column<double> d => new FeatureCell(BitConverter.DoubleToInt64Bits(d[row]), null, true),
            Column<float> f => new FeatureCell(BitConverter.SingleToInt32Bits(f[row]), null, true),
            Column<bool> b => new FeatureCell(b[row] ? 1 : 0, null, true),
            _ => throw new InvalidOperationException($"unexpected column type {column.Type.Name()}"),
        };
    }
}
