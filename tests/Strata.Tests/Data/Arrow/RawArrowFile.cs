using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Strata.Data.Arrow;
using static Strata.Data.Arrow.ArrowFormat;

namespace Strata.Tests.Data.Arrow;

/// <summary>
/// Builds Arrow IPC files message by message, with any field types, buffers and flags: the files other writers produce
/// (narrow integers, LargeUtf8, nanosecond timestamps…) and files that are wrong on purpose.
/// </summary>
internal sealed class RawArrowFile
{
    private readonly List<FlatTableBuilder> _fields = [];
    private readonly List<(byte Type, FlatTableBuilder Header, byte[] Body)> _messages = [];

    /// <summary>Set to write a big-endian schema.</summary>
    public bool BigEndian { get; set; }

    public RawArrowFile Field(
        string name, byte typeId, FlatTableBuilder? type = null, bool nullable = true, (long Id, int Bits, bool Signed)? dictionary = null,
        IReadOnlyList<FlatTableBuilder>? children = null, params (string Key, string Value)[] metadata)
    {
        var field = new FlatTableBuilder()
            .String(FieldSlot.Name, name)
            .Bool(FieldSlot.Nullable, nullable)
            .Byte(FieldSlot.TypeType, typeId)
            .Table(FieldSlot.Type, type ?? new FlatTableBuilder())
            .Tables(FieldSlot.Children, children ?? []);
        if (dictionary is { } d)
        {
            field.Table(FieldSlot.Dictionary, new FlatTableBuilder()
                .Int64(DictionarySlot.Id, d.Id)
                .Table(DictionarySlot.IndexType, Int(d.Bits, d.Signed)));
        }

        if (metadata.Length > 0)
        {
            field.Tables(FieldSlot.CustomMetadata, metadata.Select(m => new FlatTableBuilder().String(KeyValueSlot.Key, m.Key).String(KeyValueSlot.Value, m.Value)).ToList());
        }

        _fields.Add(field);
        return this;
    }

    public static FlatTableBuilder Int(int bits, bool signed) => new FlatTableBuilder().Int32(TypeSlot.IntBitWidth, bits).Bool(TypeSlot.IntIsSigned, signed);

    public static FlatTableBuilder Float(short precision) => new FlatTableBuilder().Int16(TypeSlot.FloatPrecision, precision);

    public static FlatTableBuilder TimestampType(short unit, string? zone) =>
        new FlatTableBuilder().Int16(TypeSlot.TimestampUnit, unit).String(TypeSlot.TimestampTimezone, zone);

    public static FlatTableBuilder Date(short unit) => new FlatTableBuilder().Int16(TypeSlot.DateUnit, unit);

    /// <summary>Adds a record batch; <paramref name="buffers"/> in schema order, null for an absent (zero-length) buffer.</summary>
    public RawArrowFile Batch(long length, (long Length, long Nulls)[] nodes, byte[]?[] buffers, FlatTableBuilder? compression = null)
    {
        var (header, body) = RecordBatch(length, nodes, buffers);
        header.Table(RecordBatchSlot.Compression, compression);
        _messages.Add((MessageHeader.RecordBatch, header, body));
        return this;
    }

    /// <summary>Adds a dictionary batch of strings (null entries are null values).</summary>
    public RawArrowFile Dictionary(long id, bool isDelta, params string?[] values)
    {
        var (offsets, data) = Utf8(values);
        var nulls = values.Count(v => v is null);
        var validity = nulls > 0 ? Validity(values.Select(v => v is not null).ToArray()) : null;
        var (batch, body) = RecordBatch(values.Length, [(values.Length, nulls)], [validity, offsets, data]);
        _messages.Add((MessageHeader.DictionaryBatch, new FlatTableBuilder()
            .Int64(DictionaryBatchSlot.Id, id)
            .Table(DictionaryBatchSlot.Data, batch)
            .Bool(DictionaryBatchSlot.IsDelta, isDelta), body));
        return this;
    }

    /// <summary>The file: magic, the stream (schema, messages, end marker), footer, footer length, magic.</summary>
    public byte[] ToFile()
    {
        using var output = new MemoryStream();
        output.Write("ARROW1\0\0"u8);
        var (dictionaries, batches) = WriteStream(output);
        var footer = FlatBufferWriter.Serialize(new FlatTableBuilder()
            .Int16(FooterSlot.Version, MetadataV5)
            .Table(FooterSlot.Schema, Schema())
            .Structs(FooterSlot.Dictionaries, Blocks(dictionaries), dictionaries.Count)
            .Structs(FooterSlot.RecordBatches, Blocks(batches), batches.Count));
        output.Write(footer);
        output.Write(BitConverter.GetBytes(footer.Length));
        output.Write("ARROW1"u8);
        return output.ToArray();
    }

