using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Strata.Cli;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM while a command runs. The first cancels the command; the process then ends when the
/// command has returned, or once the command's grace has passed since the signal (exit code 130 or 143), whichever
/// comes first. A second signal ends the grace at once.
/// </summary>
/// <remarks>
/// System.CommandLine's own handling takes one grace, fixed before the command runs (2 s unless set). A command that runs
/// a server only knows its host's shutdown window (the operator's <c>shutdownTimeoutSeconds</c>, else 30 s) once it has
/// built the host, and lengthens its grace to that window and a margin then, so the host's own timeout always comes first.
/// </remarks>
internal sealed class Termination : IDisposable
{
    /// <summary>How long a command has to stop after a signal unless it asks for longer (System.CommandLine's default).</summary>
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(2);

    /// <summary>
    /// What a server's grace adds to its host's shutdown window: the stores, the serving runtime and the prediction log
    /// close after the requests in flight.
    /// </summary>
    public static readonly TimeSpan ServerMargin = TimeSpan.FromSeconds(5);

    private const int SigIntExitCode = 130; // 128 + the signal's number, as shells report it
    private const int SigTermExitCode = 143;

    private readonly CancellationTokenSource _cancel = new();
    private readonly TaskCompletionSource<int> _graceOver = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PosixSignalRegistration _sigInt;
    private readonly PosixSignalRegistration _sigTerm;
    private long _graceTicks = DefaultGrace.Ticks;
    private int _signals;
    private volatile string? _stoppedBy;

    public Termination()
    {
        _sigInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _cancel.Token;

    /// <summary>Completes with the signal's exit code (130 or 143) once the grace after it has passed, or at a second signal.</summary>
    public Task<int> GraceOver => _graceOver.Task;

    /// <summary>
    /// The first signal as an operator names it: "Ctrl-C" for SIGINT, "SIGTERM" (a service manager's or `kill`'s stop);
    /// null before any signal. Set before <see cref="Token"/> is cancelled.
    /// </summary>
    public string? StoppedBy => _stoppedBy;

    /// <summary>The grace now (a signal's grace is measured against the latest).</summary>
    public TimeSpan Grace => TimeSpan.FromTicks(Interlocked.Read(ref _graceTicks));

    /// <summary>Gives the command a server's shutdown: the grace becomes the host's window and <see cref="ServerMargin"/>.</summary>
    public void AllowServerShutdown(TimeSpan shutdownTimeout) =>
        Interlocked.Exchange(ref _graceTicks, (shutdownTimeout + ServerMargin).Ticks);

    /// <summary>As <see cref="AllowServerShutdown(TimeSpan)"/>, with the window the server's host was configured with.</summary>
    public void AllowServerShutdown(IServiceProvider server) =>
        AllowServerShutdown(server.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);

    public void Dispose()
    {
        _sigInt.Dispose();
        _sigTerm.Dispose();
        _cancel.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // the process ends when the command has stopped (or its grace is over), not now
        var code = context.Signal == PosixSignal.SIGINT ? SigIntExitCode : SigTermExitCode;
        if (Interlocked.Increment(ref _signals) > 1)
        {
            _graceOver.TrySetResult(code);
            return;
        }

        _stoppedBy = context.Signal == PosixSignal.SIGINT ? "Ctrl-C" : "SIGTERM";
        _ = EndGraceAsync(code);
        _cancel.Cancel();
    }

    private async Task EndGraceAsync(int code)
    {
        var signalled = Stopwatch.GetTimestamp();

        // NOTE: measured again after each wait: a command still building its server when the signal came lengthens the grace later.
        while (Grace - Stopwatch.GetElapsedTime(signalled) is var left && left > TimeSpan.Zero)
        {
            await Task.Delay(left).ConfigureAwait(false);
        }

        _graceOver.TrySetResult(code);
    }
}
