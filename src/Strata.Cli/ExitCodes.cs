namespace Strata.Cli;

/// <summary>What the process exit code means; scripts branch on these, so they never change.</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Ok = 0;

    /// <summary>Strata failed (a bug or an environment problem); the message says what to report.</summary>
    public const int InternalError = 1;

    /// <summary>The command line was wrong (unknown option, missing argument, a command not available yet).</summary>
    public const int Usage = 2;

    /// <summary>The input was wrong: malformed data, a bad schema, a missing file.</summary>
    public const int BadInput = 3;

    /// <summary>The command ran and found problems in the data (validation anomalies).</summary>
    public const int Anomalies = 4;

    /// <summary>Stopped by Ctrl-C (128 + SIGINT, as shells expect).</summary>
    public const int Cancelled = 130;
}
