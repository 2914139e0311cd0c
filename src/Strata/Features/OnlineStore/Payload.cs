using System.Buffers.Binary;
using System.Text;

namespace Strata.Features.OnlineStore;

/// <summary>Little-endian payload writer over a growable buffer that reserves room for the record header.</summary>
internal sealed class PayloadWriter
{
    private byte[] _buffer;

    public PayloadWriter(int capacity = 4096)
    {
        _buffer = new byte[Math.Max(capacity, 64)];
        Length = LogRecords.HeaderSize;
    }

    public int Length { get; private set; }

    /// <summary>The sealed record: header and payload.</summary>
    public Span<byte> Record => _buffer.AsSpan(0, Length);

    public void Reset() => Length = LogRecords.HeaderSize;

    public void WriteByte(byte value) => Reserve(1)[0] = value;

    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Reserve(4), value);

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value);

    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), value);

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        WriteInt32(bytes.Length);
        bytes.CopyTo(Reserve(bytes.Length));
    }

    /// <summary>A nullable string: length −1 for null.</summary>
    public void WriteString(string? text)
    {
        if (text is null)
        {
            WriteInt32(-1);
            return;
        }

        var count = Encoding.UTF8.GetByteCount(text);
        WriteInt32(count);
        Encoding.UTF8.GetBytes(text, Reserve(count));
    }

    public void Seal() => LogRecords.Seal(Record);

    private Span<byte> Reserve(int count)
    {
        if (Length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + count));
        }

        var span = _buffer.AsSpan(Length, count);
        Length += count;
        return span;
    }
}

/// <summary>Reads what <see cref="PayloadWriter"/> wrote; a read past the end means a record that lies about its content.</summary>
internal ref struct PayloadReader(ReadOnlySpan<byte> payload, string source)
{
    private readonly ReadOnlySpan<byte> _payload = payload;
    private int _at;

    public byte ReadByte() => Take(1)[0];

    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public ReadOnlySpan<byte> ReadBytes()
    {
        var length = ReadInt32();
        return length < 0 ? throw Bad($"negative length {length}") : Take(length);
    }

    public string? ReadString()
    {
        var length = ReadInt32();
        return length switch
        {
            -1 => null,
            < 0 => throw Bad($"negative length {length}"),
            _ => Encoding.UTF8.GetString(Take(length)),
        };
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _payload.Length - _at)
        {
            throw Bad("record is shorter than its content");
        }

        var span = _payload.Slice(_at, count);
        _at += count;
        return span;
    }

    private readonly StrataException Bad(string problem) =>
        new(ErrorCodes.DataMalformed, $"online store file '{source}' holds a malformed record: {problem}");
}
