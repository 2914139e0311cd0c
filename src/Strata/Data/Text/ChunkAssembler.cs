using System.Runtime.CompilerServices;
namespace Strata.Data.Text;

/// <summary>
/// Turns parsed chunks into one table: decides each column's final type (the declared one, or the join of what every
/// chunk saw), re-reads the chunks whose values must become strings, merges string dictionaries and copies values into
/// final arrays, one column at a time so pooled chunk arrays are returned as early as possible.
/// </summary>
internal sealed class ChunkAssembler
{
    /// <summary>Re-reads a chunk with the named columns forced to string and every other column skipped.</summary>
    public delegate Task<ChunkResult> Reparser(ChunkResult chunk, IReadOnlySet<string> asString, CancellationToken cancellationToken);

    private readonly string _input;
    private readonly Schema? _declared;
    private readonly Reparser _reparse;

    public ChunkAssembler(string input, Schema? declared, Reparser reparse)
    {
        _input = input;
        _declared = declared;
        _reparse = reparse;
    }

    /// <summary>Column names in order of first appearance across chunks (chunk order, then position within a chunk).</summary>
    public static List<string> UnionNames(IReadOnlyList<ChunkResult> chunks, IEnumerable<string>? seed = null)
    {
        var names = new List<string>(seed ?? []);
        var seen = new HashSet<string>(names, StringComparer.Ordinal);
        foreach (var chunk in chunks)
        {
            foreach (var name in chunk.Names)
            {
                if (seen.Add(name))
                {
                    names.Add(name);
                }
            }
        }

        return names;
    }

    /// <summary>The final kind of each column: declared storage, else the join over chunks.</summary>
    public ValueKind[] FinalKinds(IReadOnlyList<string> names, IReadOnlyList<ChunkResult> chunks, ReadReport report)
    {
        var kinds = new ValueKind[names.Count];
        for (var c = 0; c < names.Count; c++)
        {
            if (_declared?.TryIndexOf(names[c]) is >= 0 and var d)
            {
                kinds[c] = ValueKinds.StorageOf(_declared[d].Type);
                continue;
            }

            var kind = ValueKind.Null;
            ChunkResult? firstSeen = null;
            foreach (var chunk in chunks)
            {
                var i = chunk.IndexOf(names[c]);
                var chunkKind = i >= 0 ? chunk.Columns[i]?.Kind ?? ValueKind.Null : ValueKind.Null;
                var joined = ValueKinds.Join(kind, chunkKind);
                if (joined == ValueKind.String && kind is not ValueKind.String and not ValueKind.Null && chunkKind != ValueKind.String && firstSeen is not null
                    && report.ConflictColumns.Add(names[c]))
                {
                    report.Warn(
                        $"{_input}: column '{names[c]}' holds {ValueKinds.Describe(kind)} values (from line {firstSeen.FirstLine}) and " +
                        $"{ValueKinds.Describe(chunkKind)} values (from line {chunk.FirstLine}); it is read as string");
                }

                if (kind == ValueKind.Null && chunkKind != ValueKind.Null)
                {
                    firstSeen = chunk;
                }

                kind = joined;
            }

            kinds[c] = kind;
        }

        return kinds;
    }

    /// <summary>Re-reads chunks that hold non-string values of columns whose final kind is string.</summary>
    public async Task ReparseAsync(IList<ChunkResult> chunks, IReadOnlyList<string> names, ValueKind[] kinds, CancellationToken cancellationToken)
    {
        for (var k = 0; k < chunks.Count; k++)
        {
            var chunk = chunks[k];
            HashSet<string>? asString = null;
            for (var c = 0; c < names.Count; c++)
            {
                if (kinds[c] != ValueKind.String)
                {
                    continue;
                }

                var i = chunk.IndexOf(names[c]);
                if (i >= 0 && chunk.Columns[i] is { StorageKind: not ValueKind.String } column && column.Kind != ValueKind.Null)
                {
                    (asString ??= new HashSet<string>(StringComparer.Ordinal)).Add(names[c]);
                }
            }

            if (asString is null)
            {
                continue;
            }

            using var again = await _reparse(chunk, asString, cancellationToken).ConfigureAwait(false);
            foreach (var name in asString)
            {
                var from = again.IndexOf(name);
                var to = chunk.IndexOf(name);
                if (from < 0 || again.RowCount != chunk.RowCount || again.Columns[from] is not { StorageKind: ValueKind.String })
                {
                    throw new DataFormatException(ErrorCodes.DataMalformed, "the input changed while it was being read", new DataLocation(_input, chunk.FirstLine));
                }

                chunk.Columns[to]!.Dispose();
                chunk.Columns[to] = again.Columns[from];
                again.Columns[from] = null;
            }
        }
    }

    /// <summary>Builds the table from chunks whose kinds are all within the final kinds; frees the chunks' arrays.</summary>
    public Table Build(IReadOnlyList<ChunkResult> chunks, IReadOnlyList<string> names, ValueKind[] kinds)
    {
        var total = 0L;
        foreach (var chunk in chunks)
        {
            total += chunk.RowCount;
        }

        if (total > Array.MaxLength)
        {
            throw new DataFormatException(ErrorCodes.DataLimit, $"more than {Array.MaxLength} rows; read it in batches instead", new DataLocation(_input));
        }

        var fields = new Field[names.Count];
        var columns = new Column[names.Count];
        Parallel.For(0, names.Count, c =>
        {
            var declared = _declared?.TryIndexOf(names[c]) is >= 0 and var d ? _declared[d] : null;
            var type = declared?.Type ?? ValueKinds.ToDataType(kinds[c]);
            fields[c] = declared ?? new Field(names[c], type);
            columns[c] = BuildColumn(_input, chunks, names[c], type, (int)total);
        });

        return new Table(new Schema(fields), columns);
    }

