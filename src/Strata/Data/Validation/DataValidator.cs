using System.Globalization;
using Strata.Data.Profiling;

namespace Strata.Data.Validation;

/// <summary>Options for <see cref="DataValidator"/>.</summary>
public sealed record ValidationOptions
{
    /// <summary>A profile of reference data (e.g. the training set) to measure distribution skew against.</summary>
    public TableProfile? Reference { get; init; }

    /// <summary>Skew threshold for fields whose schema sets none (used only with a reference).</summary>
    public double DefaultSkewThreshold { get; init; } = 0.1;

    /// <summary>How to read the file (format, CSV dialect, limits).</summary>
    public DataReadOptions Read { get; init; } = new();

    /// <summary>Options for the profile computed on the way.</summary>
    public ProfileOptions? Profile { get; init; }
}

/// <summary>
/// Checks a data file against a schema and reports anomalies the way TensorFlow Data Validation does: missing and extra
/// columns, values of the wrong type, too many nulls, values out of range, unknown categories, and distribution skew
/// against a reference profile. The file is read in batches, so memory stays bounded whatever its size.
/// </summary>
public static class DataValidator
{
    /// <summary>Validates a file; returns the report and the profile of the data (with the schema's types).</summary>
    public static async Task<(ValidationReport Report, TableProfile Profile)> ValidateAsync(
        string path,
        Schema schema,
        ValidationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        options ??= new ValidationOptions();
        var format = options.Read.Format ?? await DataFiles.DetectFormatAsync(path, cancellationToken).ConfigureAwait(false);
        var read = options.Read with { Format = format, Schema = null };
        var fileSchema = await DataFiles.InferSchemaAsync(path, read, cancellationToken).ConfigureAwait(false);
        var anomalies = new List<Anomaly>();

        // Declare the schema's types for the columns the file has, so a value that does not fit is counted, not fatal.
        var present = schema.Where(f => fileSchema.Contains(f.Name)).ToArray();
        var typeless = new HashSet<string>(StringComparer.Ordinal);
        Schema? declared = null;
        if (format == DataFormat.Arrow)
        {
            foreach (var field in present)
            {
                var actual = fileSchema[field.Name].Type;
                if (!Widens(actual, field.Type))
                {
                    typeless.Add(field.Name);
                    anomalies.Add(new Anomaly(field.Name, AnomalyKind.TypeMismatch, $"the file holds {actual.Name()} values where the schema expects {field.Type.Name()}"));
                }
            }
        }
        else
        {
            // Every column is declared (extra ones with their inferred type), so the batches need a single pass.
            declared = new Schema(fileSchema.Select(f => schema.TryIndexOf(f.Name) is >= 0 and var i ? schema[i].WithNullable(true).WithConstraints(null) : f));
            read = read with
            {
                Schema = declared,
                Csv = read.Csv with { BadValues = BadValueHandling.Null },
                JsonLines = read.JsonLines with { BadValues = BadValueHandling.Null },
            };
        }

        var checkers = present.Where(f => !typeless.Contains(f.Name)).ToDictionary(f => f.Name, f => new ConstraintChecker(f), StringComparer.Ordinal);
        ProfileBuilder? builder = null;
        var report = new ReadReport { Input = path };
        long rows = 0;
        await foreach (var batch in DataFiles.ReadBatchesAsync(path, read, report, cancellationToken).ConfigureAwait(false))
        {
            var tagged = batch.WithSchema(new Schema(batch.Schema.Select(f => schema.TryIndexOf(f.Name) is >= 0 and var i ? f.WithTags(schema[i].Tags) : f)));
            builder ??= new ProfileBuilder(tagged.Schema, options.Profile);
            builder.Add(tagged);
            rows += batch.RowCount;
            foreach (var (name, checker) in checkers)
            {
                checker.Add(batch[name]);
            }
        }

        builder ??= new ProfileBuilder(new Schema(fileSchema.Select(f => schema.TryIndexOf(f.Name) is >= 0 and var i ? f.WithTags(schema[i].Tags) : f)), options.Profile);
        var profile = builder.Build();

        foreach (var field in schema)
        {
            if (!fileSchema.Contains(field.Name))
            {
                anomalies.Add(new Anomaly(
                    field.Name,
                    AnomalyKind.MissingColumn,
                    field.Nullable ? "the column is in the schema but not in the data" : "the column is in the schema (not nullable) but not in the data"));
                continue;
            }

            if (typeless.Contains(field.Name))
            {
                continue;
            }

            var checker = checkers[field.Name];
            var bad = report.BadValuesByColumn.GetValueOrDefault(field.Name);
            if (bad is not null)
            {
                anomalies.Add(new Anomaly(
                    field.Name,
                    AnomalyKind.TypeMismatch,
                    $"{bad.Count:N0} value(s) ({Percent(bad.Count, rows)}) are not {field.Type.Name()}; the first is {bad.FirstValue} at line {bad.FirstLine}",
                    Observed: Fraction(bad.Count, rows)));
            }

            CheckNulls(field, checker.Nulls - (bad?.Count ?? 0), rows, anomalies);
            CheckRange(field, checker, rows, anomalies);
            CheckCategories(field, checker, anomalies);
        }

        foreach (var extra in fileSchema.Where(f => !schema.Contains(f.Name)))
        {
            anomalies.Add(new Anomaly(extra.Name, AnomalyKind.ExtraColumn, $"the data has a {extra.Type.Name()} column the schema does not list"));
        }

        var distances = new Dictionary<string, double>(StringComparer.Ordinal);
        if (options.Reference is { } reference)
        {
            foreach (var field in schema)
            {
                if (field.IsPii || typeless.Contains(field.Name) || !profile.TryGetColumn(field.Name, out var current) || !reference.TryGetColumn(field.Name, out var before))
                {
                    continue;
                }

                CheckSkew(field, before, current, options.DefaultSkewThreshold, distances, anomalies);
            }
        }

        var order = schema.Names.Concat(fileSchema.Names).Distinct(StringComparer.Ordinal).Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        var sorted = anomalies.OrderBy(a => order.GetValueOrDefault(a.Column, int.MaxValue)).ThenBy(a => a.Kind).ToList();
        return (new ValidationReport { Input = path, Rows = rows, Anomalies = sorted, SkewDistances = distances }, profile);
    }

