using System.Text;

namespace Strata.Testing;

/// <summary>Seeded random tables with every type, nulls, and awkward strings (quotes, delimiters, newlines, non-ASCII).</summary>
public static class RandomTables
{
    private static readonly string[] Awkward = ["", " ", "a,b", "say \"hi\"", "line\nbreak", "crlf\r\nx", "ünïcödé", "日本語", "tab\there", "NA", "null", "  padded  ", "😀", "'"];

    public static Table Create(int seed, int rows)
    {
        var random = new Random(seed);
        var b = new PrimitiveColumnBuilder<bool>(DataType.Bool);
        var i32 = new PrimitiveColumnBuilder<int>(DataType.Int32);
        var i64 = new PrimitiveColumnBuilder<long>(DataType.Int64);
        var f32 = new PrimitiveColumnBuilder<float>(DataType.Float32);
        var f64 = new PrimitiveColumnBuilder<double>(DataType.Float64);
        var s = new StringColumnBuilder();
        var ts = new PrimitiveColumnBuilder<long>(DataType.Timestamp);
        for (var r = 0; r < rows; r++)
        {
            AppendOrNull(random, b, () => b.Append(random.Next(2) == 0));
            AppendOrNull(random, i32, () => i32.Append(random.Next(int.MinValue, int.MaxValue)));
            AppendOrNull(random, i64, () => i64.Append(random.NextInt64(long.MinValue, long.MaxValue)));
            AppendOrNull(random, f32, () => f32.Append((float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-20, 20)))));
            AppendOrNull(random, f64, () => f64.Append((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-300, 300))));
            AppendOrNull(random, s, () => s.Append(RandomString(random)));
            AppendOrNull(random, ts, () => ts.Append(random.NextInt64(Timestamp.MinValue, Timestamp.MaxValue)));
        }

        return Table.From(
            ("flag", b.Build()),
            ("i32", i32.Build()),
            ("i64", i64.Build()),
            ("f32", f32.Build()),
            ("f64", f64.Build()),
            ("text", s.Build()),
            ("ts", ts.Build()));
    }

    private static void AppendOrNull(Random random, ColumnBuilder builder, Action append)
    {
        if (random.Next(8) == 0)
        {
            builder.AppendNull();
        }
        else
        {
            append();
        }
    }

    private static string RandomString(Random random)
    {
        if (random.Next(3) == 0)
        {
            return Awkward[random.Next(Awkward.Length)];
        }

        var sb = new StringBuilder();
        var length = random.Next(0, 12);
        for (var i = 0; i < length; i++)
        {
            sb.Append(random.Next(10) switch
            {
                0 => '"',
                1 => ',',
                2 => '\n',
                3 => 'é',
                _ => (char)random.Next('a', 'z' + 1),
            });
        }

        return sb.ToString();
    }
}
