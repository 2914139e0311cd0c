using System.Globalization;
using Strata.Data;
using Strata.Monitoring;
using Strata.Monitoring.Reports;
using Strata.Security;
using Strata.Server.Hosting;
using Strata.Stores;

namespace Strata.Cli.Commands;

// Stage 5: the months after training replayed hour by hour through the endpoint (flight events pushed as they land,
// hourly features materialized, each departing flight predicted, labels fed back), with delays shifted part-way; the
// declared monitor run over the prediction log; its alert's webhook, audit entry and retraining run; the HTML report.
internal sealed partial class Quickstart
{
    /// <summary>Extra minutes of delay of every replayed flight from the shift on: the drift.</summary>
    public const int DelayShiftMinutes = 45;

    private const long MicrosPerHour = 3_600_000_000L;

    private const string MonitorWindow = "1d";
    private const long MonitorMinSamples = 100;
    private const int AlertWindows = 3;

    /// <summary>Wasserstein distance (in reference standard deviations) above which a delay feature drifts.</summary>
    private const double DelayDriftThreshold = 0.75;

    /// <summary>
    /// The same for the 1 d maximum delay: its spread is wide, so the shift moves it fewer standard deviations than the
    /// means (mostly 0.5-0.9, where spring's days stay under 0.45). It must count: online windows end at the read time, so
    /// the 1 h mean is missing for an origin without a landing in the past hour (as in the training set), and the small
    /// sample has too few to test it, leaving the two 1 d features to decide a window.
    /// </summary>
    private const double MaxDelayDriftThreshold = 0.5;

    private async Task MonitorAsync(QuickstartStage stage, CancellationToken cancellationToken)
    {
        var streamEnd = TrainingEnd + (_options.StreamDays * Timestamp.MicrosPerDay);
        var shiftFrom = TrainingEnd + (_options.ShiftAfterDays * Timestamp.MicrosPerDay);
        var stream = Shifted(Between(Flights, TrainingEnd, streamEnd), shiftFrom);
        var events = FlightEvents(Shifted(Between(Flights, SampleStart, streamEnd), shiftFrom), TrainingEnd, streamEnd);
        _progress.Step($"replaying {stream.RowCount:N0} flights of {Day(TrainingEnd)} to {Day(streamEnd)} hour by hour; delays +{DelayShiftMinutes} min from {Day(shiftFrom)}");

        var labels = await ReplayAsync(stream, events, streamEnd, cancellationToken).ConfigureAwait(false);
        _clock.Set(streamEnd);
        var state = _server!.Services.GetService(typeof(ServerState)) as ServerState ?? throw new InvalidOperationException("no server state");
        await state.Serving.FlushPredictionLogAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < labels.Count; i += 5000)
        {
            var chunk = labels.Skip(i).Take(5000).Select(l => new Dictionary<string, object> { ["request_id"] = l.RequestId, ["label"] = l.Label }).ToList();
            await QuickstartHttp.PostAsync(Client, $"/v1/endpoints/{Endpoint}/feedback", new Dictionary<string, object> { ["labels"] = chunk }, cancellationToken).ConfigureAwait(false);
        }

        // The offline store gets the replayed events too (a streaming job's batch flush), so retraining sees them.
        for (var i = 0; i < events.RowCount; i += 20_000)
        {
            await PushAsync(events.Slice(i, Math.Min(20_000, events.RowCount - i)), "offline", cancellationToken).ConfigureAwait(false);
        }

        // Retraining learns the new regime from the latest six weeks (so the shifted days are in its training part) and is
        // tested on the latest 10%, where the champion and the baseline are scored too.
        var retrainData = Path.Combine(_options.Home, "pipelines", "flights-recent.arrow");
        await DataFiles.WriteAsync(Shifted(Between(Flights, streamEnd - (42 * Timestamp.MicrosPerDay), streamEnd), shiftFrom), retrainData, cancellationToken: cancellationToken).ConfigureAwait(false);
        var (trials, rounds) = _options.Tuning;
        await Artifacts.DurableFile.WriteAllTextAsync(Path.Combine(_options.Home, "pipelines", "retrain.yaml"),
            QuickstartFiles.Pipeline("retrain", "flights-recent.arrow", trials, rounds, "0.01", test: 0.1), cancellationToken).ConfigureAwait(false);

