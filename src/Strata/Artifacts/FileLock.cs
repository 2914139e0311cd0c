namespace Strata.Artifacts;

/// <summary>
/// An exclusive lock between processes on one file (flock on Linux, a share-none handle on Windows), so a CLI command
/// and a running server on the same home never write one store at the same time.
/// </summary>
internal static class FileLock
{
    /// <summary>Takes the lock now, or returns null when another process (or handle) holds it.</summary>
    public static FileStream? TryAcquire(string path)
    {
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1);
        }
        catch (IOException) when (File.Exists(path))
        {
            return null;
        }
    }

    /// <summary>Waits for the lock (polling), up to <paramref name="timeout"/>.</summary>
    /// <exception cref="StrataException">Still held after the timeout (conflict).</exception>
    public static async Task<FileStream> AcquireAsync(string path, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (TryAcquire(path) is { } held)
            {
                return held;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new StrataException(ErrorCodes.Conflict, $"{what} is locked by another process (waited {timeout.TotalSeconds:0} s for {path})");
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }
}
