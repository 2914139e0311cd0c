using System.Text.RegularExpressions;
using Strata.Data.Profiling;

namespace Strata.Data.Validation;

/// <summary>How much <see cref="SchemaInference"/> writes into a schema beyond types.</summary>
public sealed record SchemaInferenceOptions
{
    /// <summary>A string column with at most this many distinct values gets a category list.</summary>
    public int MaxCategories { get; init; } = 1000;

    /// <summary>Record the observed min and max as range constraints (off by default: later data often goes beyond them).</summary>
    public bool InferRanges { get; init; }

    /// <summary>The skew threshold written for every comparable column (Jensen–Shannon or L-infinity).</summary>
    public double SkewThreshold { get; init; } = 0.1;
}

/// <summary>
/// Turns a profile into a starting schema, as TensorFlow Data Validation's <c>infer_schema</c> does: types and
/// nullability from the data, roles from simple signs, category lists for low-cardinality strings, skew thresholds;
/// everything is meant to be reviewed and edited.
/// </summary>
public static partial class SchemaInference
{
    /// <summary>Infers a schema from the data's schema (types, and any declared roles and tags) and its profile.</summary>
    public static Schema Infer(Schema data, TableProfile profile, SchemaInferenceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(profile);
        options ??= new SchemaInferenceOptions();
        var timestamps = data.Where(f => f.Type == DataType.Timestamp).ToArray();
        var declaredEventTime = data.Any(f => f.Role == FieldRole.EventTime);
        var fields = new List<Field>(data.Count);
        foreach (var field in data)
        {
            var column = profile.TryGetColumn(field.Name, out var c) ? c : null;
            var nullable = column is null || column.NullCount > 0 || column.Count == 0;
            var role = field.Role;
            var tags = field.Tags.ToList();
            if (role == FieldRole.Feature && column is not null)
            {
                role = InferRole(field, column, timestamps.Length == 1 && !declaredEventTime);
            }

            if (column is StringColumnProfile strings && !field.IsPii && LooksLikeEmail(strings))
            {
                tags.Add("pii:email");
            }

            var pii = field.IsPii || tags.Any(t => t.StartsWith("pii", StringComparison.OrdinalIgnoreCase));
            var constraints = pii || column is null ? null : Constraints(field, column, role, options);
            fields.Add(new Field(field.Name, field.Type, nullable, role, tags, constraints is { IsEmpty: false } ? constraints : null));
        }

        return new Schema(fields);
    }

    private static FieldRole InferRole(Field field, ColumnProfile column, bool onlyTimestamp)
    {
        if (field.Type == DataType.Timestamp && onlyTimestamp)
        {
            return FieldRole.EventTime;
        }

        // A text or integer column whose every value is different identifies rows; nothing to learn from.
        var unique = column.ValidCount >= 100 && column.NullCount == 0
            && (column.IsDistinctExact ? column.DistinctEstimate == column.ValidCount : column.DistinctEstimate >= column.ValidCount * (1 - (3 * column.DistinctStandardError)));
        return unique && field.Type is DataType.String or DataType.Int64 or DataType.Int32 ? FieldRole.Id : FieldRole.Feature;
    }

    private static FieldConstraints Constraints(Field field, ColumnProfile column, FieldRole role, SchemaInferenceOptions options)
    {
        if (role is FieldRole.Id or FieldRole.Ignore)
        {
            return new FieldConstraints();
        }

        switch (column)
        {
            case StringColumnProfile strings:
                var categorical = strings.FrequenciesAreExact == true
                    && strings.ValidCount > 0
                    && strings.DistinctEstimate <= options.MaxCategories
                    && strings.DistinctEstimate <= Math.Max(1, strings.ValidCount / 2);
                if (!categorical)
                {
                    return new FieldConstraints();
                }

                var values = strings.TopValues(int.MaxValue)!.Select(v => v.Value).Order(StringComparer.Ordinal).ToArray();
                return new FieldConstraints { Categories = values, Skew = new SkewCheck(SkewMethod.LInfinity, options.SkewThreshold) };
            case BoolColumnProfile:
                return new FieldConstraints { Skew = new SkewCheck(SkewMethod.LInfinity, options.SkewThreshold) };
            case NumericColumnProfile numbers when numbers.HasValues:
                return new FieldConstraints
                {
                    Min = options.InferRanges ? numbers.IntegerMin ?? numbers.Min : null,
                    Max = options.InferRanges ? numbers.IntegerMax ?? numbers.Max : null,
                    Skew = field.Role == FieldRole.EventTime || role == FieldRole.EventTime ? null : new SkewCheck(SkewMethod.JensenShannon, options.SkewThreshold),
                };
            default:
                return new FieldConstraints();
        }
    }

    private static bool LooksLikeEmail(StringColumnProfile column)
    {
        var top = column.TopValues(50);
        if (top is null || top.Count == 0)
        {
            return false;
        }

        var matches = top.Count(v => EmailPattern().IsMatch(v.Value));
        return matches * 10 >= top.Count * 9;
    }

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex EmailPattern();
}
