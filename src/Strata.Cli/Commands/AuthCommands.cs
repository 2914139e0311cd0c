using System.CommandLine;
using Spectre.Console;
using Strata.Security;

namespace Strata.Cli.Commands;

/// <summary>`strata auth`: API keys. A key's token is printed once; only its hash is stored.</summary>
internal static class AuthCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var backend = new BackendOptions();
        var auth = new Command("auth", "Identity and access: API keys with a role (viewer, editor, deployer, admin) in one project or in all ('*').");
        backend.AddTo(auth);

        var project = new Option<string>("--project", "-p") { Description = "The key's project, or '*' for every project", Required = true };
        var role = new Option<string>("--role") { Description = "viewer, editor, deployer or admin", Required = true };
        var principal = new Option<string?>("--principal") { Description = "Who the key is for (default: your user name)" };
        var description = new Option<string?>("--description") { Description = "Free text" };
        var create = new Command("create-key", "Make an API key. Its token is printed once, on stdout; only its hash is stored.") { project, role, principal, description };
        create.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var r = AccessPolicy.ParseRole(parse.GetValue(role));
            var who = parse.GetValue(principal) ?? DefaultPrincipal();
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var created = await store.CreateKeyAsync(parse.GetValue(project)!, who, r, parse.GetValue(description), ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(created);
                return ExitCodes.Ok;
            }

            // The token alone on stdout, so `KEY=$(strata auth create-key …)` works; the explanation goes to stderr.
            context.Error.MarkupLineInterpolated(
                $"Created key [bold]{created.Key.Id}[/] for {created.Key.Principal}: {AccessPolicy.Name(created.Key.Role)} in '{created.Key.Project}'. Copy the token now; it cannot be shown again.");
            context.WriteText(created.Token + Environment.NewLine);
            return ExitCodes.Ok;
        });

        var listProject = new Option<string?>("--project", "-p") { Description = "Only this project's keys (default: every key; on a server that needs a '*' admin key)" };
        var list = new Command("list-keys", "List API keys (never their secrets).") { listProject };
        list.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var keys = await store.ListKeysAsync(parse.GetValue(listProject), ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(keys);
                return ExitCodes.Ok;
            }

            var table = RegistryOutput.Table("key", "principal", "project", "role", "created", "by", "revoked", "description");
            foreach (var k in keys)
            {
                table.Row(k.Id, k.Principal, k.Project, AccessPolicy.Name(k.Role), RegistryCli.Time(k.CreatedAt), k.CreatedBy, k.Revoked ? "yes" : "", k.Description);
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });

        var id = new Argument<string>("KEY") { Description = "The key's id (the part after 'strata_')" };
        var revokeProject = new Option<string?>("--project", "-p") { Description = "The key's project (for a project admin's key on a server)" };
        var revoke = new Command("revoke-key", "Revoke an API key: it stops working at once.") { id, revokeProject };
        revoke.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var key = parse.GetValue(id)!;
            await store.RevokeKeyAsync(parse.GetValue(revokeProject), key, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(new { id = key, revoked = true });
            }
            else
            {
                context.Out.MarkupLineInterpolated($"Revoked key {key}.");
            }

            return ExitCodes.Ok;
        });

        auth.Add(create);
        auth.Add(list);
        auth.Add(revoke);
        return auth;
    }

    private static string DefaultPrincipal()
    {
        var user = Environment.UserName;
        return Stores.Names.IsValid(user, Stores.NameKind.Key) ? user : "user";
    }
}
