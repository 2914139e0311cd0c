using System.Runtime.InteropServices;

namespace Strata.Artifacts;

/// <summary>
/// Crash-safe file replacement: write to a temporary name in the same folder, fsync, rename over the target, fsync the
/// folder. After a crash the target holds either the old or the new content, never a torn mix.
/// </summary>
public static partial class DurableFile
{
    /// <summary>
    /// Deletes the temporary files of writes that a crash interrupted before their rename, for targets in
    /// <paramref name="folder"/> whose names start with <paramref name="namePrefix"/>.
    /// </summary>
    public static void DeleteTemporaries(string folder, string namePrefix)
    {
        foreach (var stale in Directory.EnumerateFiles(folder, Hidden + namePrefix + "*.tmp"))
        {
            File.Delete(stale);
        }
    }

    // A target's temporary files are named ".{target}.{pid}.{guid}.tmp": hidden, and findable by the target's name.
    private const string Hidden = ".";

    /// <summary>Writes a file durably through a callback that fills the stream.</summary>
    public static async Task WriteAsync(string path, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no folder", nameof(path));
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $"{Hidden}{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 1 << 16,
                Options = FileOptions.Asynchronous,
            });
            await using (stream.ConfigureAwait(false))
            {
                await write(stream, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
            FsyncDirectory(folder);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes bytes durably.</summary>
    public static Task WriteAllBytesAsync(string path, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default) =>
        WriteAsync(path, (s, ct) => s.WriteAsync(bytes, ct).AsTask(), cancellationToken);

    /// <summary>Writes UTF-8 text durably.</summary>
    public static Task WriteAllTextAsync(string path, string text, CancellationToken cancellationToken = default) =>
        WriteAllBytesAsync(path, System.Text.Encoding.UTF8.GetBytes(text), cancellationToken);

    /// <summary>
    /// Creates a folder and any missing parents, and flushes each new one's entry in its parent to disk, so a crash
    /// cannot lose the folder under files already made durable in it. An existing folder is left as it is.
    /// </summary>
    public static void CreateDirectory(string folder)
    {
        var full = Path.GetFullPath(folder);
        var missing = new Stack<string>();
        for (var path = full; path is not null && !Directory.Exists(path); path = Path.GetDirectoryName(path))
        {
            missing.Push(path);
        }

        Directory.CreateDirectory(full);
        while (missing.TryPop(out var created))
        {
            if (Path.GetDirectoryName(created) is { } parent)
            {
                FsyncDirectory(parent);
            }
        }
    }

    /// <summary>Flushes a folder's entries (the rename) to disk; a no-op where the OS cannot open folders (Windows).</summary>
    public static void FsyncDirectory(string folder)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return;
        }

        var fd = Native.Open(folder, Native.ORdOnly | Native.ODirectory);
        if (fd < 0)
        {
            throw new IOException($"cannot open folder '{folder}' to flush it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Native.Fsync(fd) != 0)
            {
                throw new IOException($"fsync of folder '{folder}' failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Native.Close(fd);
        }
    }

    /// <summary>What <see cref="Delete"/> found.</summary>
    internal enum Deletion
    {
        /// <summary>This call removed the file.</summary>
        Deleted,

        /// <summary>It was already gone (another process removed it first).</summary>
        Gone,

        /// <summary>It could not be removed; the error says why.</summary>
        Failed,
    }

    /// <summary>
    /// Deletes a file, telling whether this call removed it or it was already gone: on POSIX systems unlink's answer, which
    /// <see cref="File.Delete"/> hides, so processes deleting the same files count each deletion once. Never throws.
    /// </summary>
    internal static Deletion Delete(string path, out string? error)
    {
        error = null;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            if (Native.Unlink(path) == 0)
            {
                return Deletion.Deleted;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Native.ENoEnt)
            {
                return Deletion.Gone;
            }

            error = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
            return Deletion.Failed;
        }

        try
        {
            if (!File.Exists(path))
            {
                return Deletion.Gone;
            }

            File.Delete(path);
            return Deletion.Deleted;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = e.Message;
            return Deletion.Failed;
        }
    }

    /// <summary>
    /// Starts writing a range of an open file to disk without waiting for it (Linux's <c>sync_file_range</c> with
    /// <c>SYNC_FILE_RANGE_WRITE</c>, as PostgreSQL's <c>*_flush_after</c> settings do), so a file written steadily goes to
    /// disk steadily rather than in the kernel's bursts. A hint only: durability still comes from an fsync.
    /// </summary>
    /// <returns>0, or the OS's error number; null where the OS has no such call (nothing was done).</returns>
    internal static int? StartWriteback(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long count)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        return Native.SyncFileRange(file, offset, count, Native.SyncFileRangeWrite) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a stray temp file is harmless and has a recognisable name.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static partial class Native
    {
        public const int ORdOnly = 0;
        public static readonly int ODirectory = OperatingSystem.IsLinux() ? 0x10000 : 0x100000;

        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);

        public const int ENoEnt = 2;

        [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Unlink(string path);

        public const uint SyncFileRangeWrite = 2;

        [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
        public static partial int SyncFileRange(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long count, uint flags);
    }
}