    private static void CheckNulls(Field field, long nulls, long rows, List<Anomaly> anomalies)
    {
        if (nulls <= 0 || rows == 0)
        {
            return;
        }

        var fraction = Fraction(nulls, rows);
        if (!field.Nullable)
        {
            anomalies.Add(new Anomaly(field.Name, AnomalyKind.NullFraction, $"{nulls:N0} null(s) ({Percent(nulls, rows)}) in a column that is not nullable", fraction, 0));
        }
        else if (field.Constraints?.MaxNullFraction is { } limit && fraction > limit)
        {
            anomalies.Add(new Anomaly(field.Name, AnomalyKind.NullFraction, $"{Percent(nulls, rows)} of the values are null, above the limit of {limit:P2}", fraction, limit));
        }
    }

    private static void CheckRange(Field field, ConstraintChecker checker, long rows, List<Anomaly> anomalies)
    {
        if (field.Constraints is not { } c || (c.Min is null && c.Max is null))
        {
            return;
        }

        var outside = checker.BelowMin + checker.AboveMax;
        if (outside == 0)
        {
            return;
        }

        var range = $"[{(c.Min is { } min ? checker.Show(min) : "-∞")}, {(c.Max is { } max ? checker.Show(max) : "∞")}]";
        anomalies.Add(new Anomaly(
            field.Name,
            AnomalyKind.OutOfRange,
            $"{outside:N0} value(s) ({Percent(outside, rows)}) are outside {range}; the data spans [{checker.Show(checker.ObservedMin)}, {checker.Show(checker.ObservedMax)}]",
            Fraction(outside, rows)));
    }

