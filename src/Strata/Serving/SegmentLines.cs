namespace Strata.Serving;

/// <summary>
/// A prediction-log segment's lines as UTF-8 bytes, each with the file offset just past it, split as a text reader
/// splits lines (<c>\n</c>, <c>\r</c> or <c>\r\n</c>). Reading bytes rather than text is what lets a reader resume at an
/// offset, and saves decoding each line twice (to text, then back to UTF-8 for the JSON parser).
/// </summary>
internal sealed class SegmentLines : IAsyncDisposable
{
    private static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    private readonly FileStream _file;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start; // the unread bytes are _buffer[_start.._end)
    private int _end;
    private long _bufferOffset; // the file offset of _buffer[0]
    private bool _eof;

    public SegmentLines(string path, long offset)
    {
        _file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read,
            BufferSize = 0, // this class buffers
            Options = FileOptions.SequentialScan,
        });
        _file.Position = offset;
        _bufferOffset = offset;
    }

    /// <summary>The line <see cref="NextAsync"/> found, without its line end; empty when <see cref="TooLong"/>.</summary>
    public ReadOnlyMemory<byte> Line { get; private set; }

    /// <summary>The line was longer than <see cref="PredictionLogReader.MaxLineBytes"/> and was passed over unread.</summary>
    public bool TooLong { get; private set; }

    /// <summary>The file offset just past the line and its line end.</summary>
    public long End { get; private set; }

    /// <summary>Moves to the next line; false at the end of the file.</summary>
    public async ValueTask<bool> NextAsync(CancellationToken cancellationToken)
    {
        TooLong = false;
        var scanned = 0; // unread bytes already known to hold no line end
        while (true)
        {
            var unread = _buffer.AsSpan(_start, _end - _start);
            var at = unread[scanned..].IndexOfAny((byte)'\n', (byte)'\r');
            if (at >= 0)
            {
                at += scanned;

                // NOTE: a \r as the last byte read may be the first half of \r\n; the next byte decides.
                if (unread[at] == '\r' && at + 1 == unread.Length && !_eof)
                {
                    scanned = at;
                    await FillAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var lineEnd = unread[at] == '\r' && at + 1 < unread.Length && unread[at + 1] == '\n' ? 2 : 1;
                return Found(at, lineEnd);
            }

            if (_eof)
            {
                return (unread.Length > 0 || TooLong) && Found(unread.Length, 0);
            }

            if (TooLong || unread.Length > PredictionLogReader.MaxLineBytes)
            {
                // A damaged line: its bytes are let go, and only its end is looked for.
                TooLong = true;
                _bufferOffset += _end;
                _start = _end = 0;
                scanned = 0;
            }
            else
            {
                scanned = unread.Length;
            }

            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync() => _file.DisposeAsync();

    private bool Found(int length, int lineEnd)
    {
        Line = TooLong ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(_start, length);
        _start += length + lineEnd;
        End = _bufferOffset + _start;
        return true;
    }

    /// <summary>Reads more of the file after the unread bytes, moving them to the buffer's start (or growing it) first.</summary>
    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _bufferOffset += _start;
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        var atFileStart = _bufferOffset == 0 && _end == 0;
        var read = await _file.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += read;
        _eof = read == 0;
        if (atFileStart && _buffer.AsSpan(0, _end).StartsWith(Bom))
        {
            _start = Bom.Length; // as a text reader does, a byte order mark is not part of the first line
        }
    }
}
