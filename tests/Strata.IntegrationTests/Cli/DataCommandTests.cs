using System.Text.Json;
using Strata.Data.Csv;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

public sealed class DataCommandTests : IDisposable
{
    private readonly TempFolder _folder = new("cli");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Help_lists_a_group_for_every_stratum()
    {
        var result = await Cli.RunAsync("--help");

        Assert.Equal(0, result.ExitCode);
        foreach (var group in new[] { "data", "features", "train", "models", "serve", "monitor", "pipelines", "auth" })
        {
            Assert.Contains(group, result.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_group_without_its_subcommand_is_a_usage_error_with_exit_code_2()
    {
        var result = await Cli.RunAsync("pipelines");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Required command was not provided", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_options_are_usage_errors()
    {
        var result = await Cli.RunAsync("data", "head", Cli.Sample, "--rows", "x");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Head_prints_rows_as_json()
    {
        var result = await Cli.RunAsync("data", "head", Cli.Sample, "-n", "3", "--json");

        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal(3, doc.RootElement.GetProperty("rows").GetArrayLength());
        Assert.Equal("timestamp", doc.RootElement.GetProperty("schema")[0].GetProperty("type").GetString());
        Assert.Equal("LAS", doc.RootElement.GetProperty("rows")[0].GetProperty("origin").GetString());
    }

    [Fact]
    public async Task A_missing_file_is_bad_input_with_exit_code_3()
    {
        var result = await Cli.RunAsync("data", "head", _folder.File("missing.csv"));

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("no such file", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_data_names_file_line_and_column_with_exit_code_3()
    {
        var path = _folder.WriteText("bad.csv", "a,b\n1,2\n3,\"open\n");
        var result = await Cli.RunAsync("data", "head", path);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("bad.csv:3: column 'b'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Convert_writes_jsonl_that_reads_back_the_same()
    {
        var target = _folder.File("sample.jsonl");
        var result = await Cli.RunAsync("data", "convert", Cli.Sample, "--out", target, "--json");

        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal(150_000, doc.RootElement.GetProperty("rows").GetInt32());
        var original = await CsvReader.ReadTableAsync(Cli.Sample);
        var converted = await Strata.Data.JsonLines.JsonLinesReader.ReadTableAsync(target);
        TableAssert.Equal(original, converted);
    }

    [Fact]
    public async Task Convert_to_arrow_and_back_to_csv_keeps_every_value()
    {
        var arrow = _folder.File("sample.arrow");
        Assert.Equal(0, (await Cli.RunAsync("data", "convert", Cli.Sample, "--out", arrow)).ExitCode);
        var csv = _folder.File("again.csv");
        Assert.Equal(0, (await Cli.RunAsync("data", "convert", arrow, "--out", csv)).ExitCode);

        var head = await Cli.RunAsync("data", "head", arrow, "-n", "1", "--json");
        Assert.Equal(0, head.ExitCode);
        Assert.Contains("\"origin\": \"LAS\"", head.Out, StringComparison.Ordinal);
        TableAssert.Equal(await CsvReader.ReadTableAsync(Cli.Sample), await CsvReader.ReadTableAsync(csv));
    }
}
