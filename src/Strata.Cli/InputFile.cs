namespace Strata.Cli;

/// <summary>
/// A data file named on the command line; "-" means standard input, copied to a temporary file first (the readers
/// need random access) and deleted afterwards.
/// </summary>
internal sealed class InputFile : IAsyncDisposable
{
    private readonly bool _temporary;

    private InputFile(string path, bool temporary)
    {
        Path = path;
        _temporary = temporary;
    }

    public string Path { get; }

    public static async Task<InputFile> OpenAsync(string argument, CancellationToken cancellationToken)
    {
        if (argument != "-")
        {
            return new InputFile(argument, temporary: false);
        }

        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"strata-stdin-{Guid.NewGuid():N}.tmp");

        // Ctrl-C may end the process while the copy still waits for input: delete the file as soon as it is asked.
        using var cleanup = cancellationToken.Register(() => File.Delete(path));
        try
        {
            var stdin = Console.OpenStandardInput();
            await using (stdin.ConfigureAwait(false))
            {
                var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                await using (file.ConfigureAwait(false))
                {
                    // NOTE: a read of the console's standard input cannot be cancelled (the token is only checked between
                    // reads), so the wait is: a signal stops the command at once, where it ended only when the grace ran out
                    // (exit 143 after SIGTERM, no "stopped" line). The abandoned read ends with the process.
                    await stdin.CopyToAsync(file, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            File.Delete(path);
            throw;
        }

        return new InputFile(path, temporary: true);
    }

    public ValueTask DisposeAsync()
    {
        if (_temporary)
        {
            File.Delete(Path);
        }

        return ValueTask.CompletedTask;
    }
}
