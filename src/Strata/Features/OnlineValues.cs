using Strata.Features.OnlineStore;

namespace Strata.Features;

/// <summary>Moves online values into columns and back, so on-demand expressions run on the same code online as offline.</summary>
internal static class OnlineValues
{
    /// <summary>A column of the values (absent, null and expired values become nulls).</summary>
    public static Column ToColumn(DataType type, FeatureValue[] values)
    {
        var builder = ColumnBuilder.Create(type, values.Length);
        foreach (var value in values)
        {
            if (value.HasValue)
            {
                builder.AppendObject(value.Value);
            }
            else
            {
                builder.AppendNull();
            }
        }

        return builder.Build();
    }

    /// <summary>Computed values: present where the column has a value, null elsewhere; computed features have no event time.</summary>
    public static FeatureValue[] FromColumn(Column column)
    {
        var values = new FeatureValue[column.Length];
        for (var i = 0; i < values.Length; i++)
        {
            if (column.IsNull(i))
            {
                values[i] = new FeatureValue(FeatureStatus.NullValue, column.Type, 0, 0, null);
                continue;
            }

            values[i] = column switch
            {
                Column<double> d => new FeatureValue(FeatureStatus.Present, column.Type, 0, BitConverter.DoubleToInt64Bits(d[i]), null),
                Column<float> f => new FeatureValue(FeatureStatus.Present, column.Type, 0, BitConverter.SingleToInt32Bits(f[i]), null),
                Column<long> l => new FeatureValue(FeatureStatus.Present, column.Type, 0, l[i], null),
                Column<int> n => new FeatureValue(FeatureStatus.Present, column.Type, 0, n[i], null),
                Column<bool> b => new FeatureValue(FeatureStatus.Present, column.Type, 0, b[i] ? 1 : 0, null),
                StringColumn s => new FeatureValue(FeatureStatus.Present, column.Type, 0, 0, s[i]),
                _ => throw new StrataException(ErrorCodes.SchemaInvalid, $"on-demand features of type {column.Type.Name()} are not supported"),
            };
        }

        return values;
    }
}
