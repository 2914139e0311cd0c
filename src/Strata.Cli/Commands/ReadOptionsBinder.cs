using System.CommandLine;
using Strata.Data;
using Strata.Data.Csv;

namespace Strata.Cli.Commands;

/// <summary>The options that say how to read a data file, shared by every `strata data` command.</summary>
internal sealed class ReadOptionsBinder
{
    private readonly Option<string?> _format = new("--format") { Description = "Input format: csv, jsonl or arrow (default: from the file name, then its content)" };
    private readonly Option<string?> _schema = new("--read-schema") { Description = "Schema YAML whose declared types are used to read the file (other columns are inferred)" };
    private readonly Option<char?> _delimiter = new("--delimiter") { Description = "CSV field separator (default: detected among , tab ; |)" };
    private readonly Option<string> _header = new("--header") { Description = "CSV header: auto, present or absent", DefaultValueFactory = _ => "auto" };
    private readonly Option<string> _ragged = new("--ragged") { Description = "Rows with too few or too many fields: error, skip or fill", DefaultValueFactory = _ => "error" };
    private readonly Option<string> _badValues = new("--bad-values") { Description = "Values that do not fit a declared type: error or null", DefaultValueFactory = _ => "error" };
    private readonly Option<string> _invalidUtf8 = new("--invalid-utf8") { Description = "Bytes that are not UTF-8: error or replace", DefaultValueFactory = _ => "error" };
    private readonly Option<int?> _maxRecordBytes = new("--max-record-bytes") { Description = "Longest record in bytes (default 16 MiB)" };
    private readonly Option<bool> _lenientQuotes = new("--lenient-quotes") { Description = "Accept quotes inside unquoted CSV fields" };

    public void AddTo(Command command)
    {
        _format.AcceptOnlyFromAmong("csv", "jsonl", "arrow");
        _header.AcceptOnlyFromAmong("auto", "present", "absent");
        _ragged.AcceptOnlyFromAmong("error", "skip", "fill");
        _badValues.AcceptOnlyFromAmong("error", "null");
        _invalidUtf8.AcceptOnlyFromAmong("error", "replace");
        command.Add(_format);
        command.Add(_schema);
        command.Add(_delimiter);
        command.Add(_header);
        command.Add(_ragged);
        command.Add(_badValues);
        command.Add(_invalidUtf8);
        command.Add(_maxRecordBytes);
        command.Add(_lenientQuotes);
    }

    public async Task<DataReadOptions> BindAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var schemaPath = parse.GetValue(_schema);
        var schema = schemaPath is null ? null : await SchemaFile.ReadAsync(schemaPath, cancellationToken).ConfigureAwait(false);
        var badValues = parse.GetValue(_badValues) == "null" ? BadValueHandling.Null : BadValueHandling.Error;
        var utf8 = parse.GetValue(_invalidUtf8) == "replace" ? InvalidUtf8Handling.Replace : InvalidUtf8Handling.Error;
        var maxRecord = parse.GetValue(_maxRecordBytes);
        var csv = new CsvReadOptions
        {
            Delimiter = parse.GetValue(_delimiter),
            Header = parse.GetValue(_header) switch { "present" => CsvHeader.Present, "absent" => CsvHeader.Absent, _ => CsvHeader.Auto },
            RaggedRows = parse.GetValue(_ragged) switch { "skip" => RaggedRowHandling.Skip, "fill" => RaggedRowHandling.Fill, _ => RaggedRowHandling.Error },
            BadValues = badValues,
            InvalidUtf8 = utf8,
            LenientQuotes = parse.GetValue(_lenientQuotes),
        };
        var json = new Strata.Data.JsonLines.JsonLinesReadOptions { BadValues = badValues, InvalidUtf8 = utf8 };
        if (maxRecord is { } m)
        {
            csv = csv with { MaxRecordBytes = m };
            json = json with { MaxRecordBytes = m };
        }

        return new DataReadOptions
        {
            Format = parse.GetValue(_format) switch { "csv" => DataFormat.Csv, "jsonl" => DataFormat.JsonLines, "arrow" => DataFormat.Arrow, _ => null },
            Schema = schema,
            Csv = csv,
            JsonLines = json,
        };
    }
}
