using System.Globalization;
using Strata.Features;

namespace Strata.Serving;

/// <summary>
/// Reads a request's field as the column a feature service declares it to be (an entity key, an on-demand view's request
/// field, or a stored feature the request replaces), accepting what the feature routes accept for that type: a value
/// that does not fit is named with its row (or as the request's API names it), never wrapped into the type's range,
/// rounded to an infinity or read as another kind.
/// </summary>
internal static class RequestColumns
{
    /// <summary>Whole numbers reach the server as doubles, which hold every integer exactly only up to 2^53 (about 9e15).</summary>
    public const double MaxExactKey = 9e15;

    private const string TimestampExample = "\"2001-06-01T00:00:00Z\"";

    /// <summary>
    /// The <paramref name="rows"/> values of <paramref name="column"/>, field <paramref name="name"/>, as a column of
    /// <paramref name="type"/>, or null with <paramref name="problem"/> naming the first value that does not fit, as
    /// <paramref name="naming"/> names it (the native API's <c>field 'x' in rows[1] is 1E+39, beyond …</c>). A null (a field left
    /// out of a row included) is a null value, except in an entity <paramref name="key"/>, which must name an entity: a
    /// key is never null, nor text the stores cannot hold.
    /// </summary>
    public static Column? Read(InputColumn column, string name, DataType type, int rows, bool key, RequestNaming naming, out string? problem)
    {
        problem = null;
        if (column.Kind == InputKind.Mixed)
        {
            problem = $"{naming.Field(name)} holds values of mixed or unsupported kinds (nested values, or numbers with text or booleans)";
            return null;
        }

        var builder = ColumnBuilder.Create(type, rows);
        for (var r = 0; r < rows; r++)
        {
            var number = column.NumberOrNaN(r);
            var text = column.TextOrNull(r);
            if (double.IsNaN(number) && text is null)
            {
                if (key)
                {
                    problem = $"{naming.Value(name, r)} is null";
                    return null;
                }

                builder.AppendNull();
                continue;
            }

            // Refused here, where the value is named as the caller sent it, rather than by the online read, which knows
            // only its entity row.
            if (key && type == DataType.String && FeatureText.HasNul(text))
            {
                problem = $"{naming.Value(name, r)} {FeatureText.NulText}";
                return null;
            }

            if (Append(builder, type, column.IsBoolean, number, text, naming) is { } why)
            {
                problem = $"{naming.Value(name, r)} is {Show(column.IsBoolean, number, text)}, {why}";
                return null;
            }
        }

        return builder.Build();
    }

    /// <summary>Appends one value; null when it fits the type, else why not (naming a type as <paramref name="naming"/> does).</summary>
    private static string? Append(ColumnBuilder builder, DataType type, bool boolean, double number, string? text, RequestNaming naming)
    {
        switch (type)
        {
            case DataType.String when text is not null:
                ((StringColumnBuilder)builder).Append(text);
                return null;
            case DataType.String:
                return "not text";
            // As the feature routes read a timestamp: ISO 8601 text, UTC when it names no zone.
            case DataType.Timestamp when text is not null && Timestamp.TryParse(text, out var micros):
                ((PrimitiveColumnBuilder<long>)builder).Append(micros);
                return null;
            case DataType.Timestamp:
                return $"not an ISO 8601 timestamp such as {TimestampExample}";
            case DataType.Bool when boolean:
                ((PrimitiveColumnBuilder<bool>)builder).Append(number != 0);
                return null;
            case DataType.Bool:
                return "not true or false";
            case DataType.Float64 or DataType.Float32 or DataType.Int64 or DataType.Int32 when text is not null || boolean:
                return "not a number";
            case DataType.Float64:
                ((PrimitiveColumnBuilder<double>)builder).Append(number);
                return null;
            case DataType.Float32 when float.IsFinite((float)number):
                ((PrimitiveColumnBuilder<float>)builder).Append((float)number);
                return null;
            case DataType.Float32:
                return $"beyond the range of {naming.Type(DataType.Float32)} (at most ±{float.MaxValue.ToString("R", CultureInfo.InvariantCulture)})";
            case DataType.Int64 or DataType.Int32 when number != Math.Floor(number):
                return "not a whole number";
            case DataType.Int64 or DataType.Int32 when Math.Abs(number) >= MaxExactKey:
                return "beyond the whole numbers a request carries exactly (±9e15)";
            case DataType.Int64:
                ((PrimitiveColumnBuilder<long>)builder).Append((long)number);
                return null;
            case DataType.Int32 when number is >= int.MinValue and <= int.MaxValue:
                ((PrimitiveColumnBuilder<int>)builder).Append((int)number);
                return null;
            case DataType.Int32:
                return $"beyond the range of {naming.Type(DataType.Int32)} (-2147483648 to 2147483647)";
            default:
                return $"not readable as {naming.Type(type)}";
        }
    }

    /// <summary>A value as the caller wrote it (text quoted and cut at 40 characters).</summary>
    private static string Show(bool boolean, double number, string? text) =>
        text is not null ? "\"" + (text.Length > 40 ? text[..40] + "…" : text) + "\""
        : boolean ? (number != 0 ? "true" : "false")
        : number.ToString("R", CultureInfo.InvariantCulture);
}
