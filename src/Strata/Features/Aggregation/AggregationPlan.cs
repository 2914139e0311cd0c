using Strata.Features.Definitions;

namespace Strata.Features.Aggregation;

/// <summary>One aggregation resolved against the events' layout: its window in microseconds and its input's type.</summary>
internal sealed record ResolvedAggregation(
    AggregationDefinition Definition,
    long WindowMicros,
    string? Input,
    DataType? InputType,
    DataType OutputType)
{
    public AggregationFunction Function => Definition.Function;
}

/// <summary>
/// The checks and rules both aggregation paths share (batch <see cref="WindowedAggregation"/> and streaming
/// <see cref="Streaming.StreamingAggregator"/>), so they accept the same definitions and order values the same way.
/// </summary>
internal static class AggregationPlan
{
    /// <summary>Resolves aggregations against the events' layout.</summary>
    /// <exception cref="StrataException">A definition is invalid or names a missing or unsuitable column.</exception>
    public static ResolvedAggregation[] Resolve(FeatureViewLayout eventsLayout, IReadOnlyList<AggregationDefinition> aggregations)
    {
        ArgumentNullException.ThrowIfNull(eventsLayout);
        ArgumentNullException.ThrowIfNull(aggregations);
        var resolved = new ResolvedAggregation[aggregations.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < resolved.Length; i++)
        {
            var a = aggregations[i] ?? throw new ArgumentNullException(nameof(aggregations));
            var what = $"aggregation '{a.Name}' of '{eventsLayout.Name}'";
            if (string.IsNullOrEmpty(a.Name) || !names.Add(a.Name))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{what}: names must be non-empty and unique");
            }

            if (!Enum.IsDefined(a.Function))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{what}: unknown function {a.Function}");
            }

            var window = a.Window.Ticks / TimeSpan.TicksPerMicrosecond;
            if (window <= 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{what}: the window must be at least one microsecond, not {a.Window}");
            }

            if (a.Function == AggregationFunction.Count)
            {
                resolved[i] = new ResolvedAggregation(a, window, null, null, DataType.Int64);
                continue;
            }

            if (a.Column is null)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{what}: {a.Function} needs an input column");
            }

            var field = eventsLayout.Features.FirstOrDefault(f => f.Name == a.Column)
                ?? throw new StrataException(ErrorCodes.NotFound, $"{what}: the events have no column '{a.Column}'");
            if (a.Function != AggregationFunction.Last && !field.Type.IsNumeric())
            {
                throw new StrataException(ErrorCodes.DataType, $"{what}: {a.Function} needs a numeric input but '{a.Column}' is {field.Type.Name()}");
            }

            var output = a.Function == AggregationFunction.Last ? field.Type : DataType.Float64;
            resolved[i] = new ResolvedAggregation(a, window, a.Column, field.Type, output);
        }

        return resolved;
    }

    /// <summary>The column a table must have, with the expected type.</summary>
    public static Column Column(Table table, string name, DataType type, string what)
    {
        var index = table.Schema.TryIndexOf(name);
        if (index < 0)
        {
            throw new StrataException(ErrorCodes.NotFound, $"{what} has no column '{name}' (columns: {string.Join(", ", table.Schema.Names)})");
        }

        var column = table[index];
        return column.Type == type
            ? column
            : throw new StrataException(ErrorCodes.DataType, $"column '{name}' of the {what} is {column.Type.Name()}, not {type.Name()}");
    }

    /// <summary>A numeric column's values as doubles (null rows hold 0; int64 beyond 2^53 rounds to the nearest double).</summary>
    public static double[] ToDoubles(Column column)
    {
        var result = new double[column.Length];
        switch (column)
        {
            case Column<double> c: c.Values.CopyTo(result); break;
            case Column<float> c: for (var i = 0; i < result.Length; i++) { result[i] = c.Values[i]; } break;
            case Column<long> c: for (var i = 0; i < result.Length; i++) { result[i] = c.Values[i]; } break;
            case Column<int> c: for (var i = 0; i < result.Length; i++) { result[i] = c.Values[i]; } break;
            default: throw new InvalidOperationException($"not a numeric column: {column.Type.Name()}");
        }

        return result;
    }

    /// <summary>
    /// A total order on non-NaN doubles that puts -0 before +0, so the minimum and maximum of a window are one bit pattern
    /// whatever order the values are seen in.
    /// </summary>
    public static int Compare(double a, double b) =>
        a < b ? -1
        : a > b ? 1
        : double.IsNegative(a) == double.IsNegative(b) ? 0
        : double.IsNegative(a) ? -1 : 1;
}
