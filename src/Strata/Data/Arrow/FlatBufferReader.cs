using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Strata.Data.Arrow;

/// <summary>
/// One FlatBuffers buffer from an untrusted input. Every read checks its bounds first, so a hostile buffer can only
/// produce a <see cref="DataFormatException"/> that names the input and the byte offset in it.
/// </summary>
internal sealed class FlatBuffer
{
    private readonly byte[] _data;
    private readonly int _start;
    private readonly string? _input;
    private readonly long _fileOffset;
    private readonly string _what;

    /// <param name="data">Holds the buffer at [start, start + length).</param>
    /// <param name="start">Position of the buffer in <paramref name="data"/>.</param>
    /// <param name="length">Length of the buffer.</param>
    /// <param name="input">Name of the input, for messages.</param>
    /// <param name="fileOffset">Position of the buffer in the input, so messages give file offsets.</param>
    /// <param name="what">What the buffer holds (footer, message), for messages.</param>
    public FlatBuffer(byte[] data, int start, int length, string? input, long fileOffset, string what)
    {
        _data = data;
        _start = start;
        Length = length;
        _input = input;
        _fileOffset = fileOffset;
        _what = what;
    }

    public int Length { get; }

    /// <summary>The root table (a uoffset at position 0).</summary>
    public FlatTable Root() => TableAt(Offset(0));

    public DataFormatException Error(long position, string detail) =>
        new(ErrorCodes.DataMalformed, $"invalid Arrow {_what}: {detail}", Location(position));

    /// <summary>The input location of a position in this buffer.</summary>
    public DataLocation Location(long position) => new(_input, ByteOffset: _fileOffset + position);

    public void Check(long position, long size)
    {
        if (position < 0 || size < 0 || position > Length - size)
        {
            throw Error(Math.Max(0, Math.Min(position, Length)), $"{size} bytes at {position} run past the end of the {Length}-byte buffer");
        }
    }

    public byte ReadByte(int position)
    {
        Check(position, 1);
        return _data[_start + position];
    }

    public ushort ReadUInt16(int position)
    {
        Check(position, 2);
        return BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(_start + position));
    }

    public short ReadInt16(int position)
    {
        Check(position, 2);
        return BinaryPrimitives.ReadInt16LittleEndian(_data.AsSpan(_start + position));
    }

    public int ReadInt32(int position)
    {
        Check(position, 4);
        return BinaryPrimitives.ReadInt32LittleEndian(_data.AsSpan(_start + position));
    }

    public long ReadInt64(int position)
    {
        Check(position, 8);
        return BinaryPrimitives.ReadInt64LittleEndian(_data.AsSpan(_start + position));
    }

    public ReadOnlySpan<byte> Bytes(int position, int length)
    {
        Check(position, length);
        return _data.AsSpan(_start + position, length);
    }

    /// <summary>Follows the uoffset stored at <paramref name="position"/> (relative to itself, always forward).</summary>
    public int Offset(int position)
    {
        Check(position, 4);
        var target = position + (long)BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(_start + position));
        if (target > Length - 4)
        {
            throw Error(position, $"offset to {target} points past the end of the {Length}-byte buffer");
        }

        return (int)target;
    }

    public FlatTable TableAt(int position)
    {
        Check(position, 4);
        var vtable = position - (long)ReadInt32(position);
        if (vtable < 0 || vtable > Length - 4)
        {
            throw Error(position, $"table's vtable at {vtable} lies outside the buffer");
        }

        var vtableLength = ReadUInt16((int)vtable);
        var tableLength = ReadUInt16((int)vtable + 2);
        if (vtableLength < 4 || (vtableLength & 1) != 0 || vtable + vtableLength > Length)
        {
            throw Error(vtable, $"vtable length {vtableLength} is invalid");
        }

        if (tableLength < 4 || position + (long)tableLength > Length)
        {
            throw Error(position, $"table length {tableLength} runs past the end of the buffer");
        }

        return new FlatTable(this, position, (int)vtable, vtableLength, tableLength);
    }

    public FlatVector VectorAt(int position, int elementSize)
    {
        Check(position, 4);
        var count = (uint)ReadInt32(position);
        if (count > (uint)(Length - position - 4) / (uint)elementSize)
        {
            throw Error(position, $"vector of {count} elements of {elementSize} bytes runs past the end of the buffer");
        }

        return new FlatVector(this, position + 4, (int)count, elementSize);
    }

    public string StringAt(int position)
    {
        var vector = VectorAt(position, 1);
        var bytes = Bytes(vector.Start, vector.Count);
        if (!Utf8.IsValid(bytes))
        {
            throw Error(position, "string is not valid UTF-8");
        }

        return Encoding.UTF8.GetString(bytes);
    }
}

