using System.CommandLine;
using Spectre.Console;
using Strata.Features.Definitions;
using Strata.Postgres;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>
/// `strata features`: plan and apply a feature repository folder (YAML definitions) against a project's stored
/// definitions in the local home. Plan writes nothing; apply stores a new version and refuses breaking changes unless
/// --force.
/// </summary>
internal static partial class FeaturesCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var features = new Command("features", "Feature store: entities, sources, feature/aggregation/on-demand views and services, defined in YAML and applied per project.");
        var repo = new Option<string>("--repo") { Description = "The feature repository folder (its *.yaml files)", DefaultValueFactory = _ => ".", Recursive = true };
        var project = new Option<string?>("--project", "-p") { Description = "The project (default: $STRATA_PROJECT)", Recursive = true };
        var postgres = new Option<string?>("--postgres") { Description = "A PostgreSQL connection string holding the metadata instead of the home's SQLite file", Recursive = true };
        features.Add(repo);
        features.Add(project);
        features.Add(postgres);

        var plan = new Command("plan", "Show what applying the repository would change (exit code 3 with file:line when a definition is wrong).");
        plan.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var definitions = await FeatureRepositoryYaml.LoadFolderAsync(parse.GetValue(repo)!, ct).ConfigureAwait(false);
            await using var home = await OpenAsync(parse, postgres, context, ct).ConfigureAwait(false);
            var result = await new FeatureRegistry(home.Metadata).PlanAsync(RegistryCli.Project(parse, project), definitions, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(new { result.Project, result.CurrentVersion, result.CurrentDigest, result.Digest, result.HasChanges, result.Changes });
                return ExitCodes.Ok;
            }

            Show(context, result);
            return ExitCodes.Ok;
        });

        var force = new Option<bool>("--force") { Description = "Apply breaking changes too (retyped or removed features that are served, changed join keys)" };
        var apply = new Command("apply", "Store the repository as the project's next definitions version (a no-op when nothing changed).") { force };
        apply.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var definitions = await FeatureRepositoryYaml.LoadFolderAsync(parse.GetValue(repo)!, ct).ConfigureAwait(false);
            await using var home = await OpenAsync(parse, postgres, context, ct).ConfigureAwait(false);
            var registry = new FeatureRegistry(home.Metadata);
            var name = RegistryCli.Project(parse, project);
            var planned = await registry.PlanAsync(name, definitions, ct).ConfigureAwait(false);
            var version = await registry.ApplyAsync(name, definitions, parse.GetValue(force), Actor.Local, ct).ConfigureAwait(false);
            var changed = version.Version != planned.CurrentVersion;
            if (context.Json)
            {
                context.WriteRegistryJson(new { version.Project, version.Version, version.Digest, version.CreatedAt, version.CreatedBy, Changed = changed, planned.Changes });
                return ExitCodes.Ok;
            }

            if (!changed)
            {
                context.Out.MarkupLineInterpolated($"No changes: project [bold]{name}[/] already has these definitions (version {version.Version}).");
                return ExitCodes.Ok;
            }

            Show(context, planned);
            context.Out.MarkupLineInterpolated($"Applied version [bold]{version.Version}[/] of the feature definitions of project [bold]{name}[/] (digest {version.Digest[..12]}).");
            return ExitCodes.Ok;
        });

        features.Add(plan);
        features.Add(apply);
        foreach (var command in DataCommands(globals, repo, project, postgres))
        {
            features.Add(command);
        }

        return features;
    }

    internal static async Task<StrataHome> OpenAsync(ParseResult parse, Option<string?> postgres, CliContext context, CancellationToken cancellationToken)
    {
        var connection = parse.GetValue(postgres);
        var metadata = string.IsNullOrEmpty(connection) ? null : await PostgresMetadataStore.OpenAsync(connection, cancellationToken: cancellationToken).ConfigureAwait(false);
        return await StrataHome.OpenAsync(context.Home, metadata, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private static void Show(CliContext context, FeaturePlan plan)
    {
        var against = plan.CurrentVersion is { } v ? $"version {v}" : "no stored definitions";
        if (plan.Changes.Count == 0)
        {
            context.Out.MarkupLineInterpolated($"No changes: project [bold]{plan.Project}[/] ({against}) already has these definitions.");
            return;
        }

        var table = RegistryOutput.Table("change", "kind", "name", "detail", "breaking");
        foreach (var c in plan.Changes)
        {
            table.Row(RegistryOutput.Word(c.Action), FeatureRepository.Describe(c.Kind), c.Name, c.Detail, c.Breaking ? "BREAKING" : "");
        }

        context.Out.Write(table);
        var breaking = plan.Breaking.Count;
        context.Out.MarkupLineInterpolated(
            $"{plan.Changes.Count} change{(plan.Changes.Count == 1 ? "" : "s")} against {against} of project [bold]{plan.Project}[/]{(breaking > 0 ? $"; {breaking} breaking (apply needs --force)" : "")}.");
    }
}
