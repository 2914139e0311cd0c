namespace Strata.Data.Arrow;

/// <summary>
/// Reads several Arrow files of one schema (an offline store's segments) as one table of selected columns. Each file's
/// rows are decoded straight into their place in arrays sized once for all files, so there is no per-file table and no
/// concatenation copy, and columns not asked for are never decoded.
/// </summary>
/// <remarks>
/// The result equals reading each file, selecting the columns and concatenating the tables in path order (string columns
/// of files with different dictionaries are merged the way <see cref="Table.Concat"/> merges them).
/// </remarks>
internal static class ArrowFileSet
{
    public static async Task<Table> ReadAsync(
        IReadOnlyList<string> paths, IReadOnlyList<string> columns, int degree, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentOutOfRangeException.ThrowIfZero(paths.Count);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, degree), CancellationToken = cancellationToken };

        // Headers first: every file's row count, so each column is allocated once.
        var schemas = new Schema[paths.Count];
        var batchRows = new int[paths.Count][];
        await Parallel.ForEachAsync(Enumerable.Range(0, paths.Count), parallel, async (i, ct) =>
        {
            var reader = await ArrowFileReader.OpenAsync(paths[i], cancellationToken: ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                schemas[i] = reader.Schema;
                batchRows[i] = await reader.ReadBatchRowCountsAsync(ct).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);

        var fields = columns.Select(name => Field(schemas[0], name, paths[0])).ToArray();
        for (var i = 1; i < paths.Count; i++)
        {
            foreach (var field in fields)
            {
                if (Field(schemas[i], field.Name, paths[i]).Type != field.Type)
                {
                    throw new DataFormatException(
                        ErrorCodes.DataType,
                        $"column '{field.Name}' is {Field(schemas[i], field.Name, paths[i]).Type.Name()} here but {field.Type.Name()} in '{paths[0]}'",
                        new DataLocation(paths[i], Column: field.Name));
                }
            }
        }

        var fileRows = batchRows.Select(rows => ArrowFileReader.TotalRows(rows, null)).ToArray();
        var starts = new int[paths.Count];
        var total = ArrowFileReader.TotalRows(fileRows, paths[0]);
        for (var i = 1; i < starts.Length; i++)
        {
            starts[i] = starts[i - 1] + fileRows[i - 1];
        }

        // NOTE: every row of every array is written by exactly one file's decode, so they need no zeroing.
        var arrays = fields.Select(f => Allocate(f.Type, total)).ToArray();
        var sinks = new ArrowDecoder.TableSink[paths.Count];
        var indices = new int[paths.Count][];
        await Parallel.ForEachAsync(Enumerable.Range(0, paths.Count), parallel, async (i, ct) =>
        {
            var reader = await ArrowFileReader.OpenAsync(paths[i], cancellationToken: ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var values = new Array?[reader.Schema.Count];
                indices[i] = fields.Select(f => reader.Schema.TryIndexOf(f.Name)).ToArray();
                for (var c = 0; c < fields.Length; c++)
                {
                    values[indices[i][c]] = arrays[c];
                }

                var sink = new ArrowDecoder.TableSink(reader.Decoder, fileRows[i], values, starts[i]);
                await reader.ReadIntoAsync(sink, batchRows[i], ct).ConfigureAwait(false);
                sinks[i] = sink;
            }
        }).ConfigureAwait(false);

        var result = new Column[fields.Length];
        for (var c = 0; c < fields.Length; c++)
        {
            var (bits, nulls) = Validity(sinks, indices, c, starts, total);
            result[c] = arrays[c] switch
            {
                bool[] b => new Column<bool>(fields[c].Type, b, 0, total, bits, 0, nulls),
                int[] codes when fields[c].Type == DataType.String => Strings(sinks, indices, c, starts, codes, bits, nulls),
                int[] n => new Column<int>(fields[c].Type, n, 0, total, bits, 0, nulls),
                long[] l => new Column<long>(fields[c].Type, l, 0, total, bits, 0, nulls),
                float[] f => new Column<float>(fields[c].Type, f, 0, total, bits, 0, nulls),
                double[] d => new Column<double>(fields[c].Type, d, 0, total, bits, 0, nulls),
                _ => throw new InvalidOperationException("unexpected column storage"),
            };
        }

        return new Table(new Schema(fields), result);
    }

    private static Field Field(Schema schema, string name, string path)
    {
        var index = schema.TryIndexOf(name);
        return index >= 0
            ? schema[index]
            : throw new DataFormatException(ErrorCodes.NotFound, $"the file has no column '{name}'", new DataLocation(path, Column: name));
    }

    private static Array Allocate(DataType type, int rows) => type switch
    {
        DataType.Bool => GC.AllocateUninitializedArray<bool>(rows),
        DataType.Int32 or DataType.String => GC.AllocateUninitializedArray<int>(rows),
        DataType.Int64 or DataType.Timestamp => GC.AllocateUninitializedArray<long>(rows),
        DataType.Float32 => GC.AllocateUninitializedArray<float>(rows),
        _ => GC.AllocateUninitializedArray<double>(rows),
    };

    /// <summary>The files' validity bits of one column laid end to end (null when no row is null).</summary>
    private static (byte[]? Bits, int Nulls) Validity(ArrowDecoder.TableSink[] sinks, int[][] indices, int column, int[] starts, int total)
    {
        var nulls = 0;
        for (var i = 0; i < sinks.Length; i++)
        {
            nulls += sinks[i].Validity(indices[i][column]).Nulls;
        }

        if (nulls == 0)
        {
            return (null, 0);
        }

        // Bits are copied one file after another: files' rows need not start on a byte, so parallel copies could collide.
        var all = Bitmap.AllSet(total);
        for (var i = 0; i < sinks.Length; i++)
        {
            if (sinks[i].Validity(indices[i][column]).Bits is { } bits)
            {
                Bitmap.CopyBits(bits, 0, all, starts[i], sinks[i].RowCount);
            }
        }

        return (all, nulls);
    }

    /// <summary>One dictionary for the codes of every file: the files' own when they share it, else merged in file order.</summary>
    private static StringColumn Strings(ArrowDecoder.TableSink[] sinks, int[][] indices, int column, int[] starts, int[] codes, byte[]? bits, int nulls)
    {
        var dictionaries = sinks.Select((sink, i) => sink.Dictionary(indices[i][column])).ToArray();
        if (dictionaries.All(d => ReferenceEquals(d, dictionaries[0])))
        {
            return new StringColumn(dictionaries[0], codes, 0, codes.Length, bits, 0, nulls);
        }

        var merged = new Utf8StringTable();
        for (var i = 0; i < sinks.Length; i++)
        {
            var map = ColumnConcat.Remap(dictionaries[i], merged);
            var part = codes.AsSpan(starts[i], sinks[i].RowCount);
            for (var r = 0; r < part.Length; r++)
            {
                part[r] = map[part[r]];
            }
        }

        // Null rows keep code 0, as StringColumn requires.
        if (bits is not null)
        {
            ArrowBits.ZeroNulls(codes.AsSpan(), bits);
        }

        return new StringColumn(merged.ToDictionary(), codes, 0, codes.Length, bits, 0, nulls);
    }
}
