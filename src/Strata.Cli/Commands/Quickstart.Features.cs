using System.Globalization;
using Strata.Data;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Security;
using Strata.Stores;

namespace Strata.Cli.Commands;

// Stage 2: the feature repository applied, its file source ingested, flight events pushed (so the windowed aggregates
// have history and current values), the point-in-time training set built and the online store materialized.
internal sealed partial class Quickstart
{
    /// <summary>The windowed aggregates (per origin, from pushed flight events) the model and the monitor read.</summary>
    internal static readonly string[] WindowFeatures = ["flights_1h", "mean_delay_1h", "mean_delay_1d", "max_delay_1d"];

    /// <summary>The hourly per-origin statistics of the feature view origin_hourly.</summary>
    internal static readonly string[] HourlyFeatures = ["dep_count", "mean_delay", "frac_late15", "max_delay", "mean_distance"];

    private Table? _trainingSet;

    private async Task BuildFeaturesAsync(QuickstartStage stage, CancellationToken cancellationToken)
    {
        var repository = Folder("features");
        CopyFolder(Path.Combine(_options.Sample, "features"), repository);
        var definitions = await FeatureRepositoryYaml.LoadFolderAsync(repository, cancellationToken).ConfigureAwait(false);
        await Registry.CreateProjectAsync(Caller.Local, Project, "created by strata quickstart", cancellationToken).ConfigureAwait(false);
        var applied = await new FeatureRegistry(Home.Metadata).ApplyAsync(Project, definitions, force: false, Actor.Local, cancellationToken).ConfigureAwait(false);
        _progress.Step($"applied {repository}: {definitions.FeatureViews.Count} feature views, {definitions.AggregationViews.Count} windowed, {definitions.Services.Count} service (version {applied.Version})");

        _features = new FeatureStores(Home.Metadata, new EmbeddedFeatureBackend(Home.Path));
        var store = await _features.GetAsync(Project, cancellationToken).ConfigureAwait(false);
        long ingested = 0;
        foreach (var source in store.Repository.Sources.Where(s => s.Kind == SourceKind.File))
        {
            var path = Path.Combine(repository, source.Path!);
            var table = (await DataFiles.ReadAsync(path, new DataReadOptions { Format = source.Format, Schema = source.Schema }, cancellationToken).ConfigureAwait(false)).Table;
            ingested += await store.IngestAsync(source.Name, table, cancellationToken).ConfigureAwait(false);
        }

        // Flights become events when they land (their delay is known then), so a flight's features never include itself.
        var events = FlightEvents(Flights, SampleStart, TrainingEnd);
        await store.PushAsync("flight_events", events, PushTarget.OnlineAndOffline, cancellationToken).ConfigureAwait(false);
        await DataFiles.WriteAsync(events, Path.Combine(Folder("data"), "flight-events-jan-apr.arrow"), cancellationToken: cancellationToken).ConfigureAwait(false);
        _progress.Step($"ingested {ingested:N0} hourly origin rows; pushed {events.RowCount:N0} flight events (Jan-Apr) to the online and offline stores");

        var entities = WithLabel(Between(Flights, SampleStart, TrainingEnd));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var joined = await store.GetHistoricalFeaturesAsync(entities, "date", store.Resolve(null, Service), cancellationToken: cancellationToken).ConfigureAwait(false);
        var joinSeconds = watch.Elapsed.TotalSeconds;
        _trainingSet = joined;
        await DataFiles.WriteAsync(joined, Path.Combine(Folder("data"), "training-set.arrow"), cancellationToken: cancellationToken).ConfigureAwait(false);
        var withHourly = CountValid(joined, "dep_count");
        var withWindows = CountValid(joined, "mean_delay_1d");

        var materialized = await store.MaterializeAsync(SampleStart, TrainingEnd, cancellationToken: cancellationToken).ConfigureAwait(false);
        var online = materialized.Sum(m => m.Rows);

        stage.Figures["feature_views"] = definitions.FeatureViews.Count + definitions.AggregationViews.Count + definitions.OnDemandViews.Count;
        stage.Figures["definitions_version"] = applied.Version;
        stage.Figures["ingested_rows"] = ingested;
        stage.Figures["pushed_events"] = events.RowCount;
        stage.Figures["training_rows"] = joined.RowCount;
        stage.Figures["training_columns"] = joined.ColumnCount;
        stage.Figures["rows_with_hourly_features"] = withHourly;
        stage.Figures["rows_with_window_features"] = withWindows;
        stage.Figures["join_seconds"] = Math.Round(joinSeconds, 2);
        stage.Figures["materialized_rows"] = online;
        stage.Figures["late_share"] = Math.Round(entities.GetColumn<long>("late").Values.ToArray().Average(), 4);
        stage.Headline = string.Create(CultureInfo.InvariantCulture,
            $"training set {joined.RowCount:N0} rows x {joined.ColumnCount} cols ({withHourly:N0} with hourly, {withWindows:N0} with window features, {joinSeconds:0.0} s); online store {online:N0} rows");
    }

    /// <summary>
    /// Flights as the push source <c>flight_events</c> sees them: stamped when they land (departure + an estimated block
    /// time + the delay), with <c>[from, to)</c> on that landing time, in time order.
    /// </summary>
    internal static Table FlightEvents(Table flights, long from, long to)
    {
        var dates = flights.GetColumn<long>("date");
        var delays = flights.GetColumn<long>("delay");
        var distances = flights.GetColumn<long>("distance");
        var origins = flights.GetStringColumn("origin");
        var rows = new List<(long Landed, int Row)>();
        for (var i = 0; i < flights.RowCount; i++)
        {
            var landed = Landed(dates[i], delays[i], distances[i]);
            if (landed >= from && landed < to)
            {
                rows.Add((landed, i));
            }
        }

        rows.Sort();
        return Table.From(
            ("origin", Columns.String([.. rows.Select(r => origins[r.Row])])),
            ("date", Columns.Timestamp([.. rows.Select(r => (long?)r.Landed)])),
            ("delay", Columns.Int64([.. rows.Select(r => (long?)delays[r.Row])])),
            ("distance", Columns.Int64([.. rows.Select(r => (long?)distances[r.Row])])));
    }

    /// <summary>When a flight's delay is known: departure + 30 min taxi + 1 min per 8 miles (480 mph) + the delay (at least 10 min after departure).</summary>
    internal static long Landed(long departure, long delay, long distance) =>
        departure + (Math.Max(10, 30 + (distance / 8) + delay) * 60_000_000L);

    /// <summary>The table with <c>late</c> (1 when the arrival delay is more than 15 minutes).</summary>
    internal static Table WithLabel(Table flights)
    {
        var delays = flights.GetColumn<long>("delay");
        var late = new long?[flights.RowCount];
        for (var i = 0; i < late.Length; i++)
        {
            late[i] = delays[i] > 15 ? 1 : 0;
        }

        return Table.From([.. flights.Schema.Names.Select(n => (n, flights[n])), ("late", Columns.Int64(late))]);
    }

    private static long CountValid(Table table, string column) =>
        table.Schema.Contains(column) ? table.RowCount - table[column].NullCount : 0;

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: false);
        }
    }
}
