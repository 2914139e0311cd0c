using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Strata.Stores;

namespace Strata.Artifacts;

/// <summary>
/// Content-addressed blobs on the file system: <c>objects/sha256/ab/cdef…</c> under the home folder. The path is built
/// from the digest alone (validated as 64 hex characters), never from anything else a caller says. Writes go to a
/// temporary file, are fsynced, renamed into place and the folder fsynced; reads are verified before a byte is served.
/// </summary>
public sealed class FileArtifactStore : IArtifactStore
{
    private readonly string _objects;
    private readonly string _incoming;

    /// <summary>Opens (creating) the store under <paramref name="root"/> (e.g. the home folder's <c>objects</c>).</summary>
    public FileArtifactStore(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        _objects = Path.Combine(Path.GetFullPath(root), "sha256");
        _incoming = Path.Combine(Path.GetFullPath(root), "incoming");
        Directory.CreateDirectory(_objects);
        Directory.CreateDirectory(_incoming);
    }

    /// <inheritdoc />
    public async Task<BlobInfo> PutAsync(Stream content, long maxBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var temp = Path.Combine(_incoming, $"{Guid.NewGuid():N}.tmp");
        try
        {
            string digest;
            long size = 0;
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[1 << 16];
                while (true)
                {
                    var read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    size += read;
                    if (size > maxBytes)
                    {
                        throw new StrataException(ErrorCodes.DataLimit, $"the artifact is larger than the limit of {maxBytes} bytes");
                    }

                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }

                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
                digest = Convert.ToHexStringLower(hash.GetHashAndReset());
            }

            var target = PathOf(digest);
            var folder = Path.GetDirectoryName(target)!;
            if (!Directory.Exists(folder))
            {
                Directory.CreateDirectory(folder);
                DurableFile.FsyncDirectory(_objects);
            }

            if (File.Exists(target))
            {
                // Same content already stored: keep it, and mark it fresh so garbage collection's grace period covers this use.
                File.Delete(temp);
                File.SetLastWriteTimeUtc(target, DateTime.UtcNow);
            }
            else
            {
                File.Move(temp, target, overwrite: false);
                DurableFile.FsyncDirectory(folder);
            }

            return new BlobInfo(digest, size);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(string digest, CancellationToken cancellationToken = default)
    {
        var path = PathOf(digest);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (FileNotFoundException)
        {
            throw new StrataException(ErrorCodes.NotFound, $"no artifact with digest {digest}");
        }
        catch (DirectoryNotFoundException)
        {
            throw new StrataException(ErrorCodes.NotFound, $"no artifact with digest {digest}");
        }

        try
        {
            // Verify the whole blob before handing out a byte, so a corrupted file is reported, never served.
            var actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
            if (actual != digest)
            {
                throw new StrataException(ErrorCodes.Io, $"artifact {digest} is corrupted on disk (its content hashes to {actual}); it will not be served");
            }

            stream.Position = 0;
            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public Task<long?> GetSizeAsync(string digest, CancellationToken cancellationToken = default)
    {
        var info = new FileInfo(PathOf(digest));
        return Task.FromResult(info.Exists ? info.Length : (long?)null);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<(BlobInfo Blob, DateTimeOffset Written)> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var folder in Directory.EnumerateDirectories(_objects))
        {
            var prefix = Path.GetFileName(folder);
            foreach (var file in Directory.EnumerateFiles(folder))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var digest = prefix + Path.GetFileName(file);
                if (!BlobInfo.IsDigest(digest))
                {
                    continue; // a stray file is not a blob
                }

                var info = new FileInfo(file);
                yield return (new BlobInfo(digest, info.Length), info.LastWriteTimeUtc);
            }

            await Task.Yield();
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(string digest, CancellationToken cancellationToken = default)
    {
        TryDelete(PathOf(digest));
        return Task.CompletedTask;
    }

    /// <summary>Removes temporary files left by writes that crashed (older than an hour, so live writes are untouched).</summary>
    public int CleanIncoming(TimeSpan olderThan)
    {
        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(_incoming, "*.tmp"))
        {
            if (DateTime.UtcNow - File.GetLastWriteTimeUtc(file) > olderThan)
            {
                TryDelete(file);
                removed++;
            }
        }

        return removed;
    }

    private string PathOf(string digest)
    {
        BlobInfo.CheckDigest(digest);
        return Path.Combine(_objects, digest[..2], digest[2..]);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
