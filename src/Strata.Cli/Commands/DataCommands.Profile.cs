using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Strata.Data;
using Strata.Data.Profiling;
using Strata.Data.Validation;

namespace Strata.Cli.Commands;

// `strata data profile | schema | validate`: built on mergeable profiles, read in batches so memory stays bounded.
internal static partial class DataCommands
{
    private static readonly string[] Sparks = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

    private static void AddProfileCommands(Command data, GlobalOptions globals)
    {
        data.Add(Profile(globals));
        data.Add(InferSchema(globals));
        data.Add(Validate(globals));
    }

    private static Command Profile(GlobalOptions globals)
    {
        var file = new Argument<string>("FILE") { Description = "Data file (.csv, .tsv, .jsonl, .arrow; .gz allowed; - for standard input)" };
        var output = new Option<string?>("--out", "-o") { Description = "Also save the profile as JSON (mergeable; a reference for `data validate`)" };
        var top = new Option<int>("--top") { Description = "Most frequent values shown per text column", DefaultValueFactory = _ => 3 };
        var read = new ReadOptionsBinder();
        var command = new Command(
            "profile",
            "Profile a file: per column counts, nulls, distinct values (HyperLogLog), min/max, mean and deviation, quantiles " +
            "(KLL sketch), histogram and most frequent values. PII-tagged columns never show values.") { file, output, top };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var input = await InputFile.OpenAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            var path = input.Path;
            var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
            var (profile, _, report, seconds) = await ProfileFileAsync(context, path, options, ct).ConfigureAwait(false);
            if (parse.GetValue(output) is { } target)
            {
                await profile.SaveAsync(target, ct).ConfigureAwait(false);
            }

            context.ShowWarnings(report);
            if (context.Json)
            {
                context.WriteJsonText(profile.ToJson(indented: true));
                return ExitCodes.Ok;
            }

            context.Out.MarkupLineInterpolated($"[bold]{Path.GetFileName(path)}[/]: {profile.RowCount:N0} rows × {profile.Columns.Count} columns, profiled in {seconds:0.00} s");
            context.Out.Write(ProfileView(profile, Math.Max(0, parse.GetValue(top))));
            context.Out.MarkupLine(
                $"[dim]Quantiles are within ±{KllSketch.NormalizedRankError(KllSketch.DefaultK, pmf: false):P2} in rank (KLL, k={KllSketch.DefaultK}); " +
                $"distinct counts marked ~ are estimates within ±{HyperLogLog.StandardErrorFor(HyperLogLog.DefaultPrecision):P1} (HyperLogLog).[/]");
            if (parse.GetValue(output) is { } saved)
            {
                context.Out.MarkupLineInterpolated($"Profile saved to [bold]{saved}[/].");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command InferSchema(GlobalOptions globals)
    {
        var file = new Argument<string>("FILE") { Description = "Data file to infer the schema of" };
        var output = new Option<string?>("--out", "-o") { Description = "Write the schema YAML here (default: print it)" };
        var ranges = new Option<bool>("--infer-ranges") { Description = "Record observed min/max as range constraints" };
        var categories = new Option<int>("--max-categories") { Description = "Text columns with at most this many distinct values get a category list", DefaultValueFactory = _ => 1000 };
        var threshold = new Option<double>("--skew-threshold") { Description = "Skew threshold written for each comparable column", DefaultValueFactory = _ => 0.1 };
        var read = new ReadOptionsBinder();
        var command = new Command(
            "schema",
            "Infer an editable YAML schema from a file: types (from every row), nullability, roles, PII tags, categories and skew thresholds.")
        { file, output, ranges, categories, threshold };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var input = await InputFile.OpenAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            var path = input.Path;
            var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
            var (profile, dataSchema, report, _) = await ProfileFileAsync(context, path, options, ct).ConfigureAwait(false);
            context.ShowWarnings(report);
            var inference = new SchemaInferenceOptions
            {
                InferRanges = parse.GetValue(ranges),
                MaxCategories = parse.GetValue(categories),
                SkewThreshold = parse.GetValue(threshold),
            };
            var schema = SchemaInference.Infer(dataSchema, profile, inference);
            var comment = $"Inferred by `strata data schema` from {Path.GetFileName(path)} ({profile.RowCount:N0} rows).";
            if (parse.GetValue(output) is { } target)
            {
                await SchemaFile.WriteAsync(schema, target, comment, ct).ConfigureAwait(false);
            }

            if (context.Json)
            {
                context.WriteJson(new { fields = schema.Select(FieldJson) });
            }
            else if (parse.GetValue(output) is { } written)
            {
                context.Out.MarkupLineInterpolated($"Schema of {schema.Count} columns written to [bold]{written}[/]; review it, then `strata data validate FILE --schema {written}`.");
            }
            else
            {
                context.WriteText(SchemaFile.ToYaml(schema, comment));
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Validate(GlobalOptions globals)
    {
        var file = new Argument<string>("FILE") { Description = "Data file to check" };
        var schemaOption = new Option<string>("--schema", "-s") { Description = "Schema YAML to check against (from `strata data schema`)", Required = true };
        var reference = new Option<string?>("--reference", "-r") { Description = "Reference profile JSON (from `strata data profile --out`) to measure distribution skew against" };
        var threshold = new Option<double>("--skew-threshold") { Description = "Skew threshold for columns whose schema sets none", DefaultValueFactory = _ => 0.1 };
        var profileOut = new Option<string?>("--profile-out") { Description = "Also save the profile of the checked data" };
        var read = new ReadOptionsBinder();
        var command = new Command(
            "validate",
            "Check a file against a schema: missing or extra columns, type mismatches, null fractions, ranges, unknown categories, " +
            "and distribution skew against a reference profile (L-infinity for categories, Jensen–Shannon for numbers). Exit code 4 when anything is found.")
        { file, schemaOption, reference, threshold, profileOut };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var input = await InputFile.OpenAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            var path = input.Path;
            var schema = await SchemaFile.ReadAsync(parse.GetValue(schemaOption)!, ct).ConfigureAwait(false);
            var referencePath = parse.GetValue(reference);
            var options = new ValidationOptions
            {
                Read = await read.BindAsync(parse, ct).ConfigureAwait(false),
                Reference = referencePath is null ? null : await TableProfile.LoadAsync(referencePath, ct).ConfigureAwait(false),
                DefaultSkewThreshold = parse.GetValue(threshold),
            };
            var watch = Stopwatch.StartNew();
            var (report, profile) = await context.WithProgressAsync(
                $"Validating {Path.GetFileName(path)}",
                p => DataValidator.ValidateAsync(path, schema, options with { Read = options.Read with { Progress = p } }, ct)).ConfigureAwait(false);
            if (parse.GetValue(profileOut) is { } target)
            {
                await profile.SaveAsync(target, ct).ConfigureAwait(false);
            }

            if (context.Json)
            {
                context.WriteJson(new
                {
                    input = report.Input,
                    rows = report.Rows,
                    anomalies = report.Anomalies.Select(a => new { column = a.Column, code = a.Code, description = a.Description, observed = a.Observed, limit = a.Limit, examples = a.Examples }),
                    skew_distances = report.SkewDistances,
                });
            }
            else if (!report.HasAnomalies)
            {
                context.Out.MarkupLineInterpolated($"[green]No anomalies:[/] {report.Rows:N0} rows of {Path.GetFileName(path)} match the schema ({watch.Elapsed.TotalSeconds:0.00} s).");
            }
            else
            {
                context.Out.MarkupLineInterpolated($"[red]{report.Anomalies.Count} anomal{(report.Anomalies.Count == 1 ? "y" : "ies")}[/] in {report.Rows:N0} rows of {Path.GetFileName(path)}:");
                var table = new Spectre.Console.Table().Border(TableBorder.Rounded).AddColumn("column").AddColumn("anomaly").AddColumn("details");
                foreach (var a in report.Anomalies)
                {
                    table.AddRow(Markup.Escape(a.Column), $"[red]{a.Code}[/]", Markup.Escape(a.Description));
                }

                context.Out.Write(table);
            }

            return report.HasAnomalies ? ExitCodes.Anomalies : ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Profiles a file batch by batch (bounded memory), with a progress bar when it takes a while.</summary>
    private static async Task<(TableProfile Profile, Schema Schema, ReadReport Report, double Seconds)> ProfileFileAsync(
        CliContext context, string path, DataReadOptions options, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var report = new ReadReport { Input = path };
        var (profile, schema) = await context.WithProgressAsync($"Profiling {Path.GetFileName(path)}", async p =>
        {
            ProfileBuilder? builder = null;
            Schema? schema = null;
            await foreach (var batch in DataFiles.ReadBatchesAsync(path, options with { Progress = p }, report, ct).ConfigureAwait(false))
            {
                schema ??= batch.Schema;
                builder ??= new ProfileBuilder(batch.Schema);
                builder.Add(batch);
            }

            schema ??= await DataFiles.InferSchemaAsync(path, options, ct).ConfigureAwait(false);
            return ((builder ?? new ProfileBuilder(schema)).Build(), schema);
        }).ConfigureAwait(false);
        return (profile, schema, report, watch.Elapsed.TotalSeconds);
    }

    private static object FieldJson(Field f) => new
    {
        name = f.Name,
        type = f.Type.Name(),
        nullable = f.Nullable,
        role = f.Role.Name(),
        tags = f.Tags,
        constraints = f.Constraints is not { } c ? null : new
        {
            max_null_fraction = c.MaxNullFraction,
            min = c.Min,
            max = c.Max,
            categories = c.Categories,
            max_unknown_fraction = c.MaxUnknownFraction,
            skew = c.Skew is { } s ? new { method = s.Method == SkewMethod.LInfinity ? "linf" : "jensen_shannon", threshold = s.Threshold } : null,
        },
    };

    private static Spectre.Console.Table ProfileView(TableProfile profile, int top)
    {
        var view = new Spectre.Console.Table().Border(TableBorder.Rounded);
        view.AddColumn("column");
        view.AddColumn("type");
        view.AddColumn(new TableColumn("nulls").RightAligned());
        view.AddColumn(new TableColumn("distinct").RightAligned());
        view.AddColumn(new TableColumn("min").RightAligned());
        view.AddColumn(new TableColumn("median").RightAligned());
        view.AddColumn(new TableColumn("max").RightAligned());
        view.AddColumn(new TableColumn("mean ± sd").RightAligned());
        view.AddColumn("distribution / most frequent");
        foreach (var column in profile.Columns)
        {
            var nulls = column.Count == 0 ? "–" : $"{(double)column.NullCount / column.Count:0.#%}";
            var distinct = (column.IsDistinctExact ? "" : "~") + column.DistinctEstimate.ToString("N0", CultureInfo.InvariantCulture);
            string min = "", median = "", max = "", mean = "", shape;
            switch (column)
            {
                case NumericColumnProfile n when n.HasValues:
                    min = Value(column.Type, n.IntegerMin ?? n.Min);
                    median = Value(column.Type, n.Quantile(0.5));
                    max = Value(column.Type, n.IntegerMax ?? n.Max);
                    mean = column.Type == DataType.Timestamp || n.Mean is null
                        ? ""
                        : $"{Number(n.Mean.Value)} ± {Number(n.StandardDeviation ?? 0)}";
                    shape = Sparkline(n.Histogram(12));
                    break;
                case BoolColumnProfile b when b.TrueCount is { } t && column.ValidCount > 0:
                    shape = $"true {(double)t / column.ValidCount:0.#%}";
                    break;
                case StringColumnProfile s when s.TopValues(top) is { } values:
                    shape = string.Join(", ", values.Select(v => $"{Truncate(v.Value)} {(double)v.Count / Math.Max(1, column.ValidCount):0.#%}"));
                    break;
                default:
                    shape = column.IsPii ? "[pii: values withheld]" : "";
                    break;
            }

            view.AddRow(
                Markup.Escape(column.Name),
                column.Type.Name() + (column.IsPii ? " [yellow](pii)[/]" : ""),
                nulls,
                distinct,
                Markup.Escape(min),
                Markup.Escape(median),
                Markup.Escape(max),
                Markup.Escape(mean),
                column.IsPii ? "[dim]values withheld[/]" : Markup.Escape(shape));
        }

        return view;
    }

    private static string Sparkline(IReadOnlyList<HistogramBin>? bins)
    {
        if (bins is null || bins.Count == 0)
        {
            return "";
        }

        var peak = Math.Max(1, bins.Max(b => b.Count));
        return string.Concat(bins.Select(b => b.Count == 0 ? " " : Sparks[(int)Math.Min(Sparks.Length - 1, b.Count * Sparks.Length / (peak + 1))]));
    }

    private static string Value(DataType type, double? value) => value is not { } v
        ? ""
        : type == DataType.Timestamp ? Timestamp.Format((long)v).Replace("T", " ", StringComparison.Ordinal).TrimEnd('Z') : Number(v);

    private static string Number(double v) => Math.Abs(v) >= 1e6 || (Math.Abs(v) < 1e-3 && v != 0)
        ? v.ToString("0.###e0", CultureInfo.InvariantCulture)
        : v.ToString("#,0.###", CultureInfo.InvariantCulture);

    private static string Truncate(string s) => s.Length > 16 ? s[..15] + "…" : s;
}
