using System.IO.Compression;
using Microsoft.Win32.SafeHandles;

namespace Strata.Data.Text;

/// <summary>
/// A readable input with random access, so a chunk can be read again by offset (to re-parse a column as string once the
/// whole file has been seen). Gzip and non-seekable streams are first spooled to a temporary file that deletes itself.
/// </summary>
internal sealed class ReadSource : IAsyncDisposable
{
    private readonly SafeFileHandle? _handle;
    private readonly Stream? _stream;
    private readonly SemaphoreSlim _streamLock = new(1, 1);
    private readonly bool _ownsStream;

    private ReadSource(string name, SafeFileHandle handle, long length)
    {
        Name = name;
        _handle = handle;
        Length = length;
    }

    private ReadSource(string name, Stream stream, bool ownsStream)
    {
        Name = name;
        _stream = stream;
        _ownsStream = ownsStream;
        Length = stream.Length;
    }

    /// <summary>The input's name in messages (the file name as the user gave it).</summary>
    public string Name { get; }

    /// <summary>Bytes in the (decompressed) input.</summary>
    public long Length { get; }

    /// <summary>Opens a file; gzip content (by its magic bytes) is decompressed to a temporary file first.</summary>
    public static async Task<ReadSource> OpenAsync(string path, string name, long maxBytes, CancellationToken cancellationToken)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        }
        catch (FileNotFoundException)
        {
            throw new StrataException(ErrorCodes.NotFound, $"{name}: no such file");
        }
        catch (DirectoryNotFoundException)
        {
            throw new StrataException(ErrorCodes.NotFound, $"{name}: no such file");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{name}: cannot be read ({e.Message})");
        }

        var source = new ReadSource(name, handle, RandomAccess.GetLength(handle));
        if (!await source.IsGzipAsync(cancellationToken).ConfigureAwait(false))
        {
            return source;
        }

        await using (source.ConfigureAwait(false))
        {
            var compressed = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (compressed.ConfigureAwait(false))
            {
                var gzip = new GZipStream(compressed, CompressionMode.Decompress);
                await using (gzip.ConfigureAwait(false))
                {
                    return await SpoolAsync(gzip, name, maxBytes, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Wraps a stream: seekable streams are read in place (not owned), others are spooled to a temporary file.</summary>
    public static async Task<ReadSource> FromStreamAsync(Stream stream, string name, long maxBytes, CancellationToken cancellationToken)
    {
        if (stream.CanSeek)
        {
            var buffered = new ReadSource(name, stream, ownsStream: false);
            if (!await buffered.IsGzipAsync(cancellationToken).ConfigureAwait(false))
            {
                return buffered;
            }

            stream.Position = 0;
        }

        // A non-seekable stream: look at two bytes for the gzip magic, then replay them in front of the rest.
        var magic = new byte[2];
        var read = 0;
        while (read < 2)
        {
            var n = await stream.ReadAsync(magic.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        var prefixed = new PrefixStream(magic.AsMemory(0, read), stream);
        if (read == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        {
            var gzip = new GZipStream(prefixed, CompressionMode.Decompress);
            await using (gzip.ConfigureAwait(false))
            {
                return await SpoolAsync(gzip, name, maxBytes, cancellationToken).ConfigureAwait(false);
            }
        }

        return await SpoolAsync(prefixed, name, maxBytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at an offset; fewer only at the end.</summary>
    public async ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        if (_handle is not null)
        {
            while (total < buffer.Length)
            {
                var n = await RandomAccess.ReadAsync(_handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return total;
        }

        await _streamLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _stream!.Position = offset;
            while (total < buffer.Length)
            {
                var n = await _stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return total;
        }
        finally
        {
            _streamLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _handle?.Dispose();
        if (_ownsStream && _stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }

        _streamLock.Dispose();
    }

    private async Task<bool> IsGzipAsync(CancellationToken cancellationToken)
    {
        var magic = new byte[2];
        return await ReadAtAsync(0, magic, cancellationToken).ConfigureAwait(false) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    private static async Task<ReadSource> SpoolAsync(Stream input, string name, long maxBytes, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), $"strata-spool-{Guid.NewGuid():N}.tmp");
        var spool = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            var buffer = new byte[1 << 20];
            long total = 0;
            while (true)
            {
                int n;
                try
                {
                    n = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                }
                catch (InvalidDataException e)
                {
                    throw new DataFormatException(ErrorCodes.DataMalformed, $"corrupt gzip data ({e.Message})", new DataLocation(name, ByteOffset: total));
                }

                if (n == 0)
                {
                    break;
                }

                total += n;
                if (total > maxBytes)
                {
                    throw new DataFormatException(ErrorCodes.DataLimit, $"input is larger than the limit of {maxBytes} bytes", new DataLocation(name));
                }

                await spool.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            }

            await spool.FlushAsync(cancellationToken).ConfigureAwait(false);
            return new ReadSource(name, spool, ownsStream: true);
        }
        catch
        {
            await spool.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Replays bytes already read from a non-seekable stream, then continues with the stream.</summary>
    private sealed class PrefixStream(ReadOnlyMemory<byte> prefix, Stream inner) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (!_prefix.IsEmpty)
            {
                var n = Math.Min(buffer.Length, _prefix.Length);
                _prefix.Span[..n].CopyTo(buffer);
                _prefix = _prefix[n..];
                return n;
            }

            return inner.Read(buffer);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_prefix.IsEmpty)
            {
                var n = Math.Min(buffer.Length, _prefix.Length);
                _prefix.Span[..n].CopyTo(buffer.Span);
                _prefix = _prefix[n..];
                return n;
            }

            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
