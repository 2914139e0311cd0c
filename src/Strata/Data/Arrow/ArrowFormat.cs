namespace Strata.Data.Arrow;

/// <summary>
/// Constants of the Arrow IPC format: magic, markers and the vtable slots of the Schema.fbs, Message.fbs and File.fbs
/// tables (a slot is the field's position in the table declaration; a union takes two, its type and its value).
/// </summary>
internal static class ArrowFormat
{
    public static ReadOnlySpan<byte> Magic => "ARROW1"u8;

    /// <summary>Precedes the metadata length of every message since Arrow 0.15.</summary>
    public const uint Continuation = 0xFFFFFFFF;

    /// <summary>MetadataVersion.V4, the oldest version whose layout Strata reads.</summary>
    public const short MetadataV4 = 3;

    /// <summary>MetadataVersion.V5, written by Strata.</summary>
    public const short MetadataV5 = 4;

    /// <summary>Alignment of buffers within a body and of bodies within the file (the format asks for 8; 64 suits SIMD).</summary>
    public const int Alignment = 64;

    public static class MessageHeader
    {
        public const byte Schema = 1;
        public const byte DictionaryBatch = 2;
        public const byte RecordBatch = 3;
        public const byte Tensor = 4;
        public const byte SparseTensor = 5;
    }

    public static class TypeId
    {
        public const byte Null = 1;
        public const byte Int = 2;
        public const byte FloatingPoint = 3;
        public const byte Binary = 4;
        public const byte Utf8 = 5;
        public const byte Bool = 6;
        public const byte Decimal = 7;
        public const byte Date = 8;
        public const byte Time = 9;
        public const byte Timestamp = 10;
        public const byte Interval = 11;
        public const byte List = 12;
        public const byte Struct = 13;
        public const byte Union = 14;
        public const byte FixedSizeBinary = 15;
        public const byte FixedSizeList = 16;
        public const byte Map = 17;
        public const byte Duration = 18;
        public const byte LargeBinary = 19;
        public const byte LargeUtf8 = 20;
        public const byte LargeList = 21;
        public const byte RunEndEncoded = 22;
        public const byte BinaryView = 23;
        public const byte Utf8View = 24;
        public const byte ListView = 25;
        public const byte LargeListView = 26;

        public static string Name(byte id) => id switch
        {
            0 => "NONE",
            Null => "Null",
            Int => "Int",
            FloatingPoint => "FloatingPoint",
            Binary => "Binary",
            Utf8 => "Utf8",
            Bool => "Bool",
            Decimal => "Decimal",
            Date => "Date",
            Time => "Time",
            Timestamp => "Timestamp",
            Interval => "Interval",
            List => "List",
            Struct => "Struct",
            Union => "Union",
            FixedSizeBinary => "FixedSizeBinary",
            FixedSizeList => "FixedSizeList",
            Map => "Map",
            Duration => "Duration",
            LargeBinary => "LargeBinary",
            LargeUtf8 => "LargeUtf8",
            LargeList => "LargeList",
            RunEndEncoded => "RunEndEncoded",
            BinaryView => "BinaryView",
            Utf8View => "Utf8View",
            ListView => "ListView",
            LargeListView => "LargeListView",
            _ => $"unknown type {id}",
        };
    }

    public static class Precision
    {
        public const short Half = 0;
        public const short Single = 1;
        public const short Double = 2;
    }

    public static class TimeUnit
    {
        public const short Second = 0;
        public const short Millisecond = 1;
        public const short Microsecond = 2;
        public const short Nanosecond = 3;
    }

    public static class DateUnit
    {
        public const short Day = 0;
        public const short Millisecond = 1;
    }

    public static class CompressionCodec
    {
        public static string Name(byte codec) => codec switch
        {
            0 => "LZ4_FRAME",
            1 => "ZSTD",
            _ => $"codec {codec}",
        };
    }

    /// <summary>Message.fbs: Message.</summary>
    public static class MessageSlot
    {
        public const int Version = 0;
        public const int HeaderType = 1;
        public const int Header = 2;
        public const int BodyLength = 3;
        public const int CustomMetadata = 4;
    }

    /// <summary>Schema.fbs: Schema.</summary>
    public static class SchemaSlot
    {
        public const int Endianness = 0;
        public const int Fields = 1;
        public const int CustomMetadata = 2;
        public const int Features = 3;
    }

    /// <summary>Schema.fbs: Field.</summary>
    public static class FieldSlot
    {
        public const int Name = 0;
        public const int Nullable = 1;
        public const int TypeType = 2;
        public const int Type = 3;
        public const int Dictionary = 4;
        public const int Children = 5;
        public const int CustomMetadata = 6;
    }

    /// <summary>Schema.fbs: DictionaryEncoding.</summary>
    public static class DictionarySlot
    {
        public const int Id = 0;
        public const int IndexType = 1;
        public const int IsOrdered = 2;
        public const int Kind = 3;
    }

    /// <summary>Schema.fbs: KeyValue.</summary>
    public static class KeyValueSlot
    {
        public const int Key = 0;
        public const int Value = 1;
    }

    /// <summary>Slots of the type tables (Int, FloatingPoint, Timestamp, Date): the first two fields.</summary>
    public static class TypeSlot
    {
        public const int IntBitWidth = 0;
        public const int IntIsSigned = 1;
        public const int FloatPrecision = 0;
        public const int TimestampUnit = 0;
        public const int TimestampTimezone = 1;
        public const int DateUnit = 0;
    }

    /// <summary>Message.fbs: RecordBatch.</summary>
    public static class RecordBatchSlot
    {
        public const int Length = 0;
        public const int Nodes = 1;
        public const int Buffers = 2;
        public const int Compression = 3;
        public const int VariadicBufferCounts = 4;
    }

    /// <summary>Message.fbs: DictionaryBatch.</summary>
    public static class DictionaryBatchSlot
    {
        public const int Id = 0;
        public const int Data = 1;
        public const int IsDelta = 2;
    }

    /// <summary>File.fbs: Footer.</summary>
    public static class FooterSlot
    {
        public const int Version = 0;
        public const int Schema = 1;
        public const int Dictionaries = 2;
        public const int RecordBatches = 3;
    }

    /// <summary>FieldNode and Buffer structs are two longs; Block is offset (long), metaDataLength (int, padded), bodyLength (long).</summary>
    public const int FieldNodeSize = 16;

    public const int BufferSize = 16;

    public const int BlockSize = 24;
}
