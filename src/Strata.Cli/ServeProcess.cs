using System.Runtime.InteropServices;
using System.Text;

namespace Strata.Cli;

/// <summary>
/// Runs <c>strata serve</c> under the runtime's dynamic PGO, which every other command runs without (see
/// Strata.Cli.csproj): the setting is read once, when the runtime starts, so the process starts itself again, as the
/// same process (the same id, standard streams and signals), with <c>DOTNET_TieredPGO=1</c>. Measured side by side
/// (docs/serving.md), a warm server then spent a fifth to a third less CPU per prediction.
/// </summary>
internal static partial class ServeProcess
{
    /// <summary>The runtime's setting; when the environment already has it (either value), it is the operator's and is left alone.</summary>
    internal const string PgoVariable = "DOTNET_TieredPGO";

    /// <summary>
    /// Replaces this process's program with itself, started again with the same arguments under
    /// <c>DOTNET_TieredPGO=1</c>. Returns at once when the setting is in the environment already (the started-again
    /// process finds it there) or the platform is not Linux, and returns after a failed exec: the server then runs as it is.
    /// </summary>
    public static void UseDynamicPgo()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(PgoVariable) is not null
            || Environment.GetEnvironmentVariable("COMPlus_TieredPGO") is not null)
        {
            return;
        }

        byte[] commandLine, environ;
        try
        {
            // The arguments and the environment exactly as the process got them, byte for byte (a value that is not UTF-8
            // included): `dotnet Strata.Cli.dll serve …` or the app host's `strata serve …`.
            commandLine = File.ReadAllBytes("/proc/self/cmdline");
            environ = File.ReadAllBytes("/proc/self/environ");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        var arguments = Split(commandLine);
        var environment = Split(environ);
        environment.Add(Encoding.UTF8.GetBytes(PgoVariable + "=1"));
        ForgetDiagnosticsSocket();
        var argv = Native(arguments);
        var envp = Native(environment);
        try
        {
            Console.Out.Flush();
            Console.Error.Flush();
            Execve("/proc/self/exe", argv, envp); // only returns when it failed
        }
        finally
        {
            Free(argv);
            Free(envp);
        }
    }

    /// <summary>
    /// Removes the runtime's diagnostics socket (<c>dotnet-diagnostic-{pid}-{start}-socket</c>), which it only removes on
    /// exit: the runtime started again, with the same process id and start time, wants the same name, and with it taken
    /// it would run without one and leave the old file behind.
    /// </summary>
    private static void ForgetDiagnosticsSocket()
    {
        try
        {
            foreach (var socket in Directory.EnumerateFiles(Path.GetTempPath(), $"dotnet-diagnostic-{Environment.ProcessId}-*-socket"))
            {
                File.Delete(socket);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Diagnostics are a convenience; the server starts without them.
        }
    }

    /// <summary>The NUL-separated strings of /proc/self/cmdline or /proc/self/environ.</summary>
    internal static List<byte[]> Split(ReadOnlySpan<byte> commandLine)
    {
        var arguments = new List<byte[]>();
        while (commandLine.Length > 0)
        {
            var end = commandLine.IndexOf((byte)0);
            if (end < 0)
            {
                end = commandLine.Length;
            }

            arguments.Add(commandLine[..end].ToArray());
            commandLine = commandLine[Math.Min(end + 1, commandLine.Length)..];
        }

        return arguments;
    }

    /// <summary>A NULL-ended array of NUL-ended strings, as execve takes them.</summary>
    private static nint[] Native(List<byte[]> strings)
    {
        var pointers = new nint[strings.Count + 1];
        for (var i = 0; i < strings.Count; i++)
        {
            pointers[i] = Marshal.AllocHGlobal(strings[i].Length + 1);
            Marshal.Copy(strings[i], 0, pointers[i], strings[i].Length);
            Marshal.WriteByte(pointers[i], strings[i].Length, 0);
        }

        return pointers;
    }

    private static void Free(nint[] pointers)
    {
        foreach (var pointer in pointers)
        {
            Marshal.FreeHGlobal(pointer); // the final NULL frees nothing
        }
    }

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Execve(string path, nint[] argv, nint[] envp);
}
