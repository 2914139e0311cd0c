using Npgsql;
using NpgsqlTypes;

namespace Strata.Postgres;

/// <summary>Moves Strata columns into and out of PostgreSQL rows: binary COPY writes, typed reads and timestamp conversion.</summary>
internal static class PgCopy
{
    private static readonly long EpochTicks = DateTime.UnixEpoch.Ticks;
    private static readonly long MinMicros = (DateTime.MinValue.Ticks - EpochTicks) / TimeSpan.TicksPerMicrosecond;
    private static readonly long MaxMicros = (DateTime.MaxValue.Ticks - EpochTicks) / TimeSpan.TicksPerMicrosecond;

    /// <summary>
    /// A UTC microsecond instant as the value of a <c>timestamp</c> (without time zone) column; clamped to what
    /// <see cref="DateTime"/> holds, which only matters for open-ended range bounds.
    /// </summary>
    public static DateTime ToPg(long micros) =>
        new(EpochTicks + (Math.Clamp(micros, MinMicros, MaxMicros) * TimeSpan.TicksPerMicrosecond), DateTimeKind.Unspecified);

    public static long Micros(DateTime value) => (value.Ticks - EpochTicks) / TimeSpan.TicksPerMicrosecond;

    public static NpgsqlParameter TimestampParameter(string name, long micros) =>
        new(name, NpgsqlDbType.Timestamp) { Value = ToPg(micros) };

    /// <summary>A quoted identifier (double quotes doubled), for names that come from definitions.</summary>
    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>The column type that holds a Strata type exactly.</summary>
    public static string SqlType(DataType type) => type switch
    {
        DataType.Bool => "boolean",
        DataType.Int32 => "integer",
        DataType.Int64 => "bigint",
        DataType.Float32 => "real",
        DataType.Float64 => "double precision",
        DataType.String => "text",
        DataType.Timestamp => "timestamp",
        _ => throw new StrataException(ErrorCodes.DataUnsupported, $"no PostgreSQL type for {type.Name()}"),
    };

    public static NpgsqlDbType DbType(DataType type) => type switch
    {
        DataType.Bool => NpgsqlDbType.Boolean,
        DataType.Int32 => NpgsqlDbType.Integer,
        DataType.Int64 => NpgsqlDbType.Bigint,
        DataType.Float32 => NpgsqlDbType.Real,
        DataType.Float64 => NpgsqlDbType.Double,
        DataType.String => NpgsqlDbType.Text,
        DataType.Timestamp => NpgsqlDbType.Timestamp,
        _ => throw new StrataException(ErrorCodes.DataUnsupported, $"no PostgreSQL type for {type.Name()}"),
    };

    /// <summary>Writes every row of <paramref name="columns"/> (plus a leading row number when asked) to a binary COPY.</summary>
    public static async Task WriteRowsAsync(NpgsqlBinaryImporter importer, IReadOnlyList<Column> columns, CancellationToken cancellationToken, bool rowNumber = false)
    {
        var rows = columns.Count == 0 ? 0 : columns[0].Length;
        for (var r = 0; r < rows; r++)
        {
            await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
            if (rowNumber)
            {
                await importer.WriteAsync(r, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
            }

            for (var c = 0; c < columns.Count; c++)
            {
                var column = columns[c];
                if (column.IsNull(r))
                {
                    await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var task = column switch
                {
                    Column<bool> b => importer.WriteAsync(b[r], NpgsqlDbType.Boolean, cancellationToken),
                    Column<int> i => importer.WriteAsync(i[r], NpgsqlDbType.Integer, cancellationToken),
                    Column<long> { Type: DataType.Timestamp } t => importer.WriteAsync(ToPg(t[r]), NpgsqlDbType.Timestamp, cancellationToken),
                    Column<long> l => importer.WriteAsync(l[r], NpgsqlDbType.Bigint, cancellationToken),
                    Column<float> f => importer.WriteAsync(f[r], NpgsqlDbType.Real, cancellationToken),
                    Column<double> d => importer.WriteAsync(d[r], NpgsqlDbType.Double, cancellationToken),
                    StringColumn s => importer.WriteAsync(s[r]!, NpgsqlDbType.Text, cancellationToken),
                    _ => throw new StrataException(ErrorCodes.DataUnsupported, $"no PostgreSQL type for {column.Type.Name()}"),
                };
                await task.ConfigureAwait(false);
            }
        }
    }
}

/// <summary>Rows read from PostgreSQL, gathered column by column into a Strata table.</summary>
internal sealed class PgRowBuffer
{
    private readonly Schema _schema;
    private readonly ColumnBuilder[] _builders;

    public PgRowBuffer(Schema schema, int capacity)
    {
        _schema = schema;
        _builders = schema.Select(f => ColumnBuilder.Create(f.Type, capacity)).ToArray();
    }

    public int Count { get; private set; }

    /// <summary>Appends the current row; the schema's columns start at reader ordinal <paramref name="first"/>.</summary>
    public void Add(NpgsqlDataReader reader, int first)
    {
        for (var c = 0; c < _builders.Length; c++)
        {
            Read(reader, first + c, _builders[c]);
        }

        Count++;
    }

    public static void Read(NpgsqlDataReader reader, int ordinal, ColumnBuilder builder)
    {
        if (reader.IsDBNull(ordinal))
        {
            builder.AppendNull();
            return;
        }

        switch (builder)
        {
            case PrimitiveColumnBuilder<bool> b:
                b.Append(reader.GetBoolean(ordinal));
                break;
            case PrimitiveColumnBuilder<int> i:
                i.Append(reader.GetInt32(ordinal));
                break;
            case PrimitiveColumnBuilder<long> { Type: DataType.Timestamp } t:
                t.Append(PgCopy.Micros(reader.GetDateTime(ordinal)));
                break;
            case PrimitiveColumnBuilder<long> l:
                l.Append(reader.GetInt64(ordinal));
                break;
            case PrimitiveColumnBuilder<float> f:
                f.Append(reader.GetFloat(ordinal));
                break;
            case PrimitiveColumnBuilder<double> d:
                d.Append(reader.GetDouble(ordinal));
                break;
            case StringColumnBuilder s:
                s.Append(reader.GetString(ordinal));
                break;
            default:
                throw new StrataException(ErrorCodes.DataUnsupported, $"cannot read a {builder.Type.Name()} column from PostgreSQL");
        }
    }

    public Table Build() => new(_schema, _builders.Select(b => b.Build()));
}
