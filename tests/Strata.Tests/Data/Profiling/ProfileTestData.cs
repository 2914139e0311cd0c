using System.Globalization;

namespace Strata.Tests.Data.Profiling;

/// <summary>Seeded tables with every column type, nulls, NaN and infinities, and exact references to check profiles against.</summary>
internal static class ProfileTestData
{
    public static Table Mixed(int rows, int seed, int distinctStrings = 50)
    {
        var random = new Random(seed);
        var i32 = new PrimitiveColumnBuilder<int>(DataType.Int32, rows);
        var i64 = new PrimitiveColumnBuilder<long>(DataType.Int64, rows);
        var f32 = new PrimitiveColumnBuilder<float>(DataType.Float32, rows);
        var f64 = new PrimitiveColumnBuilder<double>(DataType.Float64, rows);
        var ts = new PrimitiveColumnBuilder<long>(DataType.Timestamp, rows);
        var flag = new PrimitiveColumnBuilder<bool>(DataType.Bool, rows);
        var city = new StringColumnBuilder(rows);
        var start = Timestamp.FromDateTime(new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        for (var r = 0; r < rows; r++)
        {
            AppendOrNull(random, i32, 0.05, () => random.Next(-1000, 1000));
            i64.Append(random.NextInt64(-(1L << 40), 1L << 40));
            f32.Append((float)Property.Normal(random));
            AppendOrNull(random, f64, 0.1, () => random.Next(200) switch
            {
                0 => double.NaN,
                1 => double.PositiveInfinity,
                2 => double.NegativeInfinity,
                _ => Math.Exp(2 * Property.Normal(random)),
            });
            ts.Append(start + random.NextInt64(Timestamp.MicrosPerDay * 365));
            AppendOrNull(random, flag, 0.2, () => random.Next(3) == 0);
            if (random.Next(10) == 0)
            {
                city.AppendNull();
            }
            else
            {
                city.Append("city-" + ((int)(distinctStrings * Math.Pow(random.NextDouble(), 2))).ToString(CultureInfo.InvariantCulture) + (random.Next(50) == 0 ? "-é" : ""));
            }
        }

        return Table.From(
            ("i32", i32.Build()), ("i64", i64.Build()), ("f32", f32.Build()), ("f64", f64.Build()),
            ("ts", ts.Build()), ("flag", flag.Build()), ("city", city.Build()));
    }

    private static void AppendOrNull<T>(Random random, PrimitiveColumnBuilder<T> builder, double nullFraction, Func<T> value)
        where T : unmanaged
    {
        if (random.NextDouble() < nullFraction)
        {
            builder.AppendNull();
        }
        else
        {
            builder.Append(value());
        }
    }

    /// <summary>The valid values of a numeric column as doubles (NaN included).</summary>
    public static double[] Doubles(Column column)
    {
        var result = new List<double>(column.Length);
        for (var i = 0; i < column.Length; i++)
        {
            if (!column.IsNull(i))
            {
                result.Add(column switch
                {
                    Column<int> c => c[i],
                    Column<long> c => c[i],
                    Column<float> c => c[i],
                    Column<double> c => c[i],
                    _ => throw new ArgumentException("not numeric", nameof(column)),
                });
            }
        }

        return result.ToArray();
    }

    /// <summary>Exact counts of the valid values of a string column.</summary>
    public static Dictionary<string, long> Frequencies(StringColumn column)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < column.Length; i++)
        {
            if (column[i] is { } value)
            {
                result[value] = result.GetValueOrDefault(value) + 1;
            }
        }

        return result;
    }
}
