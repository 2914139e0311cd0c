using System.Diagnostics;
using System.Text.Json;
using Strata.Data;
using Strata.Data.Profiling;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

public sealed class ProfileCommandTests : IDisposable
{
    private readonly TempFolder _folder = new("cli-profile");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Profile_of_the_bundled_sample_prints_a_summary_and_saves_a_mergeable_profile()
    {
        var saved = _folder.File("flights.profile.json");
        var result = await Cli.RunAsync("data", "profile", Cli.Sample, "--out", saved);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("150,000 rows × 5 columns", result.Out, StringComparison.Ordinal);
        Assert.Contains("ORD", result.Out, StringComparison.Ordinal);
        var profile = await TableProfile.LoadAsync(saved);
        Assert.Equal(150_000, profile.RowCount);
        Assert.Equal(228, profile["origin"].DistinctEstimate);
        var delay = (NumericColumnProfile)profile["delay"];
        Assert.Equal(-80, delay.IntegerMin);
        Assert.Equal(1575, delay.IntegerMax);
    }

    [Fact]
    public async Task Profile_json_is_the_profile_document()
    {
        var result = await Cli.RunAsync("data", "profile", Cli.Sample, "--json");

        Assert.Equal(0, result.ExitCode);
        var profile = TableProfile.FromJson(result.Out);
        Assert.Equal(150_000, profile.RowCount);
    }

    [Fact]
    public async Task Schema_then_validate_finds_the_anomalies_of_a_second_batch()
    {
        var schemaPath = _folder.File("flights.schema.yaml");
        var referencePath = _folder.File("flights.profile.json");
        Assert.Equal(0, (await Cli.RunAsync("data", "schema", Cli.Sample, "--out", schemaPath)).ExitCode);
        Assert.Equal(0, (await Cli.RunAsync("data", "profile", Cli.Sample, "--out", referencePath)).ExitCode);
        var schema = await SchemaFile.ReadAsync(schemaPath);
        Assert.Equal(FieldRole.EventTime, schema["date"].Role);
        Assert.Equal(228, schema["origin"].Constraints!.Categories!.Count);

        // The same sample passes its own schema.
        var clean = await Cli.RunAsync("data", "validate", Cli.Sample, "--schema", schemaPath, "--reference", referencePath);
        Assert.Equal(0, clean.ExitCode);
        Assert.Contains("No anomalies", clean.Out, StringComparison.Ordinal);

        // A later batch with an unknown airport, a text delay, and delays shifted by three hours.
        var batch = _folder.WriteText("batch.csv",
            "date,delay,distance,origin,destination\n" +
            string.Concat(Enumerable.Range(0, 2000).Select(i => $"2001-07-01 {i % 24:00}:00:00,{180 + (i % 60)},{300 + i},ATL,ORD\n")) +
            "2001-07-02 10:00:00,late,500,XYZ,ORD\n");
        var result = await Cli.RunAsync("data", "validate", batch, "--schema", schemaPath, "--reference", referencePath, "--json");

        Assert.Equal(4, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Out);
        var codes = doc.RootElement.GetProperty("anomalies").EnumerateArray()
            .Select(a => $"{a.GetProperty("column").GetString()}:{a.GetProperty("code").GetString()}").ToHashSet();
        Assert.Contains("delay:type_mismatch", codes);
        Assert.Contains("origin:unknown_category", codes);
        Assert.Contains("delay:distribution_skew", codes);
        Assert.Contains("origin:distribution_skew", codes);
    }

    [Fact]
    public async Task Pii_tagged_columns_show_no_values()
    {
        var data = _folder.WriteText("people.csv", "email,age\nann@example.com,31\nbob@example.com,42\n");
        var schemaPath = _folder.WriteText("people.yaml", "fields:\n  - name: email\n    type: string\n    tags: [pii:email]\n  - name: age\n    type: int64\n");

        var result = await Cli.RunAsync("data", "profile", data, "--read-schema", schemaPath, "--json");

        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain("ann@example.com", result.Out, StringComparison.Ordinal);
        var table = await Cli.RunAsync("data", "profile", data, "--read-schema", schemaPath);
        Assert.DoesNotContain("ann@", table.Out, StringComparison.Ordinal);
        Assert.Contains("pii", table.Out, StringComparison.Ordinal);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(2, "Ctrl-C")]
    [InlineData(15, "SIGTERM")]
    public async Task A_signal_stops_the_command_waiting_on_standard_input_with_exit_code_130_and_leaves_no_temporary_file(int signal, string named)
    {
        // A read of standard input cannot be cancelled: SIGTERM ended the command only when the grace ran out, exit 143.
        var before = Directory.GetFiles(Path.GetTempPath(), "strata-stdin-*").Length;
        using var process = Cli.Start(_folder.Path, ["data", "profile", "-"], redirectInput: true);
        using var stop = new ProcessGuard(process);
        var error = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        await process.StandardInput.WriteAsync("a,b\n1,2\n");
        await process.StandardInput.FlushAsync();

        // Standard input stays open: the command waits for more until it is interrupted.
        await Task.Delay(1500);
        Assert.False(process.HasExited, "the command ended before it was interrupted");

        // A process started in the background by a non-interactive shell inherits SIGINT ignored: SIGTERM stands in.
        if (signal == 2 && Cli.SignalIgnored(process.Id, 2))
        {
            (signal, named) = (15, "SIGTERM");
        }

        using (var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(130, process.ExitCode);
        Assert.Equal($"stopped ({named})", (await error).Trim());
        Assert.Equal(before, Directory.GetFiles(Path.GetTempPath(), "strata-stdin-*").Length);
    }

    /// <summary>Kills the child if the test fails before it exits, so no process outlives the test.</summary>
    private sealed class ProcessGuard(Process process) : IDisposable
    {
        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
