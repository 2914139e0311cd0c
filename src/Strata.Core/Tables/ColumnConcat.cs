namespace Strata;

/// <summary>Concatenates columns of one type into a fresh column.</summary>
internal static class ColumnConcat
{
    public static Column Concat(IReadOnlyList<Column> parts)
    {
        var type = parts[0].Type;
        foreach (var p in parts)
        {
            if (p.Type != type)
            {
                throw new ArgumentException($"cannot concatenate {p.Type.Name()} to {type.Name()}", nameof(parts));
            }
        }

        var length = 0L;
        foreach (var p in parts)
        {
            length += p.Length;
        }

        if (length > Array.MaxLength)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"a column cannot hold more than {Array.MaxLength} rows ({length} requested)");
        }

        var total = (int)length;
        var validity = ConcatValidity(parts, total, out var nulls);
        return type switch
        {
            DataType.Bool => ConcatPrimitive<bool>(parts, total, validity, nulls),
            DataType.Int32 => ConcatPrimitive<int>(parts, total, validity, nulls),
            DataType.Int64 or DataType.Timestamp => ConcatPrimitive<long>(parts, total, validity, nulls),
            DataType.Float32 => ConcatPrimitive<float>(parts, total, validity, nulls),
            DataType.Float64 => ConcatPrimitive<double>(parts, total, validity, nulls),
            DataType.String => ConcatStrings(parts, total, validity, nulls),
            _ => throw new ArgumentOutOfRangeException(nameof(parts), type, "unknown data type"),
        };
    }

    private static byte[]? ConcatValidity(IReadOnlyList<Column> parts, int total, out int nulls)
    {
        nulls = 0;
        foreach (var p in parts)
        {
            nulls += p.NullCount;
        }

        if (nulls == 0)
        {
            return null;
        }

        var bits = new byte[Bitmap.ByteLength(total)];
        var at = 0;
        foreach (var p in parts)
        {
            if (p.ValidityBits is { } source && p.NullCount > 0)
            {
                Bitmap.CopyBits(source, p.ValidityOffset, bits, at, p.Length);
            }
            else
            {
                for (var i = 0; i < p.Length; i++)
                {
                    Bitmap.Set(bits, at + i);
                }
            }

            at += p.Length;
        }

        return bits;
    }

    private static Column<T> ConcatPrimitive<T>(IReadOnlyList<Column> parts, int total, byte[]? validity, int nulls)
        where T : unmanaged
    {
        var values = new T[total];
        var at = 0;
        foreach (var p in parts)
        {
            var typed = (Column<T>)p;
            typed.Values.CopyTo(values.AsSpan(at));
            at += typed.Length;
        }

        return new Column<T>(parts[0].Type, values, 0, total, validity, 0, nulls);
    }

    private static StringColumn ConcatStrings(IReadOnlyList<Column> parts, int total, byte[]? validity, int nulls)
    {
        var codes = new int[total];
        var first = ((StringColumn)parts[0]).Dictionary;
        var shared = parts.All(p => ReferenceEquals(((StringColumn)p).Dictionary, first));
        if (shared)
        {
            var at = 0;
            foreach (var p in parts)
            {
                ((StringColumn)p).Codes.CopyTo(codes.AsSpan(at));
                at += p.Length;
            }

            return new StringColumn(first, codes, 0, total, validity, 0, nulls);
        }

        var merged = new Utf8StringTable();
        var offset = 0;
        foreach (var p in parts)
        {
            var column = (StringColumn)p;
            var map = Remap(column.Dictionary, merged);
            var source = column.Codes;
            var target = codes.AsSpan(offset, column.Length);
            for (var i = 0; i < source.Length; i++)
            {
                target[i] = map[source[i]];
            }

            if (column.HasNulls)
            {
                for (var i = 0; i < source.Length; i++)
                {
                    if (column.IsNull(i))
                    {
                        target[i] = 0;
                    }
                }
            }

            offset += column.Length;
        }

        return new StringColumn(merged.ToDictionary(), codes, 0, total, validity, 0, nulls);
    }

    /// <summary>Maps every code of <paramref name="dictionary"/> to its code in <paramref name="merged"/>, adding values as needed.</summary>
    internal static int[] Remap(StringDictionary dictionary, Utf8StringTable merged)
    {
        // A dictionary may be empty while null rows still hold code 0: keep one slot so the lookup never fails.
        var map = new int[Math.Max(1, dictionary.Count)];
        for (var code = 0; code < dictionary.Count; code++)
        {
            map[code] = merged.GetOrAdd(dictionary.GetUtf8(code));
        }

        return map;
    }
}
