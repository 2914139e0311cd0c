using System.Buffers.Binary;
using System.Text;

namespace Strata.Data.Arrow;

/// <summary>
/// Describes a FlatBuffers table to write: scalar fields by vtable slot, and references to strings, vectors and other
/// tables. <see cref="FlatBufferWriter"/> lays the tree out.
/// </summary>
internal sealed class FlatTableBuilder
{
    internal readonly List<(int Slot, int Size, long Value, object? Child)> Fields = [];

    public FlatTableBuilder Int64(int slot, long value) => Add(slot, 8, value, null);

    public FlatTableBuilder Int32(int slot, int value) => Add(slot, 4, value, null);

    public FlatTableBuilder Int16(int slot, short value) => Add(slot, 2, value, null);

    public FlatTableBuilder Byte(int slot, byte value) => Add(slot, 1, value, null);

    public FlatTableBuilder Bool(int slot, bool value) => Add(slot, 1, value ? 1 : 0, null);

    public FlatTableBuilder Table(int slot, FlatTableBuilder? table) => table is null ? this : Add(slot, 4, 0, table);

    public FlatTableBuilder String(int slot, string? value) => value is null ? this : Add(slot, 4, 0, Encoding.UTF8.GetBytes(value));

    public FlatTableBuilder Tables(int slot, IReadOnlyList<FlatTableBuilder> tables) => Add(slot, 4, 0, tables);

    /// <summary>A vector of structs (or of 8-byte scalars) given as their raw little-endian bytes; elements are 8-byte aligned.</summary>
    public FlatTableBuilder Structs(int slot, byte[] raw, int count) => Add(slot, 4, 0, new StructVector(raw, count));

    private FlatTableBuilder Add(int slot, int size, long value, object? child)
    {
        Fields.Add((slot, size, value, child));
        return this;
    }

    internal sealed record StructVector(byte[] Raw, int Count);
}

/// <summary>
/// Lays out a <see cref="FlatTableBuilder"/> tree front to back: each table, then the objects it refers to, so every
/// uoffset points forward as the format requires. Scalars sit at positions aligned to their size, relative to the start
/// of the buffer, which Arrow places at an 8-byte aligned file offset.
/// </summary>
internal sealed class FlatBufferWriter
{
    private byte[] _buffer = new byte[512];
    private int _length;

    /// <summary>Serializes a root table, padded with zeros to a multiple of <paramref name="padTo"/>.</summary>
    public static byte[] Serialize(FlatTableBuilder root, int padTo = 8)
    {
        var writer = new FlatBufferWriter();
        writer.Reserve(4);
        var rootPosition = writer.WriteTable(root);
        writer.PatchOffset(0, rootPosition);
        var padded = (writer._length + padTo - 1) / padTo * padTo;
        var result = new byte[padded];
        writer._buffer.AsSpan(0, writer._length).CopyTo(result);
        return result;
    }

    private int WriteTable(FlatTableBuilder table)
    {
        var slots = 0;
        var hasInt64 = false;
        foreach (var f in table.Fields)
        {
            slots = Math.Max(slots, f.Slot + 1);
            hasInt64 |= f.Size == 8;
        }

        // Largest fields first, so each lands aligned to its size once the first one is.
        var fields = table.Fields.OrderByDescending(f => f.Size).ToArray();
        var vtableLength = 4 + (2 * slots);
        var vtable = Align(_length, 2);
        var position = Align(vtable + vtableLength, 4);
        if (hasInt64 && (position + 4) % 8 != 0)
        {
            position += 4;
        }

        var fieldOffsets = new int[fields.Length];
        var cursor = position + 4;
        for (var i = 0; i < fields.Length; i++)
        {
            cursor = Align(cursor, fields[i].Size);
            fieldOffsets[i] = cursor - position;
            cursor += fields[i].Size;
        }

        var tableLength = cursor - position;
        Reserve(cursor - _length);
        var span = _buffer.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(span[vtable..], (ushort)vtableLength);
        BinaryPrimitives.WriteUInt16LittleEndian(span[(vtable + 2)..], (ushort)tableLength);
        BinaryPrimitives.WriteInt32LittleEndian(span[position..], position - vtable);
        for (var i = 0; i < fields.Length; i++)
        {
            var (slot, size, value, _) = fields[i];
            BinaryPrimitives.WriteUInt16LittleEndian(span[(vtable + 4 + (2 * slot))..], (ushort)fieldOffsets[i]);
            var at = span[(position + fieldOffsets[i])..];
            switch (size)
            {
                case 8: BinaryPrimitives.WriteInt64LittleEndian(at, value); break;
                case 4: BinaryPrimitives.WriteInt32LittleEndian(at, (int)value); break;
                case 2: BinaryPrimitives.WriteInt16LittleEndian(at, (short)value); break;
                default: at[0] = (byte)value; break;
            }
        }

        for (var i = 0; i < fields.Length; i++)
        {
            if (fields[i].Child is { } child)
            {
                PatchOffset(position + fieldOffsets[i], WriteObject(child));
            }
        }

        return position;
    }

    private int WriteObject(object child)
    {
        switch (child)
        {
            case FlatTableBuilder table:
                return WriteTable(table);
            case byte[] utf8:
            {
                var position = Align(_length, 4);
                Reserve(position + 4 + utf8.Length + 1 - _length);
                BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(position), utf8.Length);
                utf8.CopyTo(_buffer.AsSpan(position + 4));
                return position;
            }

            case IReadOnlyList<FlatTableBuilder> tables:
            {
                var position = Align(_length, 4);
                Reserve(position + 4 + (4 * tables.Count) - _length);
                BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(position), tables.Count);
                for (var i = 0; i < tables.Count; i++)
                {
                    PatchOffset(position + 4 + (4 * i), WriteTable(tables[i]));
                }

                return position;
            }

            case FlatTableBuilder.StructVector structs:
            {
                // The length word comes just before 8-byte aligned elements.
                var position = Align(_length, 4);
                if ((position + 4) % 8 != 0)
                {
                    position += 4;
                }

                Reserve(position + 4 + structs.Raw.Length - _length);
                BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(position), structs.Count);
                structs.Raw.CopyTo(_buffer.AsSpan(position + 4));
                return position;
            }

            default:
                throw new InvalidOperationException($"cannot serialize {child.GetType().Name}");
        }
    }

    private void PatchOffset(int at, int target) => BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(at), (uint)(target - at));

    /// <summary>Extends the written length by <paramref name="bytes"/> zeroed bytes.</summary>
    private void Reserve(int bytes)
    {
        var needed = _length + bytes;
        if (needed > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
        }

        _length = needed;
    }

    private static int Align(int position, int alignment) => (position + alignment - 1) & ~(alignment - 1);
}