        // The monitor declared in strata.yaml, run over the prediction log and the fed-back labels.
        var config = Path.Combine(_options.Home, "strata.yaml");
        var spec = MonitorConfig.Parse(await File.ReadAllTextAsync(config, cancellationToken).ConfigureAwait(false), config).Single();
        var reference = await ReferenceProfiles.LoadAsync(Registry, Caller.Local, Project, ModelName, _champion, cancellationToken).ConfigureAwait(false);
        using var http = new HttpClient();
        var dispatcher = new AlertDispatcher(http, Home.Metadata.Audit, new ServerPipelineTrigger(Client, Project));
        IReadOnlyList<MonitorResult> results;
        long fed;
        int joined;
        await using (dispatcher.ConfigureAwait(false))
        {
            var runner = new MonitorRunner(Project, spec, reference, Home.Metadata.Monitoring, dispatcher);
            var feed = new PredictionLogFeed(Path.Combine(_options.Home, "predictions"), Endpoint, spec.PredictionColumn, reference.Layout);
            fed = await feed.FeedAsync(runner, cancellationToken).ConfigureAwait(false);
            joined = await feed.FeedLabelsAsync(runner, Home.Metadata.Monitoring, Project, cancellationToken: cancellationToken).ConfigureAwait(false);
            results = await runner.EvaluateAsync(streamEnd, new Actor("quickstart"), cancellationToken).ConfigureAwait(false);
            await dispatcher.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        var runs = dispatcher.PipelineRuns;
        _progress.Step($"monitor evaluated {results.Count} window checks over {fed:N0} logged predictions and {joined:N0} labels; retraining runs started: {runs.Count}");
        PipelineRun? retrain = null;
        foreach (var id in runs)
        {
            retrain = await WaitForRunAsync(id, cancellationToken).ConfigureAwait(false);
            _progress.Step($"retraining run {id}: {retrain.State.ToString().ToLowerInvariant()}");
        }

        var drift = results.Where(r => r.Check == MonitorChecks.DataDrift).OrderBy(r => r.WindowStart).ToList();
        var firstDrift = drift.FirstOrDefault(r => r.Status == "drift");
        var audit = await Registry.ReadAuditAsync(Caller.Local, Project, 0, 100_000, cancellationToken).ConfigureAwait(false);
        var alerts = audit.Where(a => a.Action == "monitor.alert").ToList();
        var aliases = await Registry.ListAliasesAsync(Caller.Local, Project, ModelName, cancellationToken).ConfigureAwait(false);
        var champion = aliases.FirstOrDefault(a => a.Alias == "champion")?.Version;
        var challenger = aliases.FirstOrDefault(a => a.Alias == "challenger")?.Version;
        var pending = await Registry.ListPromotionsAsync(Caller.Local, Project, ModelName, ApprovalStatus.Pending, cancellationToken).ConfigureAwait(false);

        var stored = await Home.Metadata.Monitoring.ListResultsAsync(Project, new MonitorResultQuery(Endpoint), cancellationToken).ConfigureAwait(false);
        ReportPath = Path.Combine(Folder("reports"), "monitor.html");
        await Artifacts.DurableFile.WriteAllTextAsync(ReportPath, MonitorReport.Html($"{Endpoint}: {ModelName}", stored), cancellationToken).ConfigureAwait(false);

        stage.Figures["replayed_flights"] = stream.RowCount;
        stage.Figures["replayed_events"] = events.RowCount;
        stage.Figures["shift_minutes"] = DelayShiftMinutes;
        stage.Figures["shift_from"] = Timestamp.Format(shiftFrom);
        stage.Figures["logged_predictions"] = fed;
        stage.Figures["labels_joined"] = joined;
        stage.Figures["windows"] = drift.Count;
        stage.Figures["drifted_windows"] = drift.Count(r => r.Status == "drift");
        stage.Figures["first_drift_window"] = firstDrift is null ? null : Timestamp.Format(firstDrift.WindowStart);
        stage.Figures["window_status"] = drift.Select(r => $"{Day(r.WindowStart)} {r.Status}").ToList();
        stage.Figures["quality_auc"] = results.Where(r => r.Check.StartsWith("quality", StringComparison.Ordinal) && r.Score is not null)
            .GroupBy(r => r.Check).ToDictionary(g => g.Key, g => g.Select(r => Math.Round(r.Score!.Value, 4)).ToList());
        stage.Figures["alerts_audited"] = alerts.Count;
        stage.Figures["alert"] = alerts.FirstOrDefault()?.Details;
        stage.Figures["webhook_deliveries"] = _hook!.Bodies.Count;
        stage.Figures["retrain_run"] = retrain?.Id;
        stage.Figures["retrain_state"] = retrain?.State.ToString().ToLowerInvariant();
        stage.Figures["champion_version"] = champion;
        stage.Figures["challenger_version"] = challenger;
        stage.Figures["pending_approval"] = pending.Select(p => $"{p.Alias} <- v{p.Version}").ToList();
        stage.Figures["report"] = ReportPath;
        stage.Headline = string.Create(CultureInfo.InvariantCulture,
            $"{drift.Count(r => r.Status == "drift")}/{drift.Count} daily windows drifted (first {(firstDrift is null ? "none" : Day(firstDrift.WindowStart))}); alert: {_hook.Bodies.Count} webhook, {alerts.Count} audit; ")
            + (challenger is { } c && champion != c ? $"retrained v{c} is challenger awaiting approval, champion stays v{champion}" : "no challenger");
    }