    private static Column BuildColumn(string input, IReadOnlyList<ChunkResult> chunks, string name, DataType type, int total)
    {
        var parts = new (ColumnChunkBuilder? Builder, int Rows)[chunks.Count];
        var nulls = 0;
        for (var k = 0; k < chunks.Count; k++)
        {
            var i = chunks[k].IndexOf(name);
            var builder = i >= 0 ? chunks[k].Columns[i] : null;
            parts[k] = (builder, chunks[k].RowCount);
            if (builder is { Kind: not ValueKind.Null } && !Fits(builder.StorageKind, type))
            {
                throw new DataFormatException(ErrorCodes.DataMalformed, "the input changed while it was being read", new DataLocation(input, chunks[k].FirstLine, name));
            }

            nulls += builder is null || builder.Kind == ValueKind.Null ? chunks[k].RowCount : builder.NullCount;
        }

        var validity = nulls == 0 ? null : BuildValidity(parts, total);
        Column column = type switch
        {
            DataType.Bool => new Column<bool>(type, CopyValues<bool>(parts, total, static (b, dst) => b.Bools.CopyTo(dst)), 0, total, validity, 0, nulls),
            DataType.Int32 => new Column<int>(type, CopyValues<int>(parts, total, static (b, dst) => NarrowInt32(b.Longs, dst)), 0, total, validity, 0, nulls),
            DataType.Int64 or DataType.Timestamp => new Column<long>(type, CopyValues<long>(parts, total, static (b, dst) => b.Longs.CopyTo(dst)), 0, total, validity, 0, nulls),
            DataType.Float32 => new Column<float>(type, CopyValues<float>(parts, total, static (b, dst) => NarrowFloat32(b.Doubles, dst)), 0, total, validity, 0, nulls),
            DataType.Float64 => new Column<double>(type, CopyValues<double>(parts, total, CopyAsDouble), 0, total, validity, 0, nulls),
            _ => BuildStrings(parts, total, validity, nulls),
        };

        for (var k = 0; k < chunks.Count; k++)
        {
            var i = chunks[k].IndexOf(name);
            if (i >= 0)
            {
                chunks[k].Release(i);
            }
        }

        return column;
    }

    private static bool Fits(ValueKind storage, DataType type) =>
        storage == ValueKinds.StorageOf(type) || (storage == ValueKind.Int64 && type == DataType.Float64);

    private static T[] CopyValues<T>((ColumnChunkBuilder? Builder, int Rows)[] parts, int total, Action<ColumnChunkBuilder, Span<T>> copy)
    {
        var values = new T[total];
        var at = 0;
        foreach (var (builder, rows) in parts)
        {
            if (builder is not null && builder.Kind != ValueKind.Null)
            {
                copy(builder, values.AsSpan(at, rows));
            }

            at += rows;
        }

        return values;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CopyAsDouble(ColumnChunkBuilder builder, Span<double> destination)
    {
        if (builder.StorageKind == ValueKind.Float64)
        {
            builder.Doubles.CopyTo(destination);
            return;
        }

        var longs = builder.Longs;
        for (var i = 0; i < longs.Length; i++)
        {
            destination[i] = longs[i];
        }
    }

    internal static void NarrowInt32(ReadOnlySpan<long> source, Span<int> destination)
    {
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = (int)source[i];
        }
    }

    internal static void NarrowFloat32(ReadOnlySpan<double> source, Span<float> destination)
    {
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = (float)source[i];
        }
    }

    private static byte[] BuildValidity((ColumnChunkBuilder? Builder, int Rows)[] parts, int total)
    {
        var bits = new byte[Bitmap.ByteLength(total)];
        var at = 0;
        foreach (var (builder, rows) in parts)
        {
            if (builder is null || builder.Kind == ValueKind.Null)
            {
                // Every row of this part is null: its bits stay 0.
            }
            else if (builder.Validity is { } source)
            {
                Bitmap.CopyBits(source, 0, bits, at, rows);
            }
            else
            {
                SetRange(bits, at, rows);
            }

            at += rows;
        }

        return bits;
    }

    internal static void SetRange(byte[] bits, int start, int count)
    {
        var i = start;
        var end = start + count;
        while (i < end && (i & 7) != 0)
        {
            Bitmap.Set(bits, i++);
        }

        var wholeBytes = (end - i) >> 3;
        bits.AsSpan(i >> 3, wholeBytes).Fill(0xFF);
        i += wholeBytes << 3;
        while (i < end)
        {
            Bitmap.Set(bits, i++);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static StringColumn BuildStrings((ColumnChunkBuilder? Builder, int Rows)[] parts, int total, byte[]? validity, int nulls)
    {
        var codes = new int[total];
        var merged = new Utf8StringTable(64);
        var at = 0;
        foreach (var (builder, rows) in parts)
        {
            if (builder?.Strings is { } strings && builder.Kind != ValueKind.Null)
            {
                var map = new int[Math.Max(1, strings.Count)];
                for (var code = 0; code < strings.Count; code++)
                {
                    map[code] = merged.GetOrAdd(strings[code]);
                }

                var source = builder.Codes;
                var target = codes.AsSpan(at, rows);
                for (var i = 0; i < source.Length; i++)
                {
                    target[i] = map[source[i]];
                }

                if (builder.Validity is { } bits)
                {
                    // Null rows hold code 0 of the chunk, which maps elsewhere; restore the invariant.
                    for (var i = 0; i < source.Length; i++)
                    {
                        if (!Bitmap.Get(bits, i))
                        {
                            target[i] = 0;
                        }
                    }
                }
            }

            at += rows;
        }

        return new StringColumn(merged.ToDictionary(), codes, 0, total, validity, 0, nulls);
    }
}
