using System.CommandLine;
using Spectre.Console;

namespace Strata.Cli.Commands;

/// <summary>`strata projects`: create and list projects (the scope of names, keys and roles).</summary>
internal static class ProjectsCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var backend = new BackendOptions();
        var projects = new Command("projects", "Projects: the scope of every name, API key and role.");
        backend.AddTo(projects);

        var name = new Argument<string>("NAME") { Description = "The project's name (letters, digits, '-', '_', '.')" };
        var description = new Option<string?>("--description") { Description = "Free text" };
        var create = new Command("create", "Create a project (on a server: needs an admin key for every project).") { name, description };
        create.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var project = await store.CreateProjectAsync(parse.GetValue(name)!, parse.GetValue(description), ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(project);
            }
            else
            {
                context.Out.MarkupLineInterpolated($"Created project [bold]{project.Name}[/] in {store.Where}.");
            }

            return ExitCodes.Ok;
        });

        var list = new Command("list", "List the projects you can see.");
        list.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var all = await store.ListProjectsAsync(ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(all);
                return ExitCodes.Ok;
            }

            var table = RegistryOutput.Table("project", "description", "created");
            foreach (var p in all)
            {
                table.Row(p.Name, p.Description, RegistryCli.Time(p.CreatedAt));
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });

        projects.Add(create);
        projects.Add(list);
        return projects;
    }
}
