using System.Buffers;
using System.Buffers.Binary;
using static Strata.Data.Arrow.ArrowFormat;

namespace Strata.Data.Arrow;

/// <summary>
/// An encapsulated IPC message: its header table and its body, which is either a pooled buffer the message returns on
/// <see cref="Dispose"/> or a view of the input's own memory.
/// </summary>
internal sealed class ArrowMessage : IDisposable
{
    private byte[]? _body;
    private readonly bool _pooled;

    public ArrowMessage(byte headerType, FlatTable header, byte[]? body, int bodyStart, int bodyLength, long bodyOffset, bool pooled)
    {
        HeaderType = headerType;
        Header = header;
        _body = body;
        BodyStart = bodyStart;
        _pooled = pooled;
        BodyLength = bodyLength;
        BodyOffset = bodyOffset;
    }

    public byte HeaderType { get; }

    public FlatTable Header { get; }

    /// <summary>Holds the body at [<see cref="BodyStart"/>, BodyStart + <see cref="BodyLength"/>).</summary>
    public byte[] Body => _body ?? [];

    public int BodyStart { get; }

    public int BodyLength { get; }

    /// <summary>Position of the body in the input, for messages.</summary>
    public long BodyOffset { get; }

    public void Dispose()
    {
        if (_pooled && _body is { Length: > 0 } body)
        {
            ArrayPool<byte>.Shared.Return(body);
        }

        _body = null;
    }
}

/// <summary>
/// Reads encapsulated Arrow IPC messages from a stream, checking every length against the input and the limits before
/// allocating for it, and turning truncation into <see cref="DataFormatException"/>s that name the input and offset.
/// </summary>
internal sealed class ArrowInput
{
    // Without a known length, a body is read in growing chunks so a lying length cannot make us allocate gigabytes.
    private const int UnboundedChunk = 16 << 20;

    private readonly Stream _stream;
    private readonly long _origin;
    private long _consumed;

    public ArrowInput(Stream stream, string? name, ArrowReadOptions options)
    {
        _stream = stream;
        Name = name;
        Options = options;
        _origin = stream.CanSeek ? stream.Position : 0;
    }

    public string? Name { get; }

    public ArrowReadOptions Options { get; }

    /// <summary>Current position relative to where the input started.</summary>
    public long Position => _stream.CanSeek ? _stream.Position - _origin : _consumed;

    /// <summary>Bytes from the start of the input to its end, when the stream knows its length.</summary>
    public long? Length => _stream.CanSeek ? _stream.Length - _origin : null;

    public DataFormatException Malformed(long position, string detail) =>
        new(ErrorCodes.DataMalformed, detail, new DataLocation(Name, ByteOffset: position));

    public void Seek(long position) => _stream.Position = _origin + position;

    /// <summary>Reads exactly <paramref name="count"/> bytes into a new array.</summary>
    public async ValueTask<byte[]> ReadBytesAsync(int count, string what, CancellationToken cancellationToken)
    {
        CheckAvailable(count, what);
        var buffer = new byte[count];
        await FillAsync(buffer.AsMemory(), what, cancellationToken).ConfigureAwait(false);
        return buffer;
    }