    /// <summary>The streaming format: schema, messages, end marker.</summary>
    public byte[] ToStream()
    {
        using var output = new MemoryStream();
        WriteStream(output);
        return output.ToArray();
    }

    public static byte[] Bytes<T>(params T[] values)
        where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    public static byte[] Validity(params bool[] valid)
    {
        var bits = new byte[(valid.Length + 7) / 8];
        for (var i = 0; i < valid.Length; i++)
        {
            bits[i >> 3] |= (byte)(valid[i] ? 1 << (i & 7) : 0);
        }

        return bits;
    }

    /// <summary>Int32 offsets and UTF-8 data of strings (null = empty).</summary>
    public static (byte[] Offsets, byte[] Data) Utf8(params string?[] values)
    {
        var offsets = new int[values.Length + 1];
        var data = new List<byte>();
        for (var i = 0; i < values.Length; i++)
        {
            data.AddRange(System.Text.Encoding.UTF8.GetBytes(values[i] ?? ""));
            offsets[i + 1] = data.Count;
        }

        return (Bytes(offsets), data.ToArray());
    }

    private FlatTableBuilder Schema() => new FlatTableBuilder()
        .Int16(SchemaSlot.Endianness, (short)(BigEndian ? 1 : 0))
        .Tables(SchemaSlot.Fields, _fields);

    private (List<(long, int, long)> Dictionaries, List<(long, int, long)> Batches) WriteStream(MemoryStream output)
    {
        var dictionaries = new List<(long, int, long)>();
        var batches = new List<(long, int, long)>();
        WriteMessage(output, MessageHeader.Schema, Schema(), []);
        foreach (var (type, header, body) in _messages)
        {
            var block = WriteMessage(output, type, header, body);
            (type == MessageHeader.DictionaryBatch ? dictionaries : batches).Add(block);
        }

        output.Write(BitConverter.GetBytes(-1));
        output.Write(BitConverter.GetBytes(0));
        return (dictionaries, batches);
    }

    private static (long, int, long) WriteMessage(MemoryStream output, byte type, FlatTableBuilder header, byte[] body)
    {
        var start = output.Position;
        var metadata = FlatBufferWriter.Serialize(new FlatTableBuilder()
            .Int16(MessageSlot.Version, MetadataV5)
            .Byte(MessageSlot.HeaderType, type)
            .Table(MessageSlot.Header, header)
            .Int64(MessageSlot.BodyLength, body.Length));
        output.Write(BitConverter.GetBytes(-1));
        output.Write(BitConverter.GetBytes(metadata.Length));
        output.Write(metadata);
        output.Write(body);
        return (start, 8 + metadata.Length, body.Length);
    }

    private static (FlatTableBuilder Header, byte[] Body) RecordBatch(long length, (long Length, long Nulls)[] nodes, byte[]?[] buffers)
    {
        var body = new List<byte>();
        var descriptors = new byte[buffers.Length * 16];
        for (var i = 0; i < buffers.Length; i++)
        {
            var buffer = buffers[i] ?? [];
            BinaryPrimitives.WriteInt64LittleEndian(descriptors.AsSpan(i * 16), body.Count);
            BinaryPrimitives.WriteInt64LittleEndian(descriptors.AsSpan((i * 16) + 8), buffer.Length);
            body.AddRange(buffer);
            while (body.Count % 8 != 0)
            {
                body.Add(0);
            }
        }

        var rawNodes = new byte[nodes.Length * 16];
        for (var i = 0; i < nodes.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(rawNodes.AsSpan(i * 16), nodes[i].Length);
            BinaryPrimitives.WriteInt64LittleEndian(rawNodes.AsSpan((i * 16) + 8), nodes[i].Nulls);
        }

        var header = new FlatTableBuilder()
            .Int64(RecordBatchSlot.Length, length)
            .Structs(RecordBatchSlot.Nodes, rawNodes, nodes.Length)
            .Structs(RecordBatchSlot.Buffers, descriptors, buffers.Length);
        return (header, body.ToArray());
    }

    private static byte[] Blocks(List<(long Offset, int Metadata, long Body)> blocks)
    {
        var raw = new byte[blocks.Count * 24];
        for (var i = 0; i < blocks.Count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 24), blocks[i].Offset);
            BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan((i * 24) + 8), blocks[i].Metadata);
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan((i * 24) + 16), blocks[i].Body);
        }

        return raw;
    }
}

/// <summary>Reads raw files made by <see cref="RawArrowFile"/>.</summary>
internal static class RawArrowFileExtensions
{
    public static Task<Table> ReadAsync(this RawArrowFile file) => ArrowTestData.ReadAsync(file.ToFile());

    public static async Task<Table> ReadStreamAsync(this RawArrowFile file)
    {
        await using var reader = await ArrowStreamReader.OpenAsync(new MemoryStream(file.ToStream()));
        return await reader.ReadTableAsync();
    }
}
