using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Strata.Data;
using Strata.Learning;
using Strata.Learning.Linear;
using Strata.Learning.Metrics;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>`strata train | predict | evaluate | explain`: the Learning stratum on files, with models saved as packages.</summary>
internal static class LearningCommands
{
    public static IEnumerable<Command> Build(GlobalOptions globals)
    {
        yield return Train(globals);
        yield return Predict(globals);
        yield return Evaluate(globals);
        yield return Explain(globals);
    }

    private static Command Train(GlobalOptions globals)
    {
        var data = new Option<string>("--data", "-d") { Description = "Training data (.csv, .jsonl, .arrow; .gz allowed)", Required = true };
        var label = new Option<string>("--label", "-y") { Description = "The label column", Required = true };
        var learner = new Option<string>("--learner", "-l") { Description = "gbdt, logistic, linear or svm", DefaultValueFactory = _ => "gbdt" };
        var valid = new Option<string?>("--valid") { Description = "Validation data: metric per round, early stopping (gbdt), calibration (svm)" };
        var settings = new Option<string[]>("--set") { Description = "A learner option as key=value (repeatable), e.g. --set max_depth=6 --set eta=0.1", AllowMultipleArgumentsPerToken = false };
        var features = new Option<string?>("--features") { Description = "Feature columns, comma-separated (default: every feature-role column but the label and weight)" };
        var categorical = new Option<string?>("--categorical") { Description = "Integer or bool columns to treat as categories, comma-separated (text columns always are)" };
        var weight = new Option<string?>("--weight") { Description = "A column of sample weights" };
        var task = new Option<string?>("--task") { Description = "binary, multiclass or regression (default: from the label)" };
        var output = new Option<string>("--out", "-o") { Description = "Where to write the model package", DefaultValueFactory = _ => "model.stpkg" };
        var experiment = new Option<string?>("--experiment") { Description = "Track the run in this experiment of the local home (created if missing)" };
        var register = new Option<string?>("--register") { Description = "Register the model under this name in the local home (created if missing)" };
        var project = new Option<string>("--project") { Description = "Project for --experiment and --register (created if missing)", DefaultValueFactory = _ => "default" };
        var read = new ReadOptionsBinder();
        var command = new Command("train", "Train a model (gradient-boosted trees or a linear learner) on a data file and save it as a model package.")
        {
            data, label, learner, valid, settings, features, categorical, weight, task, output, experiment, register, project,
        };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
            var spec = new TrainingSpec
            {
                Label = parse.GetValue(label)!,
                Features = Split(parse.GetValue(features)),
                Categorical = Split(parse.GetValue(categorical)),
                Weight = parse.GetValue(weight),
                Task = parse.GetValue(task) is { } t ? (LearningNames.TryParseTask(t, out var parsed) ? parsed : throw new StrataException(ErrorCodes.ArgumentInvalid, $"--task must be binary, multiclass or regression, not '{t}'")) : null,
            };
            var chosen = Learners.Create(parse.GetValue(learner)!, KeyValues("--set", parse.GetValue(settings)));
            var watch = Stopwatch.StartNew();
            var trainPath = parse.GetValue(data)!;
            var trainTable = (await context.WithProgressAsync($"Reading {Path.GetFileName(trainPath)}", p => DataFiles.ReadAsync(trainPath, options with { Progress = p }, ct)).ConfigureAwait(false)).Table;

            // The plan before the work: the signature is checked against the data before training compute is spent
            // (with the task the label's values decided, which the schema alone cannot tell for integer labels).
            var train = TrainingData.FromTable(trainTable, spec);
            var signature = chosen.GetOutputSchema(trainTable.Schema, spec with { Task = train.Task });
            TrainingData? validation = null;
            if (parse.GetValue(valid) is { } validPath)
            {
                var validTable = (await DataFiles.ReadAsync(validPath, options, ct).ConfigureAwait(false)).Table;
                validation = TrainingData.FromTable(validTable, spec, like: train);
            }

            var readSeconds = watch.Elapsed.TotalSeconds;
            var history = new List<TrainingProgress>();
            var model = await context.WithTrainingProgressAsync($"Training {chosen.Name}", p => chosen.FitAsync(train, validation, new Tee(p, history), ct)).ConfigureAwait(false);
            var trainSeconds = watch.Elapsed.TotalSeconds - readSeconds;
            var packagePath = parse.GetValue(output)!;
            await ModelPackage.SaveAsync(model, packagePath, ct).ConfigureAwait(false);
            var digest = await Sha256Async(packagePath, ct).ConfigureAwait(false);

            string? runId = null;
            ModelVersion? version = null;
            var experimentName = parse.GetValue(experiment);
            var modelName = parse.GetValue(register);
            if (experimentName is not null || modelName is not null)
            {
                (runId, version) = await TrackAsync(context, parse.GetValue(project)!, experimentName ?? "default", modelName, trainPath, chosen, model, history, packagePath, ct).ConfigureAwait(false);
            }

            var summary = new
            {
                learner = chosen.Name,
                task = model.Task.Name(),
                rows = train.Rows,
                features = train.Features.Count,
                classes = model.ClassLabels,
                signature_inputs = signature.Inputs.Count,
                metrics = model.Metrics,
                read_seconds = Math.Round(readSeconds, 2),
                train_seconds = Math.Round(trainSeconds, 2),
                package = packagePath,
                package_sha256 = digest,
                run_id = runId,
                registered = version is null ? null : $"{version.Model}/{version.Version}",
            };
            if (context.Json)
            {
                context.WriteJson(summary);
                return ExitCodes.Ok;
            }

            context.Out.MarkupLineInterpolated($"Trained [bold]{chosen.Name}[/] ({model.Task.Name()}) on {train.Rows:N0} rows × {train.Features.Count} features in {trainSeconds:0.00} s (reading {readSeconds:0.00} s).");
            foreach (var (name, value) in model.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                context.Out.MarkupLineInterpolated($"  {name} = {value.ToString("0.######", CultureInfo.InvariantCulture)}");
            }

            context.Out.MarkupLineInterpolated($"Model package: [bold]{packagePath}[/] (sha256 {digest[..12]}…)");
            if (runId is not null)
            {
                context.Out.MarkupLineInterpolated($"Run [bold]{runId}[/] tracked in project '{parse.GetValue(project)}'.");
            }

            if (version is not null)
            {
                context.Out.MarkupLineInterpolated($"Registered [bold]{version.Model}[/] version {version.Version}.");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Predict(GlobalOptions globals)
    {
        var modelOption = new Option<string>("--model", "-m") { Description = "A model package (.stpkg) or an XGBoost JSON model", Required = true };
        var data = new Option<string>("--data", "-d") { Description = "Rows to predict (.csv, .jsonl, .arrow)", Required = true };
        var output = new Option<string?>("--out", "-o") { Description = "Write predictions here (.csv, .jsonl, .arrow); default: print the first rows" };
        var keep = new Option<string?>("--keep") { Description = "Input columns to copy next to the predictions, comma-separated" };
        var rows = new Option<int>("--rows", "-n") { Description = "Rows to print when there is no --out", DefaultValueFactory = _ => 20 };
        var read = new ReadOptionsBinder();
        var command = new Command("predict", "Predict with a model: probabilities and labels for classifiers, values for regression.") { modelOption, data, output, keep, rows };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var model = await ModelFiles.LoadAsync(parse.GetValue(modelOption)!, ct).ConfigureAwait(false);
            var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
            var dataPath = parse.GetValue(data)!;
            var input = (await context.WithProgressAsync($"Reading {Path.GetFileName(dataPath)}", p => DataFiles.ReadAsync(dataPath, options with { Progress = p }, ct)).ConfigureAwait(false)).Table;
            var watch = Stopwatch.StartNew();
            var predictions = model.Predict(input);
            var seconds = watch.Elapsed.TotalSeconds;
            var kept = Split(parse.GetValue(keep));
            if (kept is { Count: > 0 })
            {
                var extra = input.Select(kept);
                predictions = new Table(new Schema(extra.Schema.Concat(predictions.Schema)), extra.Columns.Concat(predictions.Columns));
            }

            if (parse.GetValue(output) is { } target)
            {
                await DataFiles.WriteAsync(predictions, target, cancellationToken: ct).ConfigureAwait(false);
                if (context.Json)
                {
                    context.WriteJson(new { model = model.Learner, rows = predictions.RowCount, output = target, seconds = Math.Round(seconds, 4) });
                }
                else
                {
                    context.Out.MarkupLineInterpolated($"Wrote {predictions.RowCount:N0} predictions to [bold]{target}[/] ({predictions.RowCount / Math.Max(seconds, 1e-9):N0} rows/s).");
                }

                return ExitCodes.Ok;
            }

            var shown = predictions.Slice(0, Math.Min(Math.Max(0, parse.GetValue(rows)), predictions.RowCount));
            if (context.Json)
            {
                context.WriteJson(new { rows = DataCommands.RowsOf(shown) });
            }
            else
            {
                context.Out.Write(DataCommands.TableView(shown));
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Evaluate(GlobalOptions globals)
    {
        var modelOption = new Option<string>("--model", "-m") { Description = "A model package or an XGBoost JSON model", Required = true };
        var data = new Option<string>("--data", "-d") { Description = "Labelled rows to evaluate on", Required = true };
        var label = new Option<string?>("--label", "-y") { Description = "The label column (default: the one the model learned)" };
        var slice = new Option<string?>("--slice") { Description = "Also compute every metric per value of this column" };
        var weight = new Option<string?>("--weight") { Description = "A column of sample weights" };
        var read = new ReadOptionsBinder();
        var command = new Command(
            "evaluate",
            "Evaluate a model: ROC AUC, PR AUC, log loss, Brier, accuracy, precision/recall/F1, calibration error, confusion matrix; RMSE, MAE, R² for regression; overall and per slice.")
        { modelOption, data, label, slice, weight };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var model = await ModelFiles.LoadAsync(parse.GetValue(modelOption)!, ct).ConfigureAwait(false);
            var labelName = parse.GetValue(label) ?? model.LabelName
                ?? throw new StrataException(ErrorCodes.ArgumentInvalid, "this model does not record its label column; give --label");
            var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
            var dataPath = parse.GetValue(data)!;
            var table = (await context.WithProgressAsync($"Reading {Path.GetFileName(dataPath)}", p => DataFiles.ReadAsync(dataPath, options with { Progress = p }, ct)).ConfigureAwait(false)).Table;
            var report = Evaluation.Evaluate(model, table, labelName, parse.GetValue(slice), parse.GetValue(weight));
            if (context.Json)
            {
                context.WriteJson(new { label = labelName, slice = report.SliceColumn, rows = DataCommands.RowsOf(report.ToTable()) });
            }
            else
            {
                context.WriteText(report.ToText());
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Explain(GlobalOptions globals)
    {
        var modelOption = new Option<string>("--model", "-m") { Description = "A model package or an XGBoost JSON model", Required = true };
        var row = new Option<string?>("--row") { Description = "One row as name=value pairs, comma-separated (e.g. --row distance=1200,origin=ATL)" };
        var data = new Option<string?>("--data", "-d") { Description = "A data file to take the row from (with --index)" };
        var index = new Option<int>("--index") { Description = "The 0-based row of --data to explain", DefaultValueFactory = _ => 0 };
        var top = new Option<int>("--top", "-k") { Description = "Contributions to show", DefaultValueFactory = _ => 10 };
        var read = new ReadOptionsBinder();
        var command = new Command(
            "explain",
            "Explain a model: without a row, feature importance (gain, splits, cover) or linear weights; with --row or --data/--index, " +
            "that prediction's per-feature contributions (exact TreeSHAP), which add up with the bias to the raw margin.")
        { modelOption, row, data, index, top };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var model = await ModelFiles.LoadAsync(parse.GetValue(modelOption)!, ct).ConfigureAwait(false);
            Table? input = null;
            if (parse.GetValue(row) is { } text)
            {
                input = RowTable(model, text);
            }
            else if (parse.GetValue(data) is { } path)
            {
                var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
                var table = (await DataFiles.ReadAsync(path, options, ct).ConfigureAwait(false)).Table;
                var at = parse.GetValue(index);
                if (at < 0 || at >= table.RowCount)
                {
                    throw new StrataException(ErrorCodes.ArgumentInvalid, $"--index {at} is outside the {table.RowCount} rows of {path}");
                }

                input = table.Slice(at, 1);
            }

            return input is null ? ShowImportance(context, model, parse.GetValue(top)) : ShowContributions(context, model, input, parse.GetValue(top));
        });
        return command;
    }

    private static int ShowImportance(CliContext context, Model model, int top)
    {
        switch (model)
        {
            case TreeEnsembleModel trees:
            {
                var importance = FeatureImportance.Of(trees).OrderByDescending(f => f.TotalGain).Take(Math.Max(1, top)).ToList();
                if (context.Json)
                {
                    context.WriteJson(importance.Select(f => new { feature = f.Feature, gain = f.TotalGain, splits = f.Splits, cover = f.TotalCover, average_gain = f.AverageGain }));
                    return ExitCodes.Ok;
                }

                var view = new Spectre.Console.Table().Border(TableBorder.Rounded).AddColumn("feature").AddColumn(new TableColumn("total gain").RightAligned())
                    .AddColumn(new TableColumn("splits").RightAligned()).AddColumn(new TableColumn("cover").RightAligned());
                foreach (var f in importance)
                {
                    view.AddRow(Markup.Escape(f.Feature), f.TotalGain.ToString("G6", CultureInfo.InvariantCulture), f.Splits.ToString(CultureInfo.InvariantCulture), f.TotalCover.ToString("G6", CultureInfo.InvariantCulture));
                }

                context.Out.Write(view);
                return ExitCodes.Ok;
            }

            case LinearModel linear:
                if (context.Json)
                {
                    context.WriteJson(new { description = linear.Describe() });
                }
                else
                {
                    context.WriteText(linear.Describe() + Environment.NewLine);
                }

                return ExitCodes.Ok;
            default:
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"explanations are available for tree and linear models, not {model.Learner}");
        }
    }

    private static int ShowContributions(CliContext context, Model model, Table input, int top)
    {
        if (model is not TreeEnsembleModel trees)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "per-prediction contributions (TreeSHAP) are for tree models; for a linear model run explain without a row to see its weights");
        }

        var features = FeatureMatrix.FromTable(input, model.Signature.Inputs);
        var rowValues = new float[features.Count];
        for (var f = 0; f < features.Count; f++)
        {
            rowValues[f] = features.Value(f, 0);
        }

        var contributions = TreeShap.Contributions(trees, rowValues);
        var prediction = model.Predict(input);
        var outputs = Enumerable.Range(0, contributions.OutputCount).Select(k => new
        {
            output = model.Task == LearningTask.MulticlassClassification ? model.ClassLabels![k] : model.Signature.Outputs[0].Name,
            bias = contributions.Bias(k),
            margin = contributions.Margin(k),
            contributions = contributions.Features.Select((name, f) => (name, value: contributions[k, f], input: DataCommands.Display(input[name], 0)))
                .OrderByDescending(c => Math.Abs(c.value)).Take(Math.Max(1, top))
                .Select(c => new { feature = c.name, value = c.input, contribution = c.value }).ToList(),
        }).ToList();
        if (context.Json)
        {
            context.WriteJson(new { prediction = DataCommands.RowsOf(prediction)[0], outputs });
            return ExitCodes.Ok;
        }

        context.Out.MarkupLineInterpolated($"Prediction: {string.Join(", ", prediction.Schema.Select((f, i) => $"{f.Name} = {DataCommands.Display(prediction[i], 0)}"))}");
        foreach (var output in outputs)
        {
            var view = new Spectre.Console.Table().Border(TableBorder.Rounded).Title(Markup.Escape($"{output.output}: margin {output.margin:0.#####} = bias {output.bias:0.#####} + contributions"))
                .AddColumn("feature").AddColumn("value").AddColumn(new TableColumn("contribution").RightAligned());
            foreach (var c in output.contributions)
            {
                view.AddRow(Markup.Escape(c.feature), Markup.Escape(c.value), (c.contribution >= 0 ? "[green]+" : "[red]") + c.contribution.ToString("0.#####", CultureInfo.InvariantCulture) + "[/]");
            }

            context.Out.Write(view);
        }

        return ExitCodes.Ok;
    }

    /// <summary>A one-row table from "name=value" pairs, typed by the model's inputs (a missing input is null).</summary>
    private static Table RowTable(Model model, string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"--row: '{pair}' is not name=value");
            }

            values[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }

        var unknown = values.Keys.Where(k => model.Signature.Input(k) is null).ToList();
        if (unknown.Count > 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"--row: the model has no input {string.Join(", ", unknown.Select(u => $"'{u}'"))} (inputs: {string.Join(", ", model.Signature.Inputs.Select(i => i.Name))})");
        }

