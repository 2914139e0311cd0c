namespace Strata.Features.PointInTime;

/// <summary>Builds an output column from a source column and one source row per output row (-1 = null).</summary>
internal static class Gather
{
    public static Column Take(Column source, int[] rows) => source switch
    {
        Column<float> c => Take(c, rows),
        Column<double> c => Take(c, rows),
        Column<long> c => Take(c, rows),
        Column<int> c => Take(c, rows),
        Column<bool> c => Take(c, rows),
        StringColumn c => Take(c, rows),
        _ => throw new InvalidOperationException($"unexpected column type {source.Type.Name()}"),
    };

    private static Column<T> Take<T>(Column<T> source, int[] rows)
        where T : unmanaged
    {
        var values = new T[rows.Length];
        var (validity, nulls) = Take(source, source.Buffer, source.BufferOffset, rows, values);
        return new Column<T>(source.Type, values, 0, rows.Length, validity, 0, nulls);
    }

    private static StringColumn Take(StringColumn source, int[] rows)
    {
        var codes = new int[rows.Length];
        var (validity, nulls) = Take(source, source.Buffer, source.BufferOffset, rows, codes);
        return new StringColumn(source.Dictionary, codes, 0, rows.Length, validity, 0, nulls);
    }

    private static (byte[]? Validity, int Nulls) Take<T>(Column source, T[] buffer, int offset, int[] rows, T[] values)
        where T : unmanaged
    {
        var validity = new byte[Bitmap.ByteLength(rows.Length)];
        var bits = source.NullCount > 0 ? source.ValidityBits : null;
        var bitOffset = source.ValidityOffset;
        var nulls = 0;
        for (var i = 0; i < rows.Length; i++)
        {
            var r = rows[i];
            if (r < 0 || (bits is not null && !Bitmap.Get(bits, bitOffset + r)))
            {
                // Null slots keep default(T), as Column requires.
                nulls++;
                continue;
            }

            values[i] = buffer[offset + r];
            Bitmap.Set(validity, i);
        }

        return nulls == 0 ? (null, 0) : (validity, nulls);
    }
}
