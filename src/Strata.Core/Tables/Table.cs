namespace Strata;

/// <summary>
/// An immutable columnar table: a <see cref="Schema"/> and one <see cref="Column"/> per field, all of the same length.
/// Slices and projections share memory with the source.
/// </summary>
public sealed class Table
{
    private readonly Column[] _columns;

    /// <summary>Creates a table; column types and lengths must agree with the schema, and non-nullable fields hold no nulls.</summary>
    public Table(Schema schema, IEnumerable<Column> columns)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(columns);
        _columns = columns.ToArray();
        if (_columns.Length != schema.Count)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"schema has {schema.Count} fields but {_columns.Length} columns were given");
        }

        var rows = _columns.Length == 0 ? 0 : _columns[0].Length;
        for (var i = 0; i < _columns.Length; i++)
        {
            var field = schema[i];
            var column = _columns[i] ?? throw new ArgumentNullException(nameof(columns));
            if (column.Type != field.Type)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"column '{field.Name}' holds {column.Type.Name()} but the schema says {field.Type.Name()}");
            }

            if (column.Length != rows)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"column '{field.Name}' has {column.Length} rows, column '{schema[0].Name}' has {rows}");
            }

            if (!field.Nullable && column.HasNulls)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"column '{field.Name}' is not nullable but holds {column.NullCount} null(s)");
            }
        }

        Schema = schema;
        RowCount = rows;
    }

    /// <summary>A table with a schema and no rows.</summary>
    public static Table Empty(Schema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return new Table(schema, schema.Select(f => ColumnBuilder.Create(f.Type, 0).Build()));
    }

    /// <summary>A table from named columns; every field is nullable with role <see cref="FieldRole.Feature"/>.</summary>
    public static Table From(params (string Name, Column Column)[] columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        return new Table(new Schema(columns.Select(c => new Field(c.Name, c.Column.Type))), columns.Select(c => c.Column));
    }

    /// <summary>Fields of the table.</summary>
    public Schema Schema { get; }

    /// <summary>Number of rows.</summary>
    public int RowCount { get; }

    /// <summary>Number of columns.</summary>
    public int ColumnCount => _columns.Length;

    /// <summary>The columns in schema order.</summary>
    public IReadOnlyList<Column> Columns => _columns;

    /// <summary>The column at a position.</summary>
    public Column this[int index] => _columns[index];

    /// <summary>The column with a name.</summary>
    public Column this[string name] => _columns[Schema.IndexOf(name)];

    /// <summary>A typed column by name.</summary>
    /// <exception cref="StrataException">No such column, or it is not a <see cref="Column{T}"/>.</exception>
    public Column<T> GetColumn<T>(string name)
        where T : unmanaged =>
        this[name] as Column<T>
        ?? throw new StrataException(ErrorCodes.ArgumentInvalid, $"column '{name}' is {this[name].Type.Name()}, not {typeof(T).Name}");

    /// <summary>A string column by name.</summary>
    /// <exception cref="StrataException">No such column, or it is not a string column.</exception>
    public StringColumn GetStringColumn(string name) =>
        this[name] as StringColumn
        ?? throw new StrataException(ErrorCodes.ArgumentInvalid, $"column '{name}' is {this[name].Type.Name()}, not string");

    /// <summary>A zero-copy view of rows [offset, offset + length).</summary>
    public Table Slice(int offset, int length)
    {
        if ((uint)offset > (uint)RowCount || (uint)length > (uint)(RowCount - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"slice [{offset}, {offset + length}) is outside [0, {RowCount})");
        }

        return new Table(Schema, _columns.Select(c => c.Slice(offset, length)));
    }

    /// <summary>A zero-copy projection onto the named columns, in the given order.</summary>
    public Table Select(params IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var indices = names.Select(Schema.IndexOf).ToArray();
        return new Table(new Schema(indices.Select(i => Schema[i])), indices.Select(i => _columns[i]));
    }

    /// <summary>A new table holding the given rows, in that order.</summary>
    public Table Take(ReadOnlySpan<int> rows)
    {
        var columns = new Column[_columns.Length];
        for (var i = 0; i < columns.Length; i++)
        {
            columns[i] = _columns[i].Take(rows);
        }

        return new Table(Schema, columns);
    }

    /// <summary>
    /// The same data under another schema with the same names and types (to change roles, tags, nullability or
    /// constraints without copying).
    /// </summary>
    public Table WithSchema(Schema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (!schema.HasSameLayout(Schema))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"schema {schema} does not match the table's layout {Schema}");
        }

        return new Table(schema, _columns);
    }

    /// <summary>
    /// Rows of several tables, one after another. Schemas must have the same layout; the first table's schema is kept.
    /// String columns get one merged dictionary unless every part already shares the same one.
    /// </summary>
    public static Table Concat(IReadOnlyList<Table> tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        if (tables.Count == 0)
        {
            throw new ArgumentException("nothing to concatenate", nameof(tables));
        }

        if (tables.Count == 1)
        {
            return tables[0];
        }

        var schema = tables[0].Schema;
        foreach (var t in tables)
        {
            if (!t.Schema.HasSameLayout(schema))
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"cannot concatenate {t.Schema} to {schema}");
            }
        }

        var columns = new Column[schema.Count];
        void ConcatColumn(int c)
        {
            var parts = new Column[tables.Count];
            for (var t = 0; t < tables.Count; t++)
            {
                parts[t] = tables[t]._columns[c];
            }

            columns[c] = ColumnConcat.Concat(parts);
        }

        // Large tables copy their columns side by side: each is an independent memory copy (training sets read millions of rows).
        if (tables.Sum(t => (long)t.RowCount) * columns.Length >= 1 << 22)
        {
            Parallel.For(0, columns.Length, ConcatColumn);
        }
        else
        {
            for (var c = 0; c < columns.Length; c++)
            {
                ConcatColumn(c);
            }
        }

        // Nullability of the first schema may not hold for later parts; relax it where needed.
        var fields = schema.Select((f, i) => !f.Nullable && columns[i].HasNulls ? f.WithNullable(true) : f);
        return new Table(new Schema(fields), columns);
    }

    /// <inheritdoc />
    public override string ToString() => $"Table({RowCount} rows × {ColumnCount} columns: {Schema})";
}
