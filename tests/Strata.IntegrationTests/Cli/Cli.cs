using System.Diagnostics;
using System.Globalization;
using System.Text;
using Strata.Cli;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

/// <summary>Runs the `strata` command in-process (fast) or as a real process (signals, real consoles).</summary>
internal static class Cli
{
    public sealed record Result(int ExitCode, string Out, string Error);

    public static async Task<Result> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await StrataCli.RunAsync(args, stdout, stderr);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// Runs the built CLI as a child process to its end (at most <paramref name="timeout"/>, else it is killed and the wait
    /// fails) and returns what it printed.
    /// </summary>
    public static async Task<Result> RunProcessAsync(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        using var process = Start(workingDirectory, args, environment: environment);
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var exit = new CancellationTokenSource(timeout);
            await process.WaitForExitAsync(exit.Token);
            return new Result(process.ExitCode, await output, await error);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }
    }

    /// <summary>The built CLI assembly, run with `dotnet` as a child process.</summary>
    public static Process Start(string workingDirectory, IEnumerable<string> args, bool redirectInput = false, IReadOnlyDictionary<string, string>? environment = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Strata.Cli.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start the CLI");
    }

    /// <summary>
    /// True when the process ignores the signal (its <c>SigIgn</c> mask in <c>/proc/PID/status</c>): one started in the
    /// background by a non-interactive shell (a CI script's <c>cmd &amp;</c>) inherits SIGINT ignored, and so do its children.
    /// </summary>
    public static bool SignalIgnored(int pid, int signal)
    {
        var mask = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))["SigIgn:".Length..].Trim();
        return (ulong.Parse(mask, NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << (signal - 1))) != 0;
    }

    public static string Sample => SharedData.InRepository("samples", "flights", "flights-2001-sample.csv.gz");
}