/// <summary>A table inside a <see cref="FlatBuffer"/>: fields are found through its vtable, absent ones give defaults.</summary>
internal readonly struct FlatTable
{
    private readonly FlatBuffer _buffer;
    private readonly int _position;
    private readonly int _vtable;
    private readonly int _vtableLength;
    private readonly int _tableLength;

    public FlatTable(FlatBuffer buffer, int position, int vtable, int vtableLength, int tableLength)
    {
        _buffer = buffer;
        _position = position;
        _vtable = vtable;
        _vtableLength = vtableLength;
        _tableLength = tableLength;
    }

    public FlatBuffer Buffer => _buffer;

    public int Position => _position;

    public bool Has(int slot) => FieldPosition(slot, 1) >= 0;

    public long GetInt64(int slot, long defaultValue = 0) => FieldPosition(slot, 8) is var p and >= 0 ? _buffer.ReadInt64(p) : defaultValue;

    public int GetInt32(int slot, int defaultValue = 0) => FieldPosition(slot, 4) is var p and >= 0 ? _buffer.ReadInt32(p) : defaultValue;

    public short GetInt16(int slot, short defaultValue = 0) => FieldPosition(slot, 2) is var p and >= 0 ? _buffer.ReadInt16(p) : defaultValue;

    public byte GetByte(int slot, byte defaultValue = 0) => FieldPosition(slot, 1) is var p and >= 0 ? _buffer.ReadByte(p) : defaultValue;

    public bool GetBool(int slot, bool defaultValue = false) => FieldPosition(slot, 1) is var p and >= 0 ? _buffer.ReadByte(p) != 0 : defaultValue;

    public FlatTable? GetTable(int slot) => FieldPosition(slot, 4) is var p and >= 0 ? _buffer.TableAt(_buffer.Offset(p)) : null;

    public string? GetString(int slot) => FieldPosition(slot, 4) is var p and >= 0 ? _buffer.StringAt(_buffer.Offset(p)) : null;

    /// <summary>A vector field; absent vectors read as empty.</summary>
    public FlatVector GetVector(int slot, int elementSize) =>
        FieldPosition(slot, 4) is var p and >= 0 ? _buffer.VectorAt(_buffer.Offset(p), elementSize) : new FlatVector(_buffer, 0, 0, elementSize);

    public DataFormatException Error(string detail) => _buffer.Error(_position, detail);

    private int FieldPosition(int slot, int size)
    {
        var entry = 4 + (2 * slot);
        if (entry + 2 > _vtableLength)
        {
            return -1;
        }

        var offset = _buffer.ReadUInt16(_vtable + entry);
        if (offset == 0)
        {
            return -1;
        }

        if (offset < 4 || offset + size > _tableLength)
        {
            throw _buffer.Error(_vtable + entry, $"field {slot} at table offset {offset} lies outside the {_tableLength}-byte table");
        }

        return _position + offset;
    }
}

/// <summary>A vector inside a <see cref="FlatBuffer"/>, already checked to lie within it.</summary>
internal readonly record struct FlatVector(FlatBuffer Buffer, int Start, int Count, int ElementSize)
{
    public int ElementPosition(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        return Start + (index * ElementSize);
    }

    public FlatTable TableAt(int index) => Buffer.TableAt(Buffer.Offset(ElementPosition(index)));

    public long Int64At(int index, int fieldOffset = 0) => Buffer.ReadInt64(ElementPosition(index) + fieldOffset);

    public int Int32At(int index, int fieldOffset = 0) => Buffer.ReadInt32(ElementPosition(index) + fieldOffset);
}
