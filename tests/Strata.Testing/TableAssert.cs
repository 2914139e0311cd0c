using System.Globalization;
using System.Text;
using Xunit;

namespace Strata.Testing;

/// <summary>Equality of tables by schema layout and values, with a message pointing at the first difference.</summary>
public static class TableAssert
{
    public static void Equal(Table expected, Table actual, bool compareSchemaDetails = false)
    {
        Assert.Equal(expected.Schema.Names, actual.Schema.Names);
        Assert.Equal(expected.Schema.Select(f => f.Type), actual.Schema.Select(f => f.Type));
        if (compareSchemaDetails)
        {
            Assert.Equal(expected.Schema, actual.Schema);
        }

        Assert.Equal(expected.RowCount, actual.RowCount);
        for (var c = 0; c < expected.ColumnCount; c++)
        {
            for (var r = 0; r < expected.RowCount; r++)
            {
                var e = expected[c].GetValue(r);
                var a = actual[c].GetValue(r);
                if (!ValuesEqual(e, a))
                {
                    Assert.Fail($"column '{expected.Schema[c].Name}' row {r}: expected {Show(e)}, got {Show(a)}");
                }
            }
        }
    }

    /// <summary>A digest of a table's layout and values, for determinism checks.</summary>
    public static string Digest(Table table)
    {
        var sb = new StringBuilder();
        sb.Append(string.Join(",", table.Schema.Select(f => $"{f.Name}:{f.Type.Name()}"))).Append('\n');
        for (var r = 0; r < table.RowCount; r++)
        {
            for (var c = 0; c < table.ColumnCount; c++)
            {
                sb.Append(Show(table[c].GetValue(r))).Append('\u001f');
            }

            sb.Append('\n');
        }

        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private static bool ValuesEqual(object? e, object? a) => (e, a) switch
    {
        (null, null) => true,
        (double x, double y) => x.Equals(y),
        (float x, float y) => x.Equals(y),
        _ => Equals(e, a),
    };

    private static string Show(object? v) => v switch
    {
        null => "null",
        string s => $"\"{s}\"",
        DateTime d => d.ToString("O", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}
