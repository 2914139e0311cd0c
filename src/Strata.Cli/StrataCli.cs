using System.CommandLine;
using Strata.Cli.Commands;

namespace Strata.Cli;

/// <summary>Builds the `strata` command tree and turns every outcome into a documented exit code.</summary>
internal static class StrataCli
{
    /// <summary>
    /// Parses and runs a command. <paramref name="beforeServe"/> runs first when the command is `strata serve` (the
    /// process's own entry point starts the server again under dynamic PGO there; tests running commands in-process pass none).
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Action? beforeServe = null)
    {
        var globals = new GlobalOptions();
        using var termination = new Termination();
        var root = Build(globals, termination);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await stderr.WriteLineAsync($"error: {error.Message}").ConfigureAwait(false);
            }

            await stderr.WriteLineAsync("Run with --help to see the commands and options.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var serve = parse.CommandResult.Command.Name == ServeCommand.Name;
        if (serve)
        {
            beforeServe?.Invoke();
        }

        // NOTE: SIGTERM and Ctrl-C are Termination's rather than System.CommandLine's, whose grace is fixed before the
        // command runs (2 s unless set): a command that runs a server (serve, quickstart) only learns its host's configured
        // shutdown window once it has built the host. Cut at 2 s (or at 35 s, whatever was configured), a server lost its
        // requests in flight, the prediction log's last records and its open segment's close.
        var config = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };
        try
        {
            var invocation = parse.InvokeAsync(config, termination.Token);
            return await await Task.WhenAny(invocation, termination.GraceOver).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Named after the signal that stopped it: a service manager's SIGTERM was reported as Ctrl-C.
            await stderr.WriteLineAsync(termination.StoppedBy is { } signal ? $"stopped ({signal})" : "stopped").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
        catch (StrataException e) when (e.IsCallerError)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }
        catch (StrataException e)
        {
            await stderr.WriteLineAsync($"error [{e.Code}]: {e.Message}").ConfigureAwait(false);
            return ExitCodes.InternalError;
        }
        catch (IOException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }
        catch (System.Data.Common.DbException e) when (e.IsTransient)
        {
            // PostgreSQL down or refusing connections: a message to act on, not a crash with a stack trace.
            await stderr.WriteLineAsync($"error: the metadata store does not answer: {e.Message}").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }
        catch (System.Data.Common.DbException e) when (e.SqlState is { } state && (state.StartsWith("28", StringComparison.Ordinal) || state == "3D000"))
        {
            // A wrong password or user (class 28) or a database that does not exist (3D000): the connection string's fault.
            await stderr.WriteLineAsync($"error: the metadata store refuses the connection: {e.Message}").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }
        catch (UnauthorizedAccessException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }
    }

    public static RootCommand Build(GlobalOptions globals, Termination termination)
    {
        var root = new RootCommand(
            "Strata: a self-hosted machine-learning platform for .NET.\n" +
            "Data → Features → Learning → Registry → Serving → Monitoring, in one process on your machine.")
        {
            globals.Json,
            globals.Home,
            globals.NoColor,
        };

        root.Add(DataCommands.Build(globals));
        foreach (var command in LearningCommands.Build(globals))
        {
            root.Add(command);
        }

        root.Add(ProjectsCommands.Build(globals));
        root.Add(RunsCommands.Build(globals));
        root.Add(ModelsCommands.Build(globals));
        root.Add(LineageCommands.Build(globals));
        root.Add(ArtifactsCommands.Build(globals));
        root.Add(AuditCommands.Build(globals));
        root.Add(AuthCommands.Build(globals));
        root.Add(ServeCommand.Build(globals, termination));
        root.Add(FeaturesCommands.Build(globals));
        root.Add(PipelinesCommands.Build(globals));
        root.Add(MonitorCommands.Build(globals));
        root.Add(QuickstartCommand.Build(globals, termination));
        return root;
    }
}