    /// <summary>
    /// Reads one message at the current position: continuation marker (or a legacy bare length), metadata length, the
    /// Message flatbuffer and the body. Returns null at the end-of-stream marker or at a clean end of the input.
    /// </summary>
    public async ValueTask<ArrowMessage?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        var start = Position;
        var word = new byte[4];
        if (!await TryFillAsync(word, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var prefix = 4;
        var length = BinaryPrimitives.ReadInt32LittleEndian(word);
        if (length == -1)
        {
            await FillAsync(word, "message length", cancellationToken).ConfigureAwait(false);
            length = BinaryPrimitives.ReadInt32LittleEndian(word);
            prefix = 8;
        }

        if (length == 0)
        {
            return null;
        }

        if (length < 0)
        {
            throw Malformed(start, $"message metadata length {length} is negative");
        }

        if (length > Options.MaxMetadataBytes)
        {
            throw new DataFormatException(
                ErrorCodes.DataLimit,
                $"message metadata of {length} bytes exceeds the limit of {Options.MaxMetadataBytes}",
                new DataLocation(Name, ByteOffset: start));
        }

        var metadata = await ReadBytesAsync(length, "message metadata", cancellationToken).ConfigureAwait(false);
        return await ReadMessageBodyAsync(metadata, 0, length, start + prefix, expectedBodyLength: null, withBody: true, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Reads the message a file footer's block points to, checking it against the block.</summary>
    /// <param name="offset">Where the block's message starts.</param>
    /// <param name="metadataLength">Length of its prefix and metadata.</param>
    /// <param name="bodyLength">Length of its body.</param>
    /// <param name="withBody">False to read only the header (the body is left unread and empty).</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    public async ValueTask<ArrowMessage> ReadBlockAsync(
        long offset, int metadataLength, long bodyLength, bool withBody, CancellationToken cancellationToken)
    {
        Seek(offset);
        var metadata = await ReadBytesAsync(metadataLength, "message metadata", cancellationToken).ConfigureAwait(false);
        var (start, length) = (4, BinaryPrimitives.ReadInt32LittleEndian(metadata));
        if (length == -1 && metadataLength >= 8)
        {
            (start, length) = (8, BinaryPrimitives.ReadInt32LittleEndian(metadata.AsSpan(4)));
        }

        if (length <= 0 || length > metadataLength - start)
        {
            throw Malformed(offset, $"message metadata length {length} does not fit the block's {metadataLength} bytes");
        }

        return await ReadMessageBodyAsync(metadata, start, length, offset + start, bodyLength, withBody, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<ArrowMessage> ReadMessageBodyAsync(
        byte[] metadata, int start, int length, long fileOffset, long? expectedBodyLength, bool withBody, CancellationToken cancellationToken)
    {
        var buffer = new FlatBuffer(metadata, start, length, Name, fileOffset, "message");
        var message = buffer.Root();
        var version = message.GetInt16(MessageSlot.Version);
        if (version < MetadataV4)
        {
            throw new DataFormatException(
                ErrorCodes.DataUnsupported,
                $"Arrow metadata version V{version + 1} (before Arrow 0.8) is not supported",
                new DataLocation(Name, ByteOffset: fileOffset));
        }

        var headerType = message.GetByte(MessageSlot.HeaderType);
        var header = message.GetTable(MessageSlot.Header) ?? throw buffer.Error(message.Position, "message has no header");
        var bodyLength = message.GetInt64(MessageSlot.BodyLength);
        var bodyOffset = Position;
        if (bodyLength < 0 || (expectedBodyLength is { } expected && bodyLength != expected))
        {
            throw buffer.Error(message.Position, $"body length {bodyLength} is invalid" + (expectedBodyLength is { } e ? $" (the footer says {e})" : ""));
        }

        if (bodyLength > Options.MaxBodyBytes)
        {
            throw new DataFormatException(
                ErrorCodes.DataLimit,
                $"message body of {bodyLength} bytes exceeds the limit of {Options.MaxBodyBytes}",
                new DataLocation(Name, ByteOffset: bodyOffset));
        }

        if (bodyLength == 0 || !withBody)
        {
            return new ArrowMessage(headerType, header, null, 0, (int)bodyLength, bodyOffset, pooled: false);
        }

        // NOTE: a memory stream's buffer is read in place; the message only borrows it while the batch is decoded.
        if (_stream is MemoryStream memory && memory.TryGetBuffer(out var segment))
        {
            CheckAvailable(bodyLength, "message body");
            var position = memory.Position;
            memory.Position += bodyLength;
            return new ArrowMessage(headerType, header, segment.Array, segment.Offset + (int)position, (int)bodyLength, bodyOffset, pooled: false);
        }

        var body = await ReadBodyAsync((int)bodyLength, cancellationToken).ConfigureAwait(false);
        return new ArrowMessage(headerType, header, body, 0, (int)bodyLength, bodyOffset, pooled: true);
    }

    private async ValueTask<byte[]> ReadBodyAsync(int count, CancellationToken cancellationToken)
    {
        CheckAvailable(count, "message body");
        if (Length is not null || count <= UnboundedChunk)
        {
            var body = ArrayPool<byte>.Shared.Rent(count);
            try
            {
                await FillAsync(body.AsMemory(0, count), "message body", cancellationToken).ConfigureAwait(false);
                return body;
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(body);
                throw;
            }
        }

        // Unknown length: grow as the data actually arrives, then move into a pooled buffer.
        var chunk = new byte[UnboundedChunk];
        var filled = 0;
        while (filled < count)
        {
            if (filled == chunk.Length)
            {
                Array.Resize(ref chunk, (int)Math.Min(count, (long)chunk.Length * 2));
            }

            var n = Math.Min(chunk.Length, count) - filled;
            await FillAsync(chunk.AsMemory(filled, n), "message body", cancellationToken).ConfigureAwait(false);
            filled += n;
        }

        var pooled = ArrayPool<byte>.Shared.Rent(count);
        chunk.AsSpan(0, count).CopyTo(pooled);
        return pooled;
    }

    private void CheckAvailable(long count, string what)
    {
        if (Length is { } length && count > length - Position)
        {
            throw Malformed(Position, $"the input ends {length - Position} bytes into a {count}-byte {what} (truncated file?)");
        }
    }

    private async ValueTask FillAsync(Memory<byte> buffer, string what, CancellationToken cancellationToken)
    {
        var start = Position;
        var read = await _stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        _consumed += read;
        if (read < buffer.Length)
        {
            throw Malformed(start + read, $"the input ends {read} bytes into a {buffer.Length}-byte {what} (truncated?)");
        }
    }

    /// <summary>Fills the buffer, or returns false when the input ends before its first byte.</summary>
    private async ValueTask<bool> TryFillAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var start = Position;
        var read = await _stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        _consumed += read;
        if (read == 0)
        {
            return false;
        }

        if (read < buffer.Length)
        {
            throw Malformed(start + read, "the input ends inside a message length (truncated?)");
        }

        return true;
    }
}
