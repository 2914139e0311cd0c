using System.CommandLine;
using Spectre.Console;
using Strata.Api;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>`strata models`: the registry — models, versions, aliases, promotions and their history.</summary>
internal static partial class ModelsCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var backend = new BackendOptions();
        var models = new Command("models", "Model registry: versions, aliases (champion, challenger), promotions that wait for a deployer, alias history.");
        backend.AddTo(models);
        models.Add(List(globals, backend));
        models.Add(Show(globals, backend));
        models.Add(Versions(globals, backend));
        models.Add(Register(globals, backend));
        models.Add(SetStatus(globals, backend, "archive", VersionStatus.Archived, "Archive a version: kept for the record, but no alias can move to it (editors)."));
        models.Add(SetStatus(globals, backend, "restore", VersionStatus.Ready, "Restore an archived version (editors)."));
        models.Add(SetStatus(globals, backend, "delete", VersionStatus.Deleted, "Delete a version: its package is removed by `strata artifacts gc` after the retention period (admins)."));
        models.Add(Alias(globals, backend));
        models.Add(Request(globals, backend));
        models.Add(Decide(globals, backend, approve: true));
        models.Add(Decide(globals, backend, approve: false));
        models.Add(Promotions(globals, backend));
        models.Add(History(globals, backend));
        return models;
    }

    private static Command List(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var command = new Command("list", "List the project's models.") { project };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var all = await store.ListModelsAsync(p, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(all);
                return ExitCodes.Ok;
            }

            var table = RegistryOutput.Table("model", "description", "protected aliases", "created");
            foreach (var m in all)
            {
                table.Row(m.Name, m.Description, string.Join(", ", m.ProtectedAliases), RegistryCli.Time(m.CreatedAt));
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Show(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var name = new Argument<string>("MODEL") { Description = "The model" };
        var command = new Command("show", "Show a model: its aliases, newest versions and pending promotions.") { project, name };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            var model = parse.GetValue(name)!;
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var m = await store.GetModelAsync(p, model, ct).ConfigureAwait(false);
            var aliases = await store.ListAliasesAsync(p, model, ct).ConfigureAwait(false);
            var versions = await store.ListVersionsAsync(p, model, ct).ConfigureAwait(false);
            var pending = await store.ListPromotionsAsync(p, model, ApprovalStatus.Pending, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(new { model = m, aliases, versions, pending });
                return ExitCodes.Ok;
            }

            context.Out.MarkupLineInterpolated($"[bold]{m.Name}[/] in {p}: {versions.Count} versions; protected aliases: {string.Join(", ", m.ProtectedAliases)}");
            var table = RegistryOutput.Table("alias", "version", "protected", "updated", "by");
            foreach (var a in aliases)
            {
                table.Row(a.Alias, a.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), a.Protected ? "yes" : "no", RegistryCli.Time(a.UpdatedAt), a.UpdatedBy);
            }

            context.Out.Write(table);
            foreach (var r in pending)
            {
                context.Out.MarkupLineInterpolated($"[yellow]pending[/] {r.Id}: {r.Alias} → version {r.Version}, asked by {r.RequestedBy}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Versions(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var name = new Argument<string>("MODEL") { Description = "The model" };
        var command = new Command("versions", "List a model's versions, newest first.") { project, name };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var versions = await store.ListVersionsAsync(p, parse.GetValue(name)!, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(versions);
                return ExitCodes.Ok;
            }

            var table = RegistryOutput.Table("version", "status", "learner", "metrics", "run", "digest", "created", "by");
            foreach (var v in versions)
            {
                table.Row(
                    v.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    RegistryOutput.Word(v.Status),
                    v.Learner,
                    string.Join(" ", v.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={RegistryCli.Number(m.Value)}")),
                    v.RunId,
                    v.ArtifactDigest[..12],
                    RegistryCli.Time(v.CreatedAt),
                    v.CreatedBy);
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Alias(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var name = new Argument<string>("MODEL") { Description = "The model" };
        var alias = new Argument<string>("ALIAS") { Description = "The alias (champion, challenger, staging…)" };
        var version = new Argument<int>("VERSION") { Description = "The version to point it at" };
        var reason = new Option<string?>("--reason") { Description = "Why (kept in the alias history)" };
        var command = new Command(
            "alias",
            "Point an alias at a version. An unprotected alias moves now; a protected one (champion) files a promotion request for a deployer, " +
            "which a deployer's own call approves at once (both steps recorded).") { project, name, alias, version, reason };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var change = await store.SetAliasAsync(p, parse.GetValue(name)!, parse.GetValue(alias)!, parse.GetValue(version), parse.GetValue(reason), ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(change);
                return ExitCodes.Ok;
            }

            switch (change.Outcome)
            {
                case AliasOutcome.Pending:
                    context.Out.MarkupLineInterpolated($"[yellow]Promotion requested[/] ({change.Promotion!.Id}): '{change.Promotion.Alias}' is protected and waits for a deployer: strata models approve {change.Promotion.Id}");
                    break;
                case AliasOutcome.Approved:
                    context.Out.MarkupLineInterpolated($"'{change.Alias!.Alias}' → version {change.Alias.Version} (promotion {change.Promotion!.Id} requested and approved).");
                    break;
                default:
                    context.Out.MarkupLineInterpolated($"'{change.Alias!.Alias}' → version {change.Alias.Version}.");
                    break;
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Request(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var name = new Argument<string>("MODEL") { Description = "The model" };
        var alias = new Argument<string>("ALIAS") { Description = "The alias" };
        var version = new Argument<int>("VERSION") { Description = "The version" };
        var reason = new Option<string?>("--reason") { Description = "Why" };
        var command = new Command("request", "Ask for an alias to move to a version; a deployer approves or rejects.") { project, name, alias, version, reason };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var request = await store.RequestPromotionAsync(p, parse.GetValue(name)!, parse.GetValue(alias)!, parse.GetValue(version), parse.GetValue(reason), ct).ConfigureAwait(false);
            Print(context, request);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Decide(GlobalOptions globals, BackendOptions backend, bool approve)
    {
        var project = RegistryCli.ProjectOption();
        var id = new Argument<string>("REQUEST") { Description = "The promotion request's id" };
        var reason = new Option<string?>("--reason") { Description = "Why" };
        var command = new Command(
            approve ? "approve" : "reject",
            approve ? "Approve a promotion request: the alias moves (deployers)." : "Reject a promotion request: nothing moves (deployers).") { project, id, reason };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            Print(context, await store.DecidePromotionAsync(p, parse.GetValue(id)!, approve, parse.GetValue(reason), ct).ConfigureAwait(false));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Promotions(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var model = new Option<string?>("--model") { Description = "Only this model's requests" };
        var status = new Option<string?>("--status") { Description = "pending, approved, rejected or cancelled" };
        var command = new Command("promotions", "List promotion requests, newest first.") { project, model, status };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            ApprovalStatus? s = parse.GetValue(status) is { } text
                ? Enum.TryParse<ApprovalStatus>(text, ignoreCase: true, out var parsed) && !int.TryParse(text, out _)
                    ? parsed
                    : throw new StrataException(ErrorCodes.ArgumentInvalid, $"--status must be pending, approved, rejected or cancelled, not '{text}'")
                : null;
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var all = await store.ListPromotionsAsync(p, parse.GetValue(model), s, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(all);
                return ExitCodes.Ok;
            }

            var table = RegistryOutput.Table("request", "model", "alias", "version", "status", "asked by", "decided by", "reason");
            foreach (var r in all)
            {
                table.Row(r.Id, r.Model, r.Alias, r.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), RegistryOutput.Word(r.Status), r.RequestedBy, r.DecidedBy, r.DecisionReason ?? r.Reason);
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command History(GlobalOptions globals, BackendOptions backend)
    {
        var project = RegistryCli.ProjectOption();
        var name = new Argument<string>("MODEL") { Description = "The model" };
        var alias = new Argument<string>("ALIAS") { Description = "The alias" };
        var at = new Option<string?>("--at") { Description = "Only say which version the alias pointed at at this time (ISO 8601, UTC)" };
        var command = new Command("history", "Every move of an alias (who, when, why, which approval), or with --at the version it meant then.") { project, name, alias, at };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var p = RegistryCli.Project(parse, project);
            var model = parse.GetValue(name)!;
            var aliasName = parse.GetValue(alias)!;
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            if (parse.GetValue(at) is { } text)
            {
                var time = RegistryCli.ParseTime("--at", text);
                var version = await store.ResolveAliasAtAsync(p, model, aliasName, time, ct).ConfigureAwait(false);
                if (context.Json)
                {
                    context.WriteRegistryJson(new ResolvedAlias(model, aliasName, time, version));
                }
                else
                {
                    context.Out.MarkupLineInterpolated($"At {Timestamp.Format(time)}, {model}@{aliasName} was {(version is { } v ? $"version {v}" : "not set")}.");
                }

                return ExitCodes.Ok;
            }

            var moves = await store.GetAliasHistoryAsync(p, model, aliasName, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(moves);
                return ExitCodes.Ok;
            }

            var table = RegistryOutput.Table("#", "time", "from", "to", "by", "approval", "reason");
            foreach (var m in moves)
            {
                table.Row(
                    m.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    RegistryCli.Time(m.Time),
                    m.FromVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "∅",
                    m.ToVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "∅",
                    m.Principal,
                    m.ApprovalId,
                    m.Reason);
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void Print(CliContext context, PromotionRequest request)
    {
        if (context.Json)
        {
            context.WriteRegistryJson(request);
            return;
        }

        context.Out.MarkupLineInterpolated(
            $"Promotion {request.Id}: {request.Model}@{request.Alias} → version {request.Version} is [bold]{RegistryOutput.Word(request.Status)}[/]{(request.DecidedBy is null ? "" : $" (by {request.DecidedBy})")}.");
    }
}
