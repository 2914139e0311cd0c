using Strata.Data.Arrow;

namespace Strata.Tests.Data.Arrow;

/// <summary>Tables and helpers shared by the Arrow tests.</summary>
internal static class ArrowTestData
{
    /// <summary>One column of each Strata type, with nulls in every nullable column.</summary>
    public static Table EveryType() => new(
        new Schema(
            new Field("flag", DataType.Bool),
            new Field("small", DataType.Int32),
            new Field("big", DataType.Int64, nullable: false, role: FieldRole.Id),
            new Field("ratio", DataType.Float32),
            new Field("amount", DataType.Float64, role: FieldRole.Label),
            new Field("city", DataType.String, role: FieldRole.EntityKey, tags: ["pii:location", "owner:geo"]),
            new Field("at", DataType.Timestamp, role: FieldRole.EventTime)),
        [
            Columns.Bool(true, null, false, true, false, null, true, true, false),
            Columns.Int32(1, -2, null, int.MaxValue, int.MinValue, 0, 7, null, 9),
            Columns.Int64(1, 2, 3, long.MaxValue, long.MinValue, 0, -7, 8, 9),
            Columns.Float32(1.5f, null, float.NaN, float.PositiveInfinity, -0f, 3f, null, 1e-30f, 2f),
            Columns.Float64(0.25, double.NegativeInfinity, null, double.MaxValue, double.Epsilon, 4, 5, null, -1),
            Columns.String("Zürich", "", null, "東京", "Zürich", "a\"b,c", null, "", "emoji 🙂"),
            Columns.Timestamp(0L, -1L, null, Timestamp.MinValue, Timestamp.MaxValue, 1_700_000_000_123_456L, -86_400_000_001L, null, 5L),
        ]);

    /// <summary>Writes tables (one WriteBatchAsync each) to an in-memory Arrow file.</summary>
    public static async Task<byte[]> WriteAsync(Schema schema, ArrowWriteOptions? options, params Table[] batches)
    {
        using var memory = new MemoryStream();
        var writer = new ArrowFileWriter(memory, schema, options, leaveOpen: true);
        await using (writer)
        {
            foreach (var batch in batches)
            {
                await writer.WriteBatchAsync(batch);
            }
        }

        return memory.ToArray();
    }

    public static Task<byte[]> WriteAsync(Table table, ArrowWriteOptions? options = null) => WriteAsync(table.Schema, options, table);

    /// <summary>Reads an in-memory Arrow file into one table.</summary>
    public static async Task<Table> ReadAsync(byte[] file, ArrowReadOptions? options = null)
    {
        await using var reader = await ArrowFileReader.OpenAsync(new MemoryStream(file), options);
        return await reader.ReadTableAsync();
    }

    /// <summary>Asserts two tables hold the same schema (names, types, nullability, roles, tags) and values, null for null.</summary>
    public static void AssertSame(Table expected, Table actual)
    {
        Assert.Equal(expected.Schema, actual.Schema);
        Assert.Equal(expected.RowCount, actual.RowCount);
        for (var c = 0; c < expected.ColumnCount; c++)
        {
            for (var r = 0; r < expected.RowCount; r++)
            {
                var e = expected[c].GetValue(r);
                var a = actual[c].GetValue(r);
                Assert.True(Equals(e, a), $"column '{expected.Schema[c].Name}' row {r}: expected {e ?? "null"}, got {a ?? "null"}");
            }
        }
    }

    /// <summary>Asserts Strata's invariant: null slots hold default values (code 0 for strings).</summary>
    public static void AssertNullSlotsAreZero(Table table)
    {
        foreach (var column in table.Columns)
        {
            for (var r = 0; r < column.Length; r++)
            {
                if (!column.IsNull(r))
                {
                    continue;
                }

                var raw = column switch
                {
                    Column<bool> b => (object)b.Values[r],
                    Column<int> i => i.Values[r],
                    Column<long> l => l.Values[r],
                    Column<float> f => f.Values[r],
                    Column<double> d => d.Values[r],
                    StringColumn s => s.Codes[r],
                    _ => throw new InvalidOperationException(),
                };
                Assert.True(raw is false or 0 or 0L or 0f or 0d, $"null slot {r} holds {raw}");
            }
        }
    }
}