    private static void CheckCategories(Field field, ConstraintChecker checker, List<Anomaly> anomalies)
    {
        if (field.Constraints?.Categories is null || checker.Unknown == 0)
        {
            return;
        }

        var valid = checker.Rows - checker.Nulls;
        var fraction = Fraction(checker.Unknown, valid);
        var limit = field.Constraints.MaxUnknownFraction ?? 0;
        if (fraction <= limit)
        {
            return;
        }

        var examples = checker.UnknownExamples.Count == 0 ? "" : $", e.g. {ConstraintChecker.Quote(checker.UnknownExamples)}";
        anomalies.Add(new Anomaly(
            field.Name,
            AnomalyKind.UnknownCategory,
            $"{checker.Unknown:N0} value(s) ({Percent(checker.Unknown, valid)}) are not among the schema's {field.Constraints.Categories.Count} categories{examples}",
            fraction,
            limit,
            checker.UnknownExamples));
    }

    private static void CheckSkew(Field field, ColumnProfile reference, ColumnProfile current, double defaultThreshold, Dictionary<string, double> distances, List<Anomaly> anomalies)
    {
        var method = field.Constraints?.Skew?.Method ?? (field.Type is DataType.String or DataType.Bool ? SkewMethod.LInfinity : SkewMethod.JensenShannon);
        var threshold = field.Constraints?.Skew?.Threshold ?? defaultThreshold;
        if (field.Role is FieldRole.Id or FieldRole.Ignore or FieldRole.EventTime && field.Constraints?.Skew is null)
        {
            return;
        }

        double distance;
        string detail;
        try
        {
            if (method == SkewMethod.LInfinity)
            {
                distance = ProfileDistances.LInfinity(reference, current);
                detail = LargestChange(reference, current);
            }
            else
            {
                distance = ProfileDistances.JensenShannon(reference, current);
                detail = "";
            }
        }
        catch (StrataException)
        {
            // Different types or kinds: the type check reports it; there is no distance to speak of.
            return;
        }

        distances[field.Name] = distance;
        if (distance > threshold)
        {
            var name = method == SkewMethod.LInfinity ? "L-infinity" : "Jensen–Shannon";
            anomalies.Add(new Anomaly(
                field.Name,
                AnomalyKind.DistributionSkew,
                $"{name} distance {distance.ToString("0.###", CultureInfo.InvariantCulture)} from the reference is above the threshold {threshold.ToString("0.###", CultureInfo.InvariantCulture)}{detail}",
                distance,
                threshold));
        }
    }

    private static string LargestChange(ColumnProfile reference, ColumnProfile current)
    {
        if (reference is not StringColumnProfile a || current is not StringColumnProfile b)
        {
            return "";
        }

        var best = (Value: "", Before: 0.0, After: 0.0);
        foreach (var value in a.TopValues(100)!.Concat(b.TopValues(100)!).Select(v => v.Value).Distinct(StringComparer.Ordinal))
        {
            var before = a.Frequency(value) ?? 0;
            var after = b.Frequency(value) ?? 0;
            if (Math.Abs(after - before) > Math.Abs(best.After - best.Before))
            {
                best = (value, before, after);
            }
        }

        return best.Value.Length == 0 && best.Before == 0 && best.After == 0
            ? ""
            : $" (largest change: '{best.Value}' {best.Before:P1} → {best.After:P1})";
    }

    private static bool Widens(DataType from, DataType to) =>
        from == to
        || (from, to) is (DataType.Int32, DataType.Int64) or (DataType.Int32, DataType.Float64) or (DataType.Int64, DataType.Float64)
            or (DataType.Float32, DataType.Float64) or (DataType.Int32, DataType.Float32);

    private static double Fraction(long part, long whole) => whole == 0 ? 0 : (double)part / whole;

    private static string Percent(long part, long whole) => Fraction(part, whole).ToString("0.##%", CultureInfo.InvariantCulture);
}
