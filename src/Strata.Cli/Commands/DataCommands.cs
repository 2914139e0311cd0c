using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Strata.Data;

namespace Strata.Cli.Commands;

/// <summary>`strata data`: look at, convert, profile and validate data files.</summary>
internal static partial class DataCommands
{
    public static Command Build(GlobalOptions globals)
    {
        var data = new Command(
            "data",
            "Data stratum: read CSV, JSON Lines and Arrow IPC files; profile them; infer a schema; validate new data against it.");
        data.Add(Head(globals));
        data.Add(Convert(globals));
        AddProfileCommands(data, globals);
        return data;
    }

    private static Command Head(GlobalOptions globals)
    {
        var file = new Argument<string>("FILE") { Description = "Data file (.csv, .tsv, .jsonl, .arrow; .gz allowed; - for standard input)" };
        var rows = new Option<int>("--rows", "-n") { Description = "Rows to show", DefaultValueFactory = _ => 10 };
        var read = new ReadOptionsBinder();
        var command = new Command("head", "Show the first rows of a file with their inferred types (types from those rows only).") { file, rows };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
            var n = parse.GetValue(rows);
            if (n < 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, "--rows must not be negative");
            }

            await using var input = await InputFile.OpenAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            var result = await DataFiles.ReadAsync(input.Path, options with { MaxRows = n }, ct).ConfigureAwait(false);
            context.ShowWarnings(result.Report);
            if (context.Json)
            {
                context.WriteJson(new
                {
                    schema = result.Table.Schema.Select(f => new { name = f.Name, type = f.Type.Name() }),
                    rows = RowsOf(result.Table),
                });
                return ExitCodes.Ok;
            }

            context.Out.Write(TableView(result.Table));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Convert(GlobalOptions globals)
    {
        var file = new Argument<string>("FILE") { Description = "Data file to read" };
        var output = new Option<string>("--out", "-o") { Description = "File to write; its extension picks the format (.arrow, .csv, .tsv, .jsonl)", Required = true };
        var read = new ReadOptionsBinder();
        var command = new Command("convert", "Convert between CSV, JSON Lines and Arrow IPC (Feather v2).") { file, output };
        read.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            var options = await read.BindAsync(parse, ct).ConfigureAwait(false);
            await using var input = await InputFile.OpenAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            var path = input.Path;
            var target = parse.GetValue(output)!;
            if (DataFiles.FormatFromName(target) is null)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"cannot tell the format of '{target}' from its name (use .arrow, .csv, .tsv or .jsonl)");
            }

            var watch = System.Diagnostics.Stopwatch.StartNew();
            var result = await context.WithProgressAsync($"Reading {Path.GetFileName(path)}", p => DataFiles.ReadAsync(path, options with { Progress = p }, ct)).ConfigureAwait(false);
            context.ShowWarnings(result.Report);
            await DataFiles.WriteAsync(result.Table, target, cancellationToken: ct).ConfigureAwait(false);
            var summary = new
            {
                input = path,
                output = target,
                rows = result.Table.RowCount,
                columns = result.Table.ColumnCount,
                bytes_written = new FileInfo(target).Length,
                seconds = Math.Round(watch.Elapsed.TotalSeconds, 3),
            };
            if (context.Json)
            {
                context.WriteJson(summary);
            }
            else
            {
                context.Out.MarkupLineInterpolated($"Wrote [bold]{target}[/]: {summary.rows:N0} rows × {summary.columns} columns, {summary.bytes_written:N0} bytes in {summary.seconds:0.00} s.");
            }

            return ExitCodes.Ok;
        });
        return command;
    }


    internal static List<Dictionary<string, object?>> RowsOf(Table table)
    {
        var rows = new List<Dictionary<string, object?>>(table.RowCount);
        for (var r = 0; r < table.RowCount; r++)
        {
            var row = new Dictionary<string, object?>(table.ColumnCount, StringComparer.Ordinal);
            for (var c = 0; c < table.ColumnCount; c++)
            {
                var value = table[c].GetValue(r);
                row[table.Schema[c].Name] = value is DateTime d ? Timestamp.Format(Timestamp.FromDateTime(d)) : value;
            }

            rows.Add(row);
        }

        return rows;
    }

    internal static Spectre.Console.Table TableView(Table table)
    {
        var view = new Spectre.Console.Table().Border(TableBorder.Rounded);
        foreach (var field in table.Schema)
        {
            var column = new TableColumn($"[bold]{Markup.Escape(field.Name)}[/]\n[dim]{field.Type.Name()}[/]");
            if (field.Type.IsNumeric())
            {
                column.RightAligned();
            }

            view.AddColumn(column);
        }

        for (var r = 0; r < table.RowCount; r++)
        {
            view.AddRow(table.Columns.Select(c => Markup.Escape(Display(c, r))).ToArray());
        }

        return view;
    }

    internal static string Display(Column column, int row) => column.GetValue(row) switch
    {
        null => "∅",
        DateTime d => Timestamp.Format(Timestamp.FromDateTime(d)),
        double x => x.ToString("G6", CultureInfo.InvariantCulture),
        float x => x.ToString("G6", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var v => v.ToString() ?? "",
    };
}
