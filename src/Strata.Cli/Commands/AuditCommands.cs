using System.CommandLine;
using Spectre.Console;

namespace Strata.Cli.Commands;

/// <summary>`strata audit`: read the hash-chained audit log and check that nobody edited it.</summary>
internal static class AuditCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var backend = new BackendOptions();
        var audit = new Command("audit", "The audit log: every change, who made it, in which request; hash-chained so edits show.");
        backend.AddTo(audit);

        var verifyProject = new Option<string?>("--project", "-p") { Description = "Check as an admin of this project (on a server without a '*' key)" };
        var verify = new Command("verify", "Recompute the audit chain; exit code 4 when an entry was edited, inserted or removed.") { verifyProject };
        verify.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var result = await store.VerifyAuditAsync(parse.GetValue(verifyProject), ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(result);
            }
            else if (result.Intact)
            {
                context.Out.MarkupLineInterpolated($"[green]intact[/]: {result.Entries} entries chain correctly ({store.Where}).");
            }
            else
            {
                context.Out.MarkupLineInterpolated($"[red]broken[/] at entry {result.FirstBadSequence}: {result.Problem}");
            }

            return result.Intact ? ExitCodes.Ok : ExitCodes.Anomalies;
        });

        var project = new Option<string?>("--project", "-p") { Description = "Only this project's entries (default: all)" };
        var from = new Option<long>("--from") { Description = "First sequence number", DefaultValueFactory = _ => 1 };
        var count = new Option<int>("--count", "-n") { Description = "Entries to show", DefaultValueFactory = _ => 100 };
        var show = new Command("show", "Show audit entries from a sequence number on.") { project, from, count };
        show.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var entries = await store.ReadAuditAsync(parse.GetValue(project), parse.GetValue(from), parse.GetValue(count), ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(entries);
                return ExitCodes.Ok;
            }

            var table = RegistryOutput.Table("#", "time", "principal", "action", "project", "target", "request", "details");
            foreach (var e in entries)
            {
                table.Row(e.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), RegistryCli.Time(e.Time), e.Principal, e.Action, e.Project, e.Target, e.RequestId, e.Details);
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });

        audit.Add(verify);
        audit.Add(show);
        return audit;
    }
}
