using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

/// <summary>A command stopped by a signal, as a real process: what it says and how it ends.</summary>
public sealed class SignalTests : IDisposable
{
    private readonly TempFolder _folder = new("cli-signal");

    public void Dispose() => _folder.Dispose();

    [Theory(Timeout = 60_000)]
    [InlineData(2, "Ctrl-C")]
    [InlineData(15, "SIGTERM")]
    public async Task A_stopped_command_names_the_signal_that_stopped_it(int signal, string named)
    {
        // SIGTERM (a service manager's stop, `kill`) was reported as "stopped (Ctrl-C)".
        // A server that takes the connection and never answers: the command waits on it until it is stopped.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        using var process = Cli.Start(_folder.Path, ["projects", "list", "--server", $"http://127.0.0.1:{port}", "--api-key", "key"]);
        try
        {
            var error = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            using var accepted = await silent.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await Task.Delay(500); // the request is sent and waits for its answer
            Assert.False(process.HasExited, "the command ended before it was stopped");

            // A process started in the background by a non-interactive shell inherits SIGINT ignored: SIGTERM stands in.
            if (signal == 2 && Cli.SignalIgnored(process.Id, 2))
            {
                (signal, named) = (15, "SIGTERM");
            }

            using (var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(exit.Token);

            Assert.Equal(130, process.ExitCode); // a command stopped by either signal ends as cancelled
            Assert.Equal($"stopped ({named})", (await error).Trim());
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
}