        var columns = new List<(string, Column)>();
        foreach (var input in model.Signature.Inputs)
        {
            values.TryGetValue(input.Name, out var value);
            if (input.Kind == FeatureKind.Categorical)
            {
                columns.Add((input.Name, Columns.String(string.IsNullOrEmpty(value) ? null : value)));
            }
            else
            {
                double? number = null;
                if (!string.IsNullOrEmpty(value))
                {
                    number = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                        ? d
                        : throw new StrataException(ErrorCodes.ArgumentInvalid, $"--row: input '{input.Name}' is numeric, not '{value}'");
                }

                columns.Add((input.Name, Columns.Float64(number)));
            }
        }

        return Table.From([.. columns]);
    }

    /// <summary>Tracks the training as a run (settings as parameters, per-round metrics, the package as an artifact) and optionally registers it.</summary>
    private static async Task<(string RunId, ModelVersion? Version)> TrackAsync(
        CliContext context, string project, string experiment, string? modelName, string dataPath, ILearner learner, Model model, List<TrainingProgress> history, string packagePath, CancellationToken ct)
    {
        await using var home = await StrataHome.OpenAsync(context.Home, cancellationToken: ct).ConfigureAwait(false);
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        var me = Caller.Local;
        if (await home.Metadata.Projects.GetAsync(project, ct).ConfigureAwait(false) is null)
        {
            await registry.CreateProjectAsync(me, project, null, ct).ConfigureAwait(false);
        }

        if (await home.Metadata.Tracking.GetExperimentAsync(project, experiment, ct).ConfigureAwait(false) is null)
        {
            await registry.CreateExperimentAsync(me, project, experiment, null, ct).ConfigureAwait(false);
        }

        var dataDigest = await Sha256Async(dataPath, ct).ConfigureAwait(false);
        var run = await registry.CreateRunAsync(me, project, experiment, new RunSpec
        {
            Name = $"{learner.Name} on {Path.GetFileName(dataPath)}",
            Params = learner.Settings.Where(s => Names.IsValid(s.Key, NameKind.Key)).ToDictionary(s => s.Key, s => s.Value),
            Tags = new Dictionary<string, string> { ["learner"] = learner.Name, ["task"] = model.Task.Name() },
            Source = new RunSource(null, null, new Dictionary<string, string> { [Path.GetFileName(dataPath)] = dataDigest }, System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                new Dictionary<string, string> { ["Strata"] = typeof(Model).Assembly.GetName().Version?.ToString() ?? "0" }, "strata train"),
        }, ct).ConfigureAwait(false);
        var points = new List<MetricPoint>();
        foreach (var p in history)
        {
            if (p.TrainValue is { } t && p.Metric is { } m && Names.IsValid($"train.{m}", NameKind.Key))
            {
                points.Add(new MetricPoint($"train.{m}", t, p.Round, 0));
            }

            if (p.ValidValue is { } v && p.Metric is { } n && Names.IsValid($"valid.{n}", NameKind.Key))
            {
                points.Add(new MetricPoint($"valid.{n}", v, p.Round, 0));
            }
        }

        points.AddRange(model.Metrics.Where(m => !double.IsNaN(m.Value) && Names.IsValid(m.Key, NameKind.Key)).Select(m => new MetricPoint(m.Key, m.Value, history.Count, 0)));
        await registry.LogBatchAsync(me, project, run.Id, points, null, null, ct).ConfigureAwait(false);
        BlobInfo package;
        await using (var file = File.OpenRead(packagePath))
        {
            package = await registry.PutRunArtifactAsync(me, project, run.Id, "model/model.stpkg", file, ct).ConfigureAwait(false);
        }

        await registry.EndRunAsync(me, project, run.Id, RunStatus.Finished, ct).ConfigureAwait(false);
        ModelVersion? version = null;
        if (modelName is not null)
        {
            if (await home.Metadata.Registry.GetModelAsync(project, modelName, ct).ConfigureAwait(false) is null)
            {
                await registry.CreateModelAsync(me, project, modelName, null, null, ct).ConfigureAwait(false);
            }

            // The run's artifact is the package: the version refers to the same blob rather than storing it again.
            version = await registry.RegisterVersionAsync(me, project, modelName, VersionRegistration.From(ModelRegistration.Describe(model, run.Id) with { ArtifactDigest = package.Digest }), ct)
                .ConfigureAwait(false);
        }

        return (run.Id, version);
    }

    private static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        await using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(file, ct).ConfigureAwait(false));
    }

    /// <summary>Options given as key=value (--set, --tag): text around the '=' is trimmed; a later key wins.</summary>
    internal static Dictionary<string, string> KeyValues(string option, string[]? pairs)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs ?? [])
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{option} '{pair}' is not key=value");
            }

            map[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }

        return map;
    }

    private static List<string>? Split(string? list) =>
        list is null ? null : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();


    /// <summary>Reports progress to the display and keeps every report for tracking.</summary>
    private sealed class Tee(IProgress<TrainingProgress> display, List<TrainingProgress> history) : IProgress<TrainingProgress>
    {
        private readonly Lock _lock = new();

        public void Report(TrainingProgress value)
        {
            display.Report(value);
            lock (_lock)
            {
                history.Add(value);
            }
        }
    }
}