    /// <summary>
    /// Replays the stream hour by hour on the server's clock: the events that landed in the past hour are pushed to the
    /// online store, the hourly features materialized, and every flight departing in the hour predicted on its own (so its
    /// label can be fed back by request id). Returns the labels.
    /// </summary>
    private async Task<List<(string RequestId, int Label)>> ReplayAsync(Table stream, Table events, long end, CancellationToken cancellationToken)
    {
        var dates = stream.GetColumn<long>("date");
        var origins = stream.GetStringColumn("origin");
        var distances = stream.GetColumn<long>("distance");
        var delays = stream.GetColumn<long>("delay");
        var landed = events.GetColumn<long>("date");
        var labels = new List<(string, int)>(stream.RowCount);
        int row = 0, eventRow = 0;
        for (var hour = TrainingEnd; hour < end; hour += MicrosPerHour)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _clock.Set(hour);
            var firstEvent = eventRow;
            while (eventRow < events.RowCount && landed[eventRow] < hour)
            {
                eventRow++;
            }

            if (eventRow > firstEvent)
            {
                await PushAsync(events.Slice(firstEvent, eventRow - firstEvent), "online", cancellationToken).ConfigureAwait(false);
            }

            await QuickstartHttp.PostAsync(Client, $"/api/v1/projects/{Project}/features/materialize-incremental",
                new Dictionary<string, object> { ["end_ts"] = Timestamp.Format(hour) }, cancellationToken).ConfigureAwait(false);
            var first = row;
            while (row < stream.RowCount && dates[row] < hour + MicrosPerHour)
            {
                row++;
            }

            var answers = await Task.WhenAll(Enumerable.Range(first, row - first).Select(async i =>
            {
                var answer = await QuickstartHttp.PostAsync(Client, $"/v1/endpoints/{Endpoint}/predict",
                    new { rows = new[] { new Dictionary<string, object?> { ["origin"] = origins[i], ["distance"] = distances[i] } } }, cancellationToken).ConfigureAwait(false);
                return (answer["requestId"]!.GetValue<string>(), delays[i] > 15 ? 1 : 0);
            })).ConfigureAwait(false);
            labels.AddRange(answers);
        }

        return labels;
    }

    private async Task PushAsync(Table events, string to, CancellationToken cancellationToken)
    {
        var dates = events.GetColumn<long>("date");
        var df = new Dictionary<string, object>
        {
            ["origin"] = Enumerable.Range(0, events.RowCount).Select(i => events.GetStringColumn("origin")[i]).ToArray(),
            ["date"] = Enumerable.Range(0, events.RowCount).Select(i => Timestamp.Format(dates[i])).ToArray(),
            ["delay"] = events.GetColumn<long>("delay").Values.ToArray(),
            ["distance"] = events.GetColumn<long>("distance").Values.ToArray(),
        };
        await QuickstartHttp.PostAsync(Client, $"/api/v1/projects/{Project}/features/push",
            new Dictionary<string, object> { ["push_source_name"] = "flight_events", ["df"] = df, ["to"] = to }, cancellationToken).ConfigureAwait(false);
    }

    private async Task<PipelineRun> WaitForRunAsync(string id, CancellationToken cancellationToken)
    {
        while (true)
        {
            var run = await Home.Metadata.Pipelines.GetRunAsync(Project, id, cancellationToken).ConfigureAwait(false);
            if (run is { EndedAt: not null })
            {
                return run;
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The flights with <see cref="DelayShiftMinutes"/> added to the delay of those departing from <paramref name="from"/> on.</summary>
    private static Table Shifted(Table flights, long from)
    {
        var dates = flights.GetColumn<long>("date");
        var delays = flights.GetColumn<long>("delay");
        var shifted = new long?[flights.RowCount];
        for (var i = 0; i < shifted.Length; i++)
        {
            shifted[i] = delays.IsNull(i) ? null : delays[i] + (dates[i] >= from ? DelayShiftMinutes : 0);
        }

        return Table.From([.. flights.Schema.Names.Select(n => (n, n == "delay" ? (Column)Columns.Int64(shifted) : flights[n]))]);
    }

    private static string Day(long micros) => Timestamp.Format(micros)[..10];
}
