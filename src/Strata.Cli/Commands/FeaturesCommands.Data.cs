using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Strata.Data;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Postgres;
using Strata.Stores;
using Strata.Storage;

namespace Strata.Cli.Commands;

/// <summary>
/// `strata features ingest | training-set | materialize | materialize-incremental | push | online`: moving feature data
/// through the applied definitions of a project in the local home (embedded stores, or PostgreSQL with --postgres).
/// </summary>
internal static partial class FeaturesCommands
{
    private static IEnumerable<Command> DataCommands(GlobalOptions globals, Option<string> repo, Option<string?> project, Option<string?> postgres)
    {
        yield return Ingest(globals, repo, project, postgres);
        yield return TrainingSet(globals, project, postgres);
        yield return Materialize(globals, project, postgres);
        yield return MaterializeIncremental(globals, project, postgres);
        yield return Push(globals, project, postgres);
        yield return Online(globals, project, postgres);
    }

    private static Command Ingest(GlobalOptions globals, Option<string> repo, Option<string?> project, Option<string?> postgres)
    {
        var source = new Option<string?>("--source") { Description = "Only this source (default: every file and PostgreSQL source)" };
        var sourceDatabase = new Option<string?>("--source-postgres") { Description = "Connection string of the database PostgreSQL sources read from (default: --postgres)" };
        var command = new Command("ingest", "Read the repository's file sources (paths inside --repo) and PostgreSQL sources into the offline store of the views they feed.") { source, sourceDatabase };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var session = await FeatureSession.OpenAsync(parse, context, project, postgres, ct).ConfigureAwait(false);
            var store = session.Store;
            var folder = Path.GetFullPath(parse.GetValue(repo)!);
            var chosen = parse.GetValue(source);
            var sources = store.Repository.Sources.Where(s => s.Kind != SourceKind.Push && (chosen is null || s.Name == chosen)).ToArray();
            if (chosen is not null && sources.Length == 0)
            {
                throw new StrataException(ErrorCodes.NotFound, $"file or PostgreSQL source '{chosen}' is not defined in project '{store.Project}'");
            }

            var rows = new List<(string Source, long Rows)>();
            foreach (var definition in sources)
            {
                if (definition.Kind is SourceKind.PostgresTable or SourceKind.PostgresQuery)
                {
                    var connection = parse.GetValue(sourceDatabase) ?? parse.GetValue(postgres)
                        ?? throw new StrataException(ErrorCodes.ArgumentInvalid, $"source '{definition.Name}' reads PostgreSQL: pass --source-postgres CONNECTION");
                    long count = 0;
                    await foreach (var batch in PostgresSourceReader.ReadAsync(connection, definition, cancellationToken: ct).ConfigureAwait(false))
                    {
                        count += await store.IngestAsync(definition.Name, batch, ct).ConfigureAwait(false);
                    }

                    rows.Add((definition.Name, count));
                    await session.AuditAsync("features.ingest", definition.Name, FeatureAudit.Ingested(count), ct).ConfigureAwait(false);
                    continue;
                }

                var path = SourcePath(folder, definition);
                var options = new DataReadOptions { Format = definition.Format, Schema = definition.Schema };
                var table = (await context.WithProgressAsync($"Reading {definition.Name}", p => DataFiles.ReadAsync(path, options with { Progress = p }, ct)).ConfigureAwait(false)).Table;
                rows.Add((definition.Name, await store.IngestAsync(definition.Name, table, ct).ConfigureAwait(false)));
                await session.AuditAsync("features.ingest", definition.Name, FeatureAudit.Ingested(table.RowCount), ct).ConfigureAwait(false);
            }

            if (context.Json)
            {
                context.WriteRegistryJson(rows.Select(r => new { source = r.Source, rows = r.Rows }));
                return ExitCodes.Ok;
            }

            foreach (var (name, count) in rows)
            {
                context.Out.MarkupLineInterpolated($"Ingested [bold]{count:N0}[/] rows of source [bold]{name}[/] into the offline store.");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command TrainingSet(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var entities = new Option<string>("--entities", "-e") { Description = "Entity rows: join keys, a timestamp column, labels (.csv, .jsonl, .arrow)", Required = true };
        var service = new Option<string?>("--service", "-s") { Description = "A feature service" };
        var features = new Option<string?>("--features") { Description = "Or features as view:feature, comma-separated" };
        var timestamp = new Option<string>("--timestamp-column") { Description = "The entity table's timestamp column", DefaultValueFactory = _ => "event_timestamp" };
        var full = new Option<bool>("--full-feature-names") { Description = "Name columns view__feature" };
        var output = new Option<string>("--out", "-o") { Description = "Where to write the training set (.arrow, .csv or .jsonl)", DefaultValueFactory = _ => "training-set.arrow" };
        var read = new ReadOptionsBinder();
        var command = new Command("training-set", "Join features point-in-time correctly onto entity rows (as known at each row's timestamp) and write the training set.")
        {
            entities, service, features, timestamp, full, output,
        };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
            await using var session = await FeatureSession.OpenAsync(parse, context, project, postgres, ct).ConfigureAwait(false);
            var store = session.Store;
            var asked = store.Resolve(Split(parse.GetValue(features)), parse.GetValue(service));
            await using var input = await InputFile.OpenAsync(parse.GetValue(entities)!, ct).ConfigureAwait(false);
            var table = (await context.WithProgressAsync("Reading entity rows", p => DataFiles.ReadAsync(input.Path, options with { Progress = p }, ct)).ConfigureAwait(false)).Table;
            var watch = Stopwatch.StartNew();
            var joined = await store.GetHistoricalFeaturesAsync(table, parse.GetValue(timestamp)!, asked, parse.GetValue(full), ct).ConfigureAwait(false);
            var seconds = watch.Elapsed.TotalSeconds;
            var path = parse.GetValue(output)!;
            await DataFiles.WriteAsync(joined, path, cancellationToken: ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(new { rows = joined.RowCount, columns = joined.ColumnCount, features = asked.Select(a => a.ToString()), output = Path.GetFullPath(path), seconds });
                return ExitCodes.Ok;
            }

            context.Out.MarkupLineInterpolated($"Wrote [bold]{joined.RowCount:N0}[/] rows × {joined.ColumnCount} columns ({asked.Count} features, point in time) to [bold]{path}[/] in {seconds:F2} s.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Materialize(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var start = new Option<string>("--start") { Description = "Start of the event-time range (ISO 8601, UTC)", Required = true };
        var end = new Option<string>("--end") { Description = "End of the event-time range, exclusive (ISO 8601, UTC)", Required = true };
        var views = new Option<string?>("--views") { Description = "Only these views, comma-separated (default: every online view)" };
        var command = new Command("materialize", "Load the latest feature values of an event-time range from the offline store into the online store.") { start, end, views };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var session = await FeatureSession.OpenAsync(parse, context, project, postgres, ct).ConfigureAwait(false);
            var done = await session.Store.MaterializeAsync(RegistryCli.ParseTime("--start", parse.GetValue(start)!), RegistryCli.ParseTime("--end", parse.GetValue(end)!), Split(parse.GetValue(views)), ct).ConfigureAwait(false);
            await session.AuditAsync("features.materialize", "online", FeatureAudit.Materialized(done), ct).ConfigureAwait(false);
            ShowMaterialized(context, done);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command MaterializeIncremental(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var end = new Option<string>("--end") { Description = "Materialize up to this instant, exclusive (ISO 8601, UTC)", Required = true };
        var views = new Option<string?>("--views") { Description = "Only these views, comma-separated (default: every online view)" };
        var command = new Command("materialize-incremental", "Materialize each view from where its last materialization ended (its watermark) up to --end.") { end, views };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var session = await FeatureSession.OpenAsync(parse, context, project, postgres, ct).ConfigureAwait(false);
            var done = await session.Store.MaterializeIncrementalAsync(RegistryCli.ParseTime("--end", parse.GetValue(end)!), Actor.Local, Split(parse.GetValue(views)), ct).ConfigureAwait(false);
            await session.AuditAsync("features.materialize-incremental", "online", FeatureAudit.Materialized(done), ct).ConfigureAwait(false);
            ShowMaterialized(context, done);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Push(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var source = new Option<string>("--source") { Description = "The push source", Required = true };
        var file = new Option<string>("--file", "-f") { Description = "Rows to push, with exactly the source's columns (.csv, .jsonl, .arrow; - for stdin)", Required = true };
        var to = new Option<string>("--to") { Description = "online, offline or online_and_offline", DefaultValueFactory = _ => "online_and_offline" };
        var command = new Command("push", "Push rows of a push source to the views it feeds; windowed aggregates update incrementally.") { source, file, to };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var target = parse.GetValue(to) switch
            {
                "online" => PushTarget.Online,
                "offline" => PushTarget.Offline,
                "online_and_offline" => PushTarget.OnlineAndOffline,
                var other => throw new StrataException(ErrorCodes.ArgumentInvalid, $"--to must be online, offline or online_and_offline, not '{other}'"),
            };
            await using var session = await FeatureSession.OpenAsync(parse, context, project, postgres, ct).ConfigureAwait(false);
            var definition = session.Store.Repository.Source(parse.GetValue(source)!);
            await using var input = await InputFile.OpenAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            var table = (await DataFiles.ReadAsync(input.Path, new DataReadOptions { Schema = definition.Schema }, ct).ConfigureAwait(false)).Table;
            var views = await session.Store.PushAsync(definition.Name, table, target, ct).ConfigureAwait(false);
            await session.AuditAsync("features.push", definition.Name, FeatureAudit.Push(table.RowCount, target, views), ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(new { rows = table.RowCount, views });
                return ExitCodes.Ok;
            }

            context.Out.MarkupLineInterpolated($"Pushed [bold]{table.RowCount:N0}[/] rows to {string.Join(", ", views)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Online(GlobalOptions globals, Option<string?> project, Option<string?> postgres)
    {
        var service = new Option<string?>("--service", "-s") { Description = "A feature service" };
        var features = new Option<string?>("--features") { Description = "Or features as view:feature, comma-separated" };
        var entity = new Option<string[]>("--entity") { Description = "An entity as key=value[,key=value] (repeatable)", Required = true, AllowMultipleArgumentsPerToken = false };
        var command = new Command("online", "Read the latest feature values of some entities from the online store, with Feast's statuses.") { service, features, entity };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            await using var session = await FeatureSession.OpenAsync(parse, context, project, postgres, ct).ConfigureAwait(false);
            var store = session.Store;
            var asked = store.Resolve(Split(parse.GetValue(features)), parse.GetValue(service));
            var rows = EntityRows(store, parse.GetValue(entity)!);
            var result = await store.GetOnlineFeaturesAsync(asked, rows, cancellationToken: ct).ConfigureAwait(false);
            if (context.Json)
            {
                context.WriteRegistryJson(Enumerable.Range(0, rows.RowCount).Select(e => result.FeatureNames.Select((name, f) => new
                {
                    feature = name,
                    value = result.Values[f][e].Value,
                    status = result.Values[f][e].Status.ToString(),
                    event_timestamp = result.Values[f][e].EventTimestamp == 0 ? null : Timestamp.Format(result.Values[f][e].EventTimestamp),
                })));
                return ExitCodes.Ok;
            }

            var table = RegistryOutput.Table(["feature", .. Enumerable.Range(0, rows.RowCount).Select(e => string.Join(",", rows.Schema.Select((f, c) => $"{f.Name}={rows[c].GetValue(e)}")))]);
            for (var f = 0; f < result.FeatureNames.Count; f++)
            {
                var f1 = f;
                table.Row([result.FeatureNames[f], .. Enumerable.Range(0, rows.RowCount).Select(e => Show(result.Values[f1][e]))]);
            }

            context.Out.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Show(Strata.Features.OnlineStore.FeatureValue value) => value.HasValue
        ? Convert.ToString(value.Value, CultureInfo.InvariantCulture) ?? ""
        : value.Status.ToString();

    private static Table EntityRows(FeatureStore store, IReadOnlyList<string> entities)
    {
        // Key types come from the definitions, so "origin=SFO" and "id=42" read as the views declare them.
        var types = store.Repository.Entities.SelectMany(e => e.JoinKeys).GroupBy(k => k.Name).ToDictionary(g => g.Key, g => g.First().Type);
        foreach (var view in store.Repository.OnDemandViews)
        {
            foreach (var field in view.RequestFields)
            {
                types[field.Name] = field.Type;
            }
        }

        var parsed = entities.Select(e => e.Split(',').Select(part => part.Split('=', 2) is [var k, var v] ? (Key: k.Trim(), Value: v.Trim()) : throw new StrataException(ErrorCodes.ArgumentInvalid, $"--entity '{e}' is not key=value[,key=value]")).ToArray()).ToArray();
        var names = parsed[0].Select(p => p.Key).ToArray();
        var columns = new List<Column>();
        var fields = new List<Field>();
        foreach (var name in names)
        {
            var type = types.TryGetValue(name, out var t) ? t : DataType.String;
            var builder = ColumnBuilder.Create(type, parsed.Length);
            foreach (var row in parsed)
            {
                var value = row.FirstOrDefault(p => p.Key == name).Value ?? throw new StrataException(ErrorCodes.ArgumentInvalid, $"every --entity needs the same keys; one lacks '{name}'");
                builder.AppendObject(type switch
                {
                    DataType.String => value,
                    DataType.Int64 or DataType.Int32 when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => type == DataType.Int32 ? (object)checked((int)l) : l,
                    DataType.Float64 or DataType.Float32 when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => type == DataType.Float32 ? (object)(float)d : d,
                    _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"--entity {name}={value}: '{name}' is {type.Name()}"),
                });
            }

            fields.Add(new Field(name, type));
            columns.Add(builder.Build());
        }

        return new Table(new Schema(fields), columns);
    }

    private static void ShowMaterialized(CliContext context, IReadOnlyList<MaterializedView> done)
    {
        if (context.Json)
        {
            context.WriteRegistryJson(done.Select(d => new { view = d.View, start = Timestamp.Format(d.StartMicros), end = Timestamp.Format(d.EndMicros), rows = d.Rows }));
            return;
        }

        var table = RegistryOutput.Table("view", "from", "to", "rows");
        foreach (var d in done)
        {
            table.Row(d.View, Timestamp.Format(d.StartMicros), Timestamp.Format(d.EndMicros), d.Rows.ToString("N0", CultureInfo.InvariantCulture));
        }

        context.Out.Write(table);
    }

    private static string SourcePath(string folder, SourceDefinition source)
    {
        // The stored path was checked when it was applied; check again against this folder, as definitions may come from elsewhere.
        var root = folder.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(Path.Combine(folder, source.Path ?? ""));
        if (source.Path is null || Path.IsPathRooted(source.Path) || !full.StartsWith(root, StringComparison.Ordinal))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"source '{source.Name}': path '{source.Path}' is not inside the repository folder {folder}");
        }

        return full;
    }

    internal static List<string>? Split(string? text) =>
        string.IsNullOrWhiteSpace(text) ? null : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    /// <summary>A project's feature store in the local home, opened for one command.</summary>
    private sealed class FeatureSession : IAsyncDisposable
    {
        private readonly StrataHome _home;
        private readonly FeatureStores _stores;

        private FeatureSession(StrataHome home, FeatureStores stores, FeatureStore store)
        {
            _home = home;
            _stores = stores;
            Store = store;
        }

        public FeatureStore Store { get; }

        /// <summary>Records a change of feature data in the audit log, as the local owner.</summary>
        public Task AuditAsync(string action, string target, string details, CancellationToken cancellationToken) =>
            _home.Metadata.Audit.RecordAsync(Store.Project, action, target, details, Actor.Local, cancellationToken);

        public static async Task<FeatureSession> OpenAsync(ParseResult parse, CliContext context, Option<string?> project, Option<string?> postgres, CancellationToken cancellationToken)
        {
            var connection = parse.GetValue(postgres);
            var home = await FeaturesCommands.OpenAsync(parse, postgres, context, cancellationToken).ConfigureAwait(false);
            IFeatureBackend backend = string.IsNullOrEmpty(connection) ? new EmbeddedFeatureBackend(home.Path) : new PostgresFeatureBackend(connection);
            var stores = new FeatureStores(home.Metadata, backend);
            try
            {
                var store = await stores.GetAsync(RegistryCli.Project(parse, project), cancellationToken).ConfigureAwait(false);
                return new FeatureSession(home, stores, store);
            }
            catch
            {
                await stores.DisposeAsync().ConfigureAwait(false);
                await home.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stores.DisposeAsync().ConfigureAwait(false);
            await _home.DisposeAsync().ConfigureAwait(false);
        }
    }
}
