using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Strata.Features;
using Strata.Monitoring;
using Strata.Monitoring.Skew;
using Strata.Registry;
using Strata.Security;
using Strata.Serving;
using Strata.Storage;

namespace Strata.Cli.Commands;

internal static partial class MonitorCommands
{
    /// <summary>
    /// `strata monitor run [ENDPOINT]`: the monitors declared in strata.yaml, run in this process over the local home's
    /// prediction log as the server would run them (windows closed since the last run; results stored; alerts fired).
    /// </summary>
    private static Command Run(GlobalOptions globals, BackendOptions backend)
    {
        var endpoint = new Argument<string?>("ENDPOINT") { Description = "Only this endpoint's monitors (default: every declared monitor)", Arity = ArgumentArity.ZeroOrOne };
        var project = RegistryCli.ProjectOption();
        var config = new Option<string>("--config") { Description = "The file declaring monitors: (and endpoints:, for each endpoint's project and feature service)", DefaultValueFactory = _ => "strata.yaml" };
        var until = new Option<string?>("--until") { Description = "Evaluate the windows that end by this time (ISO 8601 UTC or microseconds; default: now)" };
        var command = new Command(
            "run",
            "Run the monitors declared in strata.yaml over the local home's prediction log: the windows closed since the last run are evaluated " +
            "(drift, quality, training-serving skew against the offline store), stored (strata monitor status / report) and their alert rules fired " +
            "(webhooks, audit log). Exit code 4 when a window drifted or skewed.")
        { endpoint, project, config, until };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            if (!string.IsNullOrEmpty(parse.GetValue(backend.Server)))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, "strata monitor run reads the local home's prediction log: drop --server (a server runs its monitors itself)");
            }

            var path = parse.GetValue(config)!;
            var deployments = await DeploymentYaml.LoadAsync(path, ct).ConfigureAwait(false); // NOTE: also checks the file exists and its size
            var only = parse.GetValue(endpoint);
            var monitors = MonitorConfig.Parse(await File.ReadAllTextAsync(path, ct).ConfigureAwait(false), path).Where(m => only is null || m.Endpoint == only).ToList();
            if (monitors.Count == 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, only is null ? $"{path} declares no monitors" : $"{path} declares no monitor of endpoint '{only}'");
            }

            var now = parse.GetValue(until) is { } u ? RegistryCli.ParseTime("--until", u) : Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
            var postgres = parse.GetValue(backend.Postgres);
            var metadata = string.IsNullOrEmpty(postgres) ? null : await Postgres.PostgresMetadataStore.OpenAsync(postgres, cancellationToken: ct).ConfigureAwait(false);
            await using var home = await StrataHome.OpenAsync(context.Home, metadata, cancellationToken: ct).ConfigureAwait(false);
            await using var stores = new FeatureStores(
                home.Metadata, string.IsNullOrEmpty(postgres) ? new EmbeddedFeatureBackend(home.Path) : new Postgres.PostgresFeatureBackend(postgres));
            var registry = new RegistryService(home.Metadata, home.Artifacts);
            using var http = new HttpClient();
            var alerts = new AlertDispatcher(http, home.Metadata.Audit, pipelines: null);
            using var outbox = new AlertOutbox(home.Metadata.MonitorState, alerts);
            var ticks = new List<(string Project, MonitorSpec Spec, LiveMonitorTick Tick)>();
            await using (alerts.ConfigureAwait(false))
            {
                foreach (var spec in monitors)
                {
                    var deployment = deployments.FirstOrDefault(d => d.Name == spec.Endpoint);
                    var owner = deployment?.Project ?? RegistryCli.Project(parse, project);
                    var skew = spec.Checks.Contains(MonitorChecks.Skew)
                        ? SkewBaseline.Create(await stores.GetAsync(owner, ct).ConfigureAwait(false), spec, SkewBaseline.ServiceOf(spec, deployment?.FeatureService))
                        : null;
                    var monitor = new LiveMonitor(
                        owner, spec, Path.Combine(home.Path, "predictions"), home.Metadata,
                        (v, token) => ReferenceProfiles.FindAsync(registry, Caller.Local, owner, spec.Model, v, token), outbox, skew: skew);
                    ticks.Add((owner, spec, await monitor.TickAsync(now, TimeSpan.Zero, ct).ConfigureAwait(false)));
                }

                await outbox.DeliverDueAsync(ct).ConfigureAwait(false); // what these ticks wrote to the outbox, and anything left from before
                await alerts.FlushAsync(ct).ConfigureAwait(false);
            }

            var results = ticks.SelectMany(t => t.Tick.Results).ToList();
            if (context.Json)
            {
                context.WriteJson(ticks.Select(t => new
                {
                    project = t.Project,
                    monitor = t.Spec.Name,
                    endpoint = t.Spec.Endpoint,
                    closed_until = Timestamp.Format(t.Tick.ClosedUntil),
                    rows = t.Tick.Rows,
                    late = t.Tick.Late,
                    unreferenced = t.Tick.Unreferenced,
                    missed_segments = t.Tick.Missed.Segments,
                    missed_bytes = t.Tick.Missed.Bytes,
                    results = t.Tick.Results.Select(ResultJson),
                }));
            }
            else
            {
                var table = new Spectre.Console.Table().AddColumns("monitor", "check", "window (UTC)", "version", "rows", "score", "status");
                foreach (var r in results)
                {
                    table.AddRow(
                        Markup.Escape(r.Monitor), Markup.Escape(r.Check), Time(r.WindowStart), r.ModelVersion.ToString(CultureInfo.InvariantCulture),
                        r.Rows.ToString("N0", CultureInfo.InvariantCulture), r.Score is { } s ? Number(s) : "", Markup.Escape(r.Status));
                }

                context.Out.Write(table);
                foreach (var (_, spec, tick) in ticks.Where(t => !t.Tick.Missed.IsNone))
                {
                    context.Out.MarkupLineInterpolated($"[yellow]monitor {spec.Name} ({spec.Endpoint}): {tick.Missed.ToString()}[/]");
                }

                context.Out.MarkupLineInterpolated(
                    $"{ticks.Count} monitors, {ticks.Sum(t => t.Tick.Rows):N0} served rows read, {results.Count} results stored; alerts delivered {alerts.Delivered}, failed {alerts.Failed}.");
            }

            return results.Any(r => r.Status is "drift" or "skewed") ? ExitCodes.Anomalies : ExitCodes.Ok;
        });
        return command;
    }
}
