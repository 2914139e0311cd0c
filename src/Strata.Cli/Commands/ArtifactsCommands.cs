using System.CommandLine;
using Spectre.Console;

namespace Strata.Cli.Commands;

/// <summary>`strata artifacts`: maintenance of the content-addressed artifact store.</summary>
internal static class ArtifactsCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var backend = new BackendOptions();
        var artifacts = new Command("artifacts", "The content-addressed artifact store (model packages, run files).");
        backend.AddTo(artifacts);

        var dryRun = new Option<bool>("--dry-run") { Description = "Only count what would be deleted" };
        var grace = new Option<double>("--grace-hours") { Description = "Keep unreferenced blobs younger than this (uploads not yet registered)", DefaultValueFactory = _ => 24 };
        var retention = new Option<double>("--retention-days") { Description = "Keep packages of deleted versions this long", DefaultValueFactory = _ => 30 };
        var gc = new Command("gc", "Delete blobs nothing refers to (after a grace period), and packages of versions deleted before the retention period.") { dryRun, grace, retention };
        gc.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var hours = parse.GetValue(grace);
            var days = parse.GetValue(retention);
            if (!double.IsFinite(hours) || hours < 0 || !double.IsFinite(days) || days < 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, "--grace-hours and --retention-days must not be negative");
            }

            await using var store = await backend.OpenAsync(parse, context, ct).ConfigureAwait(false);
            var report = await store.CollectGarbageAsync(parse.GetValue(dryRun), TimeSpan.FromHours(hours), TimeSpan.FromDays(days), ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(report);
            }
            else
            {
                context.Out.MarkupLineInterpolated(
                    $"{(report.DryRun ? "Would delete" : "Deleted")} {report.Deleted} of {report.Blobs} blobs ({report.BytesFreed:N0} bytes); {report.Referenced} in use, {report.KeptForGrace} kept for the grace period.");
            }

            return ExitCodes.Ok;
        });
        artifacts.Add(gc);
        return artifacts;
    }
}
