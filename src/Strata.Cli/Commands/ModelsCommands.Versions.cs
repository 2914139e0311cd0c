using System.CommandLine;
using Spectre.Console;
using Strata.Api;
using Strata.Learning;
using Strata.Stores;

namespace Strata.Cli.Commands;

// `strata models register|archive|restore|delete`: versions made from files, and their life cycle.
internal static partial class ModelsCommands
{
    private static Command Register(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var name = new Argument<string>("MODEL") { Description = "The model (created when new)" };
        var file = new Option<string>("--file", "-f") { Description = "A model package (.stpkg) or an XGBoost JSON model (stored as a package)", Required = true };
        var run = new Option<string?>("--run") { Description = "The run that trained it (recorded in the lineage)" };
        var description = new Option<string?>("--description") { Description = "Free text kept with the version" };
        var tags = new Option<string[]>("--tag") { Description = "A tag as key=value (repeatable)", AllowMultipleArgumentsPerToken = false };
        var referenceData = new Option<string?>("--reference-data")
        {
            Description = "Training data (.csv, .jsonl, .arrow, .gz): its drift profile on the model's inputs (and a 'prediction' column if it has one) " +
                "is stored with the version as the reference monitors compare live traffic with",
        };
        var command = new Command(
            "register",
            "Register a model file as the model's next version: a package as it is, an XGBoost JSON model imported and stored as a package. " +
            "The file is loaded and validated first; the version records its learner, signature and metrics.") { project, name, file, run, description, tags, referenceData };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            var path = parse.GetValue(file)!;
            var model = await ModelFiles.LoadAsync(path, ct).ConfigureAwait(false);
            var tagMap = LearningCommands.KeyValues("--tag", parse.GetValue(tags));
            // A package is uploaded from the file as it is; an imported model is written as a package in memory first.
            Stream package;
            if (await ModelFiles.IsPackageAsync(path, ct).ConfigureAwait(false))
            {
                package = File.OpenRead(path);
            }
            else
            {
                package = new MemoryStream();
                await ModelPackage.SaveAsync(model, package, ct).ConfigureAwait(false);
                package.Position = 0;
                tagMap.TryAdd("imported_from", "xgboost-json");
            }

            await using var upload = package;
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            // NOTE: the reference is built before the upload, so a bad data file registers nothing.
            var reference = parse.GetValue(referenceData) is { } data ? await ReferenceAsync(data, model, ct).ConfigureAwait(false) : null;
            var version = await store.UploadVersionAsync(p, parse.GetValue(name)!, ModelRegistration.Describe(model, parse.GetValue(run), parse.GetValue(description), tagMap), package, ct)
                .ConfigureAwait(false);
            if (reference is not null)
            {
                await store.PutReferenceProfileAsync(p, version.Model, version.Version, reference.ToUtf8Json(), ct).ConfigureAwait(false);
            }

            if (context.Json)
            {
                context.WriteRegistryJson(version);
                return ExitCodes.Ok;
            }

            context.Out.MarkupLineInterpolated($"Registered [bold]{version.Model}[/] version {version.Version} ({version.Learner}, sha256 {version.ArtifactDigest[..12]}…).");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The drift profile of a training-data file on the model's inputs it has, plus its prediction column when present.</summary>
    private static async Task<Strata.Monitoring.Drift.DriftProfile> ReferenceAsync(string path, Model model, CancellationToken ct)
    {
        await using var input = await InputFile.OpenAsync(path, ct).ConfigureAwait(false);
        var options = new Strata.Data.DataReadOptions();
        IReadOnlyList<string> columns = [];
        await foreach (var batch in Strata.Data.DataFiles.ReadBatchesAsync(input.Path, options, null, ct).ConfigureAwait(false))
        {
            columns = [.. batch.Schema.Names];
            break;
        }

        var features = model.Signature.Inputs.Select(i => i.Name).Where(columns.Contains).ToList();
        if (columns.Contains("prediction"))
        {
            features.Add("prediction");
        }

        if (features.Count == 0)
        {
            throw new StrataException(ErrorCodes.NotFound, $"--reference-data: '{path}' has none of the model's inputs ({string.Join(", ", model.Signature.Inputs.Select(i => i.Name))})");
        }

        return await Strata.Monitoring.ReferenceProfiles.BuildAsync(() => Strata.Data.DataFiles.ReadBatchesAsync(input.Path, options, null, ct), features, ct).ConfigureAwait(false);
    }

    private static Command SetStatus(GlobalOptions globals, BackendOptions backend, string verb, VersionStatus status, string description)
    {
        var project = RegistryCli.ProjectOption();
        var name = new Argument<string>("MODEL") { Description = "The model" };
        var version = new Argument<int>("VERSION") { Description = "The version" };
        var command = new Command(verb, description) { project, name, version };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var changed = await store.SetVersionStatusAsync(p, parse.GetValue(name)!, parse.GetValue(version), status, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(changed);
                return ExitCodes.Ok;
            }

            context.Out.MarkupLineInterpolated($"{changed.Model} version {changed.Version} is now {RegistryOutput.Word(changed.Status)}.");
            return ExitCodes.Ok;
        });
        return command;
    }
}

/// <summary>What a version records about its model, the same whether `train --register` or `models register` made it.</summary>
internal static class ModelRegistration
{
    public static RegisterVersionRequest Describe(Model model, string? runId, string? description = null, IReadOnlyDictionary<string, string>? tags = null) => new()
    {
        RunId = runId,
        Learner = model.Learner,
        Signature = model.Signature.ToJson(),
        Metrics = model.Metrics.Where(m => double.IsFinite(m.Value) && Names.IsValid(m.Key, NameKind.Key)).ToDictionary(m => m.Key, m => m.Value),
        Description = description,
        Tags = tags,
    };
}
