using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Strata.Artifacts;
using Strata.Features;
using Strata.Data;
using Strata.Monitoring;
using Strata.Monitoring.Drift;
using Strata.Monitoring.Reports;
using Strata.Monitoring.Skew;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>`strata monitor check | status | report | run | skew`: drift between data files, declared monitors run locally, and the results monitors stored per window.</summary>
internal static partial class MonitorCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var monitor = new Command("monitor", "Monitor endpoints: data, prediction and concept drift, alert rules, retraining triggers");
        var backend = new BackendOptions();
        monitor.Add(Check(globals));
        monitor.Add(Status(globals, backend));
        monitor.Add(Report(globals, backend));
        monitor.Add(Labels(globals, backend));
        monitor.Add(Skew(globals, backend));
        monitor.Add(Run(globals, backend));
        backend.AddTo(monitor);
        return monitor;
    }

    private static Command Check(GlobalOptions globals)
    {
        var reference = new Option<string>("--reference") { Description = "Reference data (e.g. the training set): .csv, .jsonl, .arrow, .gz", Required = true };
        var current = new Option<string>("--current") { Description = "Current data (e.g. recent traffic)", Required = true };
        var features = new Option<string?>("--features") { Description = "Comma-separated features to test (default: every column both files share)" };
        var share = new Option<double>("--drift-share") { Description = "Share of drifted features at which the data set drifts", DefaultValueFactory = _ => 0.5 };
        var minimum = new Option<long>("--min-samples") { Description = "Fewest values a feature needs on each side to be tested", DefaultValueFactory = _ => 30 };
        var output = new Option<string?>("--out", "-o") { Description = "Also write a self-contained HTML report here" };
        var read = new ReadOptionsBinder();
        var command = new Command(
            "check",
            "Drift between two data files, from mergeable profiles in bounded memory (Evidently's defaults: Wasserstein/Jensen-Shannon above " +
            "1,000 reference rows, KS/chi-square below). Exit code 4 when the data set drifted.")
        { reference, current, features, share, minimum, output };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var referenceInput = await InputFile.OpenAsync(parse.GetValue(reference)!, ct).ConfigureAwait(false);
            await using var currentInput = await InputFile.OpenAsync(parse.GetValue(current)!, ct).ConfigureAwait(false);
            var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
            var names = parse.GetValue(features)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var driftOptions = new DriftOptions { DriftShare = parse.GetValue(share), MinimumSampleSize = parse.GetValue(minimum) };
            driftOptions.Validate(field => field switch { "min_samples" => "--min-samples", "drift.share" => "--drift-share", _ => $"field '{field}'" });

            var result = await context.WithProgressAsync("Comparing", _ => DriftCheck.RunAsync(
                () => DataFiles.ReadBatchesAsync(referenceInput.Path, options, null, ct),
                DataFiles.ReadBatchesAsync(currentInput.Path, options, null, ct),
                names, driftOptions, ct)).ConfigureAwait(false);
            var drift = result.Drift;
            if (parse.GetValue(output) is { } target)
            {
                var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
                var row = new MonitorResult(
                    "check", "files", "none", 0, now, now + 1, MonitorChecks.DataDrift, MonitorRunner.StatusName(drift.Status),
                    drift.Status == DriftStatus.InsufficientData ? null : drift.DriftShare, result.Current.RowCount,
                    MonitorRunner.Details(drift, result.Reference, result.Current));
                var title = $"Drift: {Path.GetFileName(referenceInput.Path)} → {Path.GetFileName(currentInput.Path)}";
                await DurableFile.WriteAllTextAsync(target, MonitorReport.Html(title, [row]), ct).ConfigureAwait(false);
            }

            if (context.Json)
            {
                context.WriteJson(DriftJson(drift));
            }
            else
            {
                var table = new Spectre.Console.Table().AddColumns("feature", "method", "score", "p-value", "threshold", "status", "ref n", "cur n");
                foreach (var f in drift.Features)
                {
                    table.AddRow(
                        Markup.Escape(f.Feature), f.Method.ToString(), Number(f.Score), f.PValue is { } p ? Number(p) : "", Number(f.Threshold),
                        f.Status switch { DriftStatus.Drift => "[red]drift[/]", DriftStatus.NoDrift => "no drift", _ => "[grey]insufficient data[/]" },
                        f.ReferenceCount.ToString("N0", CultureInfo.InvariantCulture), f.CurrentCount.ToString("N0", CultureInfo.InvariantCulture));
                }

                context.Out.Write(table);
                context.Out.MarkupLineInterpolated(
                    $"Data set: [bold]{MonitorRunner.StatusName(drift.Status)}[/] — {drift.DriftedCount} of {drift.TestedCount} tested features drifted ({drift.DriftShare:P0}; threshold {driftOptions.DriftShare:P0}).");
                if (parse.GetValue(output) is { } written)
                {
                    context.Out.MarkupLineInterpolated($"Report written to [bold]{written}[/].");
                }
            }

            return drift.Status == DriftStatus.Drift ? ExitCodes.Anomalies : ExitCodes.Ok;
        });
        return command;
    }

    private static Command Status(GlobalOptions globals, BackendOptions backend)
    {
        var endpoint = new Argument<string>("ENDPOINT") { Description = "The endpoint" };
        var project = RegistryCli.ProjectOption();
        var command = new Command("status", "The newest result of every monitor check of an endpoint (from --server, else the local home's metadata store).") { endpoint, project };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var name = parse.GetValue(endpoint)!;
            var results = await ResultsAsync(parse, context, backend, RegistryCli.Project(parse, project), new MonitorResultQuery(name, Limit: 10_000), ct).ConfigureAwait(false);
            var latest = results.GroupBy(r => (r.Monitor, r.Check)).Select(g => g.Last()).OrderBy(r => r.Monitor, StringComparer.Ordinal).ThenBy(r => r.Check, StringComparer.Ordinal).ToList();
            if (context.Json)
            {
                context.WriteJson(latest.Select(ResultJson));
                return ExitCodes.Ok;
            }

            if (latest.Count == 0)
            {
                context.Out.MarkupLineInterpolated($"No monitor results for endpoint [bold]{name}[/] yet.");
                return ExitCodes.Ok;
            }

            var table = new Spectre.Console.Table().AddColumns("monitor", "check", "window (UTC)", "version", "rows", "score", "status");
            foreach (var r in latest)
            {
                table.AddRow(
                    Markup.Escape(r.Monitor), Markup.Escape(r.Check), Time(r.WindowStart), r.ModelVersion.ToString(CultureInfo.InvariantCulture),
                    r.Rows.ToString("N0", CultureInfo.InvariantCulture), r.Score is { } s ? Number(s) : "", r.Status is "drift" or "skewed" ? $"[red]{r.Status}[/]" : Markup.Escape(r.Status));
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Report(GlobalOptions globals, BackendOptions backend)
    {
        var endpoint = new Argument<string>("ENDPOINT") { Description = "The endpoint" };
        var project = RegistryCli.ProjectOption();
        var from = new Option<string?>("--from") { Description = "First window start (ISO 8601 UTC or microseconds; default: everything)" };
        var to = new Option<string?>("--to") { Description = "Windows starting before this time (default: now)" };
        var output = new Option<string?>("--out", "-o") { Description = "Write the self-contained HTML report here (default: report.html)" };
        var command = new Command("report", "An HTML report (drift and quality over time, per-feature histograms) of an endpoint's monitor results; --json gives the same data.")
        { endpoint, project, from, to, output };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var name = parse.GetValue(endpoint)!;
            var start = parse.GetValue(from) is { } f ? RegistryCli.ParseTime("--from", f) : (long?)null;
            var end = parse.GetValue(to) is { } t ? RegistryCli.ParseTime("--to", t) : (long?)null;
            var results = await ResultsAsync(parse, context, backend, RegistryCli.Project(parse, project), new MonitorResultQuery(name, start, end, Limit: 100_000), ct)
                .ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteJson(results.Select(ResultJson));
                return ExitCodes.Ok;
            }

            var target = parse.GetValue(output) ?? "report.html";
            await DurableFile.WriteAllTextAsync(target, MonitorReport.Html($"Monitoring report: {name}", results), ct).ConfigureAwait(false);
            context.Out.MarkupLineInterpolated($"{results.Count} results written to [bold]{target}[/] (self-contained; opens offline).");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>`strata monitor labels ENDPOINT FILE`: ground truth from a label file, sent to a server's batch feedback route in chunks.</summary>
    private static Command Labels(GlobalOptions globals, BackendOptions backend)
    {
        const int ChunkLines = 5_000;
        var endpoint = new Argument<string>("ENDPOINT") { Description = "The endpoint that served the requests" };
        var file = new Argument<string>("FILE") { Description = "Labels: .csv with the header request_id,label, or .jsonl of {\"request_id\": …, \"label\": …}" };
        var command = new Command(
            "labels",
            "Send ground truth for served requests to a server (--server): each label is checked against the model that answered; errors name the file's line.")
        { endpoint, file };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var path = parse.GetValue(file)!;
            var format = Path.GetExtension(path).ToLowerInvariant() switch
            {
                ".csv" => "csv",
                ".jsonl" or ".ndjson" => "jsonl",
                var other => throw new StrataException(ErrorCodes.ArgumentInvalid, $"FILE: '{other}' files are not label files; use .csv or .jsonl"),
            };
            using var client = Client(parse, backend)
                ?? throw new StrataException(ErrorCodes.ArgumentInvalid, "strata monitor labels sends to a server: give --server URL (or set STRATA_SERVER)");
            using var reader = new StreamReader(path);
            var header = format == "csv" ? await reader.ReadLineAsync(ct).ConfigureAwait(false) ?? "" : null;
            var line = header is null ? 0 : 1;
            var stored = 0;
            var chunk = new System.Text.StringBuilder();
            var chunkFirst = line + 1;
            var count = 0;
            while (true)
            {
                var text = await reader.ReadLineAsync(ct).ConfigureAwait(false);
                if (text is not null)
                {
                    line++;
                    chunk.Append(text).Append('\n');
                    count++;
                }

                if ((text is null && count > 0) || count == ChunkLines)
                {
                    var body = header is null ? chunk.ToString() : header + "\n" + chunk;
                    try
                    {
                        stored += await client.SendLabelsAsync(parse.GetValue(endpoint)!, format, header is null ? chunkFirst : chunkFirst - 1, body, ct).ConfigureAwait(false);
                    }
                    catch (StrataException e)
                    {
                        throw new StrataException(e.Code, $"{path}: {e.Message.Replace("labels:", "line ", StringComparison.Ordinal)} ({stored} labels of earlier lines were stored)", e);
                    }

                    chunk.Clear();
                    count = 0;
                    chunkFirst = line + 1;
                }

                if (text is null)
                {
                    break;
                }
            }

            if (context.Json)
            {
                context.WriteJson(new { stored });
            }
            else
            {
                context.Out.MarkupLineInterpolated($"{stored} labels stored for endpoint [bold]{parse.GetValue(endpoint)}[/].");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>`strata monitor skew ENDPOINT`: served feature values in the local prediction log vs the offline store's at the same entities and times.</summary>
    private static Command Skew(GlobalOptions globals, BackendOptions backend)
    {
        var endpoint = new Argument<string>("ENDPOINT") { Description = "The endpoint whose prediction log is read" };
        var project = RegistryCli.ProjectOption();
        var service = new Option<string?>("--service") { Description = "The feature service the endpoint enriches from" };
        var features = new Option<string?>("--features") { Description = "Comma-separated features (view:feature) to compare instead of a service" };
        var from = new Option<string?>("--from") { Description = "Records answered from this time (ISO 8601 UTC or microseconds; default: everything)" };
        var to = new Option<string?>("--to") { Description = "Records answered before this time (default: now)" };
        var threshold = new Option<double>("--threshold") { Description = "Share of mismatched rows above which a feature is skewed", DefaultValueFactory = _ => 0.01 };
        var command = new Command("skew", "Training-serving skew: the feature values an endpoint was served (local prediction log) against the offline store's point-in-time values.")
        { endpoint, project, service, features, from, to, threshold };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            if (!string.IsNullOrEmpty(parse.GetValue(backend.Server)))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, "strata monitor skew reads the local home's prediction log: drop --server");
            }

            var start = parse.GetValue(from) is { } f ? RegistryCli.ParseTime("--from", f) : 0;
            var end = parse.GetValue(to) is { } t ? RegistryCli.ParseTime("--to", t) : long.MaxValue;
            var share = parse.GetValue(threshold);
            if (!(share is >= 0 and <= 1))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"--threshold must be a share between 0 and 1, not {share}");
            }

            // NOTE: with --postgres the metadata and the offline store are PostgreSQL's, as for `strata features`.
            var postgres = parse.GetValue(backend.Postgres);
            var metadata = string.IsNullOrEmpty(postgres) ? null : await Postgres.PostgresMetadataStore.OpenAsync(postgres, cancellationToken: ct).ConfigureAwait(false);
            await using var home = await StrataHome.OpenAsync(context.Home, metadata, cancellationToken: ct).ConfigureAwait(false);
            await using var stores = new FeatureStores(
                home.Metadata, string.IsNullOrEmpty(postgres) ? new EmbeddedFeatureBackend(home.Path) : new Postgres.PostgresFeatureBackend(postgres));
            var store = await stores.GetAsync(RegistryCli.Project(parse, project), ct).ConfigureAwait(false);
            var asked = store.Resolve(FeaturesCommands.Split(parse.GetValue(features)), parse.GetValue(service));
            var result = await TrainingServingSkew.CheckAsync(store, asked, Path.Combine(home.Path, "predictions"), parse.GetValue(endpoint)!, start, end,
                new SkewOptions { MaxMismatchShare = share }, ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteJson(new
                {
                    status = SkewResults.StatusName(result.Status),
                    records = result.Records,
                    rows = result.Rows,
                    rows_without_keys = result.RowsWithoutKeys,
                    not_compared = result.NotCompared,
                    features = result.Features.Select(x => new
                    {
                        feature = x.Feature,
                        rows_compared = x.RowsCompared,
                        mismatched = x.Mismatched,
                        unmatched = x.Unmatched,
                        mismatch_share = x.MismatchShare,
                        mean_absolute_difference = x.MeanAbsoluteDifference,
                        threshold = x.Threshold,
                        status = SkewResults.StatusName(x.Status),
                    }),
                });
            }
            else
            {
                var table = new Spectre.Console.Table().AddColumns("feature", "compared", "mismatched", "unmatched", "share", "mean |diff|", "status");

                foreach (var x in result.Features)
                {
                    table.AddRow(Markup.Escape(x.Feature), x.RowsCompared.ToString(CultureInfo.InvariantCulture), x.Mismatched.ToString(CultureInfo.InvariantCulture),
                        x.Unmatched.ToString(CultureInfo.InvariantCulture), Number(x.MismatchShare), x.MeanAbsoluteDifference is { } d ? Number(d) : "–", SkewResults.StatusName(x.Status));
                }

                context.Out.Write(table);
                if (result.NotCompared.Count > 0)
                {
                    context.Out.MarkupLineInterpolated($"Not compared (on-demand, computed from the stored features above): {string.Join(", ", result.NotCompared)}");
                }

                context.Out.MarkupLineInterpolated($"{result.Records} records, {result.Rows} rows ({result.RowsWithoutKeys} without entity keys): [bold]{SkewResults.StatusName(result.Status)}[/]");
            }

            return result.Status == SkewStatus.Skewed ? ExitCodes.Anomalies : ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>A client of --server (or $STRATA_SERVER), or null for the local home.</summary>
    private static Client.StrataClient? Client(ParseResult parse, BackendOptions backend)
    {
        var server = parse.GetValue(backend.Server) ?? Environment.GetEnvironmentVariable("STRATA_SERVER");
        if (string.IsNullOrEmpty(server))
        {
            return null;
        }

        if (!Uri.TryCreate(server, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"--server must be an http:// or https:// URL, not '{server}'");
        }

        return Strata.Client.StrataClient.Create(url, parse.GetValue(backend.ApiKey) ?? Environment.GetEnvironmentVariable("STRATA_API_KEY"));
    }

    /// <summary>Monitor results from --server, else from the local home's metadata store.</summary>
    private static async Task<IReadOnlyList<MonitorResult>> ResultsAsync(
        ParseResult parse, CliContext context, BackendOptions backend, string project, MonitorResultQuery query, CancellationToken ct)
    {
        using var client = Client(parse, backend);
        if (client is not null)
        {
            return await client.ListMonitorResultsAsync(project, query.Endpoint, query.From, query.To, query.Limit, ct).ConfigureAwait(false);
        }

        await using var home = await StrataHome.OpenAsync(context.Home, cancellationToken: ct).ConfigureAwait(false);
        return await home.Metadata.Monitoring.ListResultsAsync(project, query, ct).ConfigureAwait(false);
    }

    private static object DriftJson(DatasetDrift drift) => new
    {
        status = MonitorRunner.StatusName(drift.Status),
        drift_share = drift.DriftShare,
        drifted = drift.DriftedCount,
        tested = drift.TestedCount,
        features = drift.Features.Select(f => new
        {
            feature = f.Feature,
            method = f.Method.ToString(),
            score = double.IsFinite(f.Score) ? f.Score : (double?)null,
            p_value = f.PValue,
            threshold = f.Threshold,
            status = MonitorRunner.StatusName(f.Status),
            reference_count = f.ReferenceCount,
            current_count = f.CurrentCount,
        }),
    };

    internal static object ResultJson(MonitorResult r) => new
    {
        monitor = r.Monitor,
        endpoint = r.Endpoint,
        model = r.Model,
        model_version = r.ModelVersion,
        window_start = Timestamp.Format(r.WindowStart),
        window_end = Timestamp.Format(r.WindowEnd),
        check = r.Check,
        status = r.Status,
        score = r.Score,
        rows = r.Rows,
        details = r.Details is null ? (System.Text.Json.JsonElement?)null : System.Text.Json.JsonDocument.Parse(r.Details).RootElement.Clone(),
    };

    private static string Time(long micros) => Timestamp.Format(micros);

    private static string Number(double v) => double.IsFinite(v) ? v.ToString("G4", CultureInfo.InvariantCulture) : "–";
}
