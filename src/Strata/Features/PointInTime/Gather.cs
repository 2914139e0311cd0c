using System.Runtime.CompilerServices;

namespace Strata.Features.PointInTime;

/// <summary>Builds an output column from a source column and one source row per output row (-1 = null).</summary>
internal static class Gather
{
    /// <summary>
    /// Which output rows found a source row: the validity of every gathered column whose source has no nulls, worked out
    /// once per view rather than once per feature.
    /// </summary>
    public static Matches Match(int[] rows)
    {
        var bits = new byte[Bitmap.ByteLength(rows.Length)];
        var nulls = 0;
        for (var i = 0; i < rows.Length; i++)
        {
            if (rows[i] < 0)
            {
                nulls++;
            }
            else
            {
                Bitmap.Set(bits, i);
            }
        }

        return new Matches(nulls == 0 ? null : bits, nulls);
    }

    public static Column Take(Column source, int[] rows) => Take(source, rows, Match(rows));

    public static Column Take(Column source, int[] rows, Matches matches) => source switch
    {
        Column<float> c => Take(c, rows, matches),
        Column<double> c => Take(c, rows, matches),
        Column<long> c => Take(c, rows, matches),
        Column<int> c => Take(c, rows, matches),
        Column<bool> c => Take(c, rows, matches),
        StringColumn c => Take(c, rows, matches),
        _ => throw new InvalidOperationException($"unexpected column type {source.Type.Name()}"),
    };

    private static Column<T> Take<T>(Column<T> source, int[] rows, Matches matches)
        where T : unmanaged
    {
        var values = GC.AllocateUninitializedArray<T>(rows.Length);
        var (validity, nulls) = Take(source, source.Buffer, source.BufferOffset, rows, values, matches);
        return new Column<T>(source.Type, values, 0, rows.Length, validity, 0, nulls);
    }

    private static StringColumn Take(StringColumn source, int[] rows, Matches matches)
    {
        var codes = GC.AllocateUninitializedArray<int>(rows.Length);
        var (validity, nulls) = Take(source, source.Buffer, source.BufferOffset, rows, codes, matches);
        return new StringColumn(source.Dictionary, codes, 0, rows.Length, validity, 0, nulls);
    }

    private static (byte[]? Validity, int Nulls) Take<T>(Column source, T[] buffer, int offset, int[] rows, T[] values, Matches matches)
        where T : unmanaged
    {
        if (source.NullCount == 0)
        {
            // Each column gets its own copy of the shared bits: columns never share mutable arrays.
            TakeValid(buffer, offset, rows, values);
            return (matches.Bits?.Clone() as byte[], matches.Nulls);
        }

        var validity = new byte[Bitmap.ByteLength(rows.Length)];
        var bits = source.ValidityBits;
        var bitOffset = source.ValidityOffset;
        var nulls = 0;
        for (var i = 0; i < rows.Length; i++)
        {
            var r = rows[i];
            if (r < 0 || (bits is not null && !Bitmap.Get(bits, bitOffset + r)))
            {
                // Null slots keep default(T), as Column requires.
                values[i] = default;
                nulls++;
                continue;
            }

            values[i] = buffer[offset + r];
            Bitmap.Set(validity, i);
        }

        return nulls == 0 ? (null, 0) : (validity, nulls);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TakeValid<T>(T[] buffer, int offset, int[] rows, T[] values)
        where T : unmanaged
    {
        for (var i = 0; i < rows.Length; i++)
        {
            var r = rows[i];
            values[i] = r >= 0 ? buffer[offset + r] : default;
        }
    }

    /// <summary>Validity bits (null when every row matched) and the number of rows that did not.</summary>
    internal readonly record struct Matches(byte[]? Bits, int Nulls);
}
