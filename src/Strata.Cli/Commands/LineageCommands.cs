using System.CommandLine;
using Spectre.Console;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>`strata lineage`: where a model came from (or what was made from it), as a tree.</summary>
internal static class LineageCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var backend = new BackendOptions();
        var lineage = new Command("lineage", "Lineage: the data sets, runs and artifacts a model came from, and what was made from them.");
        backend.AddTo(lineage);

        var project = RegistryCli.ProjectOption();
        var reference = new Argument<string>("MODEL") { Description = "model:NAME@ALIAS, model:NAME/VERSION or NAME (the newest version)" };
        var downstream = new Option<bool>("--downstream") { Description = "Show what was made from the model instead of where it came from" };
        var show = new Command("show", "Print a model version's upstream lineage as a tree.") { project, reference, downstream };
        show.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            var up = !parse.GetValue(downstream);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var version = await RegistryCli.ResolveModelAsync(store, p, parse.GetValue(reference)!, ct).ConfigureAwait(false);
            var graph = await store.GetVersionLineageAsync(p, version.Model, version.Version, up, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(new { model = version.Model, version = version.Version, direction = up ? "upstream" : "downstream", graph });
                return ExitCodes.Ok;
            }

            var artifacts = graph.Artifacts.ToDictionary(a => a.Id, StringComparer.Ordinal);
            var executions = graph.Executions.ToDictionary(e => e.Id, StringComparer.Ordinal);
            var root = artifacts[graph.Root];
            var tree = new Tree(Markup.Escape(Describe(root)));
            Grow(tree, root.Id, graph, artifacts, executions, up, [root.Id]);
            context.Out.Write(tree);
            return ExitCodes.Ok;
        });
        lineage.Add(show);
        return lineage;
    }

    /// <summary>
    /// Adds, under an artifact, the executions that made it (upstream) or used it (downstream), and under each
    /// execution the artifacts it read (upstream) or wrote (downstream); an artifact met twice on a path is not expanded again.
    /// </summary>
    private static void Grow(IHasTreeNodes node, string artifactId, LineageGraph graph, Dictionary<string, LineageArtifact> artifacts, Dictionary<string, LineageExecution> executions, bool up, HashSet<string> path)
    {
        var toExecution = up ? LineageEventType.Output : LineageEventType.Input;
        var fromExecution = up ? LineageEventType.Input : LineageEventType.Output;
        foreach (var e in graph.Events.Where(e => e.ArtifactId == artifactId && e.Type == toExecution).Select(e => e.ExecutionId).Distinct(StringComparer.Ordinal))
        {
            if (!executions.TryGetValue(e, out var execution))
            {
                continue;
            }

            var child = node.AddNode(Markup.Escape($"{execution.Type} {execution.Name} [{execution.State}]"));
            foreach (var a in graph.Events.Where(x => x.ExecutionId == e && x.Type == fromExecution).Select(x => x.ArtifactId).Distinct(StringComparer.Ordinal))
            {
                if (!artifacts.TryGetValue(a, out var artifact))
                {
                    continue;
                }

                var leaf = child.AddNode(Markup.Escape(Describe(artifact)));
                if (path.Add(a))
                {
                    Grow(leaf, a, graph, artifacts, executions, up, path);
                    path.Remove(a);
                }
            }
        }
    }

    private static string Describe(LineageArtifact a) => a.Digest is null ? $"{a.Type} {a.Name}" : $"{a.Type} {a.Name} (sha256:{a.Digest[..12]}…)";
}
