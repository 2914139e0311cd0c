using System.Diagnostics;
using System.Globalization;

namespace Strata.IntegrationTests.Reliability;

/// <summary>Runs the crash writer child (tests/Strata.CrashWriter) and SIGKILLs it once it is busy: shared by the crash tests.</summary>
internal static class CrashWriterProcess
{
    /// <summary>How many kills to run: STRATA_CRASH_KILLS, else the test's reduced default.</summary>
    public static int Kills(int byDefault) =>
        Environment.GetEnvironmentVariable("STRATA_CRASH_KILLS") is { Length: > 0 } text ? int.Parse(text, CultureInfo.InvariantCulture) : byDefault;

    /// <summary>The built child, next to this test assembly's build in the same configuration.</summary>
    public static string Writer
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
            var writer = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Strata.CrashWriter", "bin", configuration, "net10.0", "Strata.CrashWriter.dll");
            Assert.True(File.Exists(writer), $"crash writer not built at {writer}");
            return writer;
        }
    }

    /// <summary>
    /// Starts the child with <paramref name="args"/>, waits for its first output line (start-up is over), lets it work
    /// for <paramref name="delay"/> and kills it. Returns every stdout line, whether it had exited before the kill, and
    /// its stderr.
    /// </summary>
    public static async Task<(List<string> Lines, bool ExitedByItself, string Errors)> RunAndKillAsync(IEnumerable<string> args, TimeSpan delay)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Writer);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var lines = new List<string>();
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                }
            }
        });
        var errors = process.StandardError.ReadToEndAsync();

        // Kill somewhere after start-up: the writer must be busy, not still loading.
        var started = Stopwatch.StartNew();
        while (started.Elapsed < TimeSpan.FromSeconds(20) && !process.HasExited)
        {
            lock (lines)
            {
                if (lines.Count > 0)
                {
                    break;
                }
            }

            await Task.Delay(10);
        }

        await Task.Delay(delay);
        var exitedByItself = process.HasExited;
        if (!exitedByItself)
        {
            process.Kill(); // SIGKILL on Unix: no finalizers, no flushes, no chance to tidy up
        }

        await process.WaitForExitAsync();
        await reading;
        return (lines, exitedByItself, await errors); // the reader has finished: nothing else touches the list
    }
}
